"""Job that generates the fine-tuning configurations of one material (paper §4.2)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from jobflow import Maker, job

from mlip_finetune.data.utils import (
    SupercellProtocol,
    is_validation_scale,
    jitter_lattice,
    mc_rattle,
    primitive_standard,
    relax_trajectory,
    select_energy_spaced_frames,
    supercell_matrix_for_protocol,
)
from mlip_finetune.schemas.data import RelaxationRecord, TrainingDataDocument, TrainingFrame

if TYPE_CHECKING:
    from jobflow import Job
    from pymatgen.core import Structure

from mlip_finetune.foundation import UnsupportedElementError, check_model_elements

logger = logging.getLogger(__name__)

__all__ = ["FoundationModelMismatchError", "TrainingDataMaker", "UnsupportedElementError"]


class FoundationModelMismatchError(ValueError):
    """The foundation model file does not have the SHA-256 the job was built with."""


@dataclass
class TrainingDataMaker(Maker):
    """Make the fine-tuning configurations of one material (paper §4.2).

    One rattled configuration per volume scale: MC rattle (hiphive), lattice jitter, volume
    set to V0·(1 + scale) of the unperturbed supercell, fixed-cell FIRE relaxation with the
    foundation model, ``n_frames`` frames equally spaced in energy per trajectory. With the
    defaults this gives the paper's 5 trajectories x
    4 frames = 20 frames, of which the 4 of the 0 % trajectory are validation data.

    Parameters
    ----------
    name
        Job name.
    protocol
        Cell size: primitive standard cell, small (5-10 Å) or large (10-15 Å) cubic supercell.
    rattle_amplitude
        RMS displacement length of the Monte Carlo rattle (Å).
    rattle_d_min
        Hard minimum interatomic distance of the rattle (Å); ``None`` = 0.8 x shortest
        distance.
    lattice_jitter
        Largest relative change of each lattice length and angle (fraction, 0.02 = ±2 %).
    volume_scales
        Relative volume changes, one rattled trajectory each.
    validation_volume_scale
        Volume scale whose trajectory is held out as validation data.
    fmax
        FIRE force threshold (eV/Å); the paper relaxes to 1e-4 eV/Å.
    max_steps
        FIRE step limit per trajectory; 2000 is ample for a 1e-4 eV/Å threshold from a
        0.1 Å rattle, and a trajectory stopped there is recorded as not converged.
    n_frames
        Frames selected per trajectory.
    energy_fraction
        Fraction of the energy drop spanned by the selected frames (0.9 = "until 90 % of
        convergence").
    seed
        Seed of every random choice; same seed, identical frames.
    device
        Torch device of the foundation model (``"auto"``, ``"cpu"``, ``"cuda"``).
    """

    name: str = "training data"
    protocol: SupercellProtocol = SupercellProtocol.SMALL
    rattle_amplitude: float = 0.1
    rattle_d_min: float | None = None
    lattice_jitter: float = 0.02
    volume_scales: tuple[float, ...] = (-0.05, -0.025, 0.0, 0.025, 0.05)
    validation_volume_scale: float = 0.0
    fmax: float = 1e-4
    max_steps: int = 2000
    n_frames: int = 4
    energy_fraction: float = 0.9
    seed: int = 42
    device: str = "auto"

    def make(
        self, structure: Structure, foundation_model_path: str, foundation_model_sha256: str
    ) -> Job:
        """Return the job generating the training data.

        Parameters
        ----------
        structure
            Crystal structure of the material (any cell; the primitive standard cell is used).
        foundation_model_path
            Path to the foundation MACE model file.
        foundation_model_sha256
            SHA-256 of that file; checked when the job runs.

        Returns
        -------
        jobflow.Job
            Job whose output is a :class:`~mlip_finetune.schemas.data.TrainingDataDocument`.

        Raises
        ------
        ValueError
            If a setting is invalid (unknown protocol, validation scale not among the volume
            scales, ``n_frames < 2``, non-positive thresholds, ...).
        """
        self.validate()
        new_job = generate_training_data(
            structure,
            foundation_model_path=str(foundation_model_path),
            foundation_model_sha256=foundation_model_sha256,
            maker=self,
        )
        new_job.name = self.name
        return new_job

    def validate(self) -> None:
        """Check the settings; called by :meth:`make` so bad choices fail at build time.

        Raises
        ------
        ValueError
            Naming the first invalid setting.
        """
        SupercellProtocol(self.protocol)
        self._validate_volume_scales()
        if self.n_frames < 2:  # noqa: PLR2004  (two points define an energy spacing)
            raise ValueError(f"n_frames must be at least 2, got {self.n_frames}")
        if not 0 < self.energy_fraction <= 1:
            raise ValueError(f"energy_fraction must be in (0, 1], got {self.energy_fraction}")
        if self.rattle_amplitude <= 0:
            raise ValueError(f"rattle_amplitude must be positive, got {self.rattle_amplitude}")
        if self.rattle_d_min is not None and self.rattle_d_min <= 0:
            raise ValueError(f"rattle_d_min must be positive or None, got {self.rattle_d_min}")
        if not 0 <= self.lattice_jitter < 0.2:  # noqa: PLR2004  (see jitter_lattice)
            raise ValueError(f"lattice_jitter must be in [0, 0.2), got {self.lattice_jitter}")
        if self.fmax <= 0 or self.max_steps < 1:
            raise ValueError(
                f"fmax must be positive and max_steps >= 1, got {self.fmax}, {self.max_steps}"
            )

    def _validate_volume_scales(self) -> None:
        scales = tuple(self.volume_scales)
        if not scales:
            raise ValueError("volume_scales is empty")
        if len(set(scales)) != len(scales):
            raise ValueError(f"volume_scales has duplicates: {scales}")
        if any(scale <= -1 for scale in scales):
            raise ValueError(f"volume_scales must be > -1, got {scales}")
        if not any(is_validation_scale(s, self.validation_volume_scale) for s in scales):
            raise ValueError(
                f"validation_volume_scale={self.validation_volume_scale} is not one of "
                f"volume_scales={scales}"
            )
        if len(scales) < 2:  # noqa: PLR2004  (one validation + at least one training trajectory)
            raise ValueError("need at least two volume scales: one validation, one training")


@job(output_schema=TrainingDataDocument)
def generate_training_data(
    structure: Structure,
    foundation_model_path: str,
    foundation_model_sha256: str,
    maker: TrainingDataMaker,
) -> TrainingDataDocument:
    """Run the fine-tuning data protocol of paper §4.2 with a foundation model.

    Parameters
    ----------
    structure
        Crystal structure of the material.
    foundation_model_path
        Path to the foundation MACE model file.
    foundation_model_sha256
        Expected SHA-256 of that file.
    maker
        Settings (see :class:`TrainingDataMaker`).

    Returns
    -------
    TrainingDataDocument
        Frames in trajectory-major order, relaxation records and provenance.

    Raises
    ------
    FoundationModelMismatchError
        If the model file's SHA-256 differs from ``foundation_model_sha256``.
    UnsupportedElementError
        If the model does not cover every element of ``structure``.
    mlip_finetune.data.utils.SupercellError
        If the protocol's supercell does not exist for this structure.
    mlip_finetune.data.utils.FrameSelectionError
        If a trajectory is too short for ``n_frames`` frames.
    """
    from mlip_finetune.calculators import mace_calculator
    from mlip_finetune.utils import sha256_file

    actual_sha256 = sha256_file(foundation_model_path)
    if actual_sha256 != foundation_model_sha256:
        raise FoundationModelMismatchError(
            f"{foundation_model_path} has SHA-256 {actual_sha256}, the job expected "
            f"{foundation_model_sha256}"
        )
    start_time = time.perf_counter()
    calculator = mace_calculator(foundation_model_path, device=maker.device)
    check_model_elements(foundation_model_path, [el.Z for el in structure.composition.elements])

    protocol = SupercellProtocol(maker.protocol)
    matrix = supercell_matrix_for_protocol(structure, protocol)
    supercell = primitive_standard(structure).make_supercell(matrix, in_place=False)
    scales = tuple(maker.volume_scales)
    logger.info(
        f"{structure.composition.reduced_formula}: {protocol.value} cell of {len(supercell)} "
        f"atoms, {len(scales)} trajectories"
    )

    seeds = np.random.SeedSequence(maker.seed).spawn(len(scales))
    frames: list[TrainingFrame] = []
    relaxations: list[RelaxationRecord] = []
    for index, (scale, seed_sequence) in enumerate(zip(scales, seeds, strict=True)):
        rattle_seed, jitter_seed = (int(s) for s in seed_sequence.generate_state(2))
        start = mc_rattle(
            supercell,
            amplitude=maker.rattle_amplitude,
            d_min=maker.rattle_d_min,
            seed=rattle_seed,
        )
        start = jitter_lattice(start, maker.lattice_jitter, rng=jitter_seed)
        # The ±2 % jitter of lengths and angles alone changes the volume by up to ~6 %, more
        # than the scaling itself; so the volume is set to V0·(1 + scale) of the unperturbed
        # supercell, making the "-5 … +5 %" labels (and the 0 % validation set) exact.
        start = start.scale_lattice(supercell.volume * (1.0 + scale))
        trajectory = relax_trajectory(start, calculator, fmax=maker.fmax, max_steps=maker.max_steps)
        status = "converged" if trajectory.converged else "NOT converged"
        log = logger.info if trajectory.converged else logger.warning
        log(
            f"relaxation {index + 1}/{len(scales)} (volume {scale:+.1%}): "
            f"{trajectory.n_steps} steps, {status} (max force {trajectory.final_fmax:.2e} eV/Å)"
        )
        relaxations.append(
            RelaxationRecord(
                trajectory_index=index,
                volume_scale=scale,
                n_steps=trajectory.n_steps,
                converged=trajectory.converged,
                final_fmax=trajectory.final_fmax,
                energy_start=float(trajectory.energies[0]),
                energy_end=float(trajectory.energies[-1]),
            )
        )
        split = (
            "validation" if is_validation_scale(scale, maker.validation_volume_scale) else "train"
        )
        steps = select_energy_spaced_frames(
            trajectory.energies, n_frames=maker.n_frames, fraction=maker.energy_fraction
        )
        frames.extend(
            TrainingFrame(
                structure=trajectory.structures[step],
                trajectory_index=index,
                volume_scale=scale,
                frame_index=frame_index,
                relaxation_step=step,
                foundation_energy=float(trajectory.energies[step]),
                split=split,
            )
            for frame_index, step in enumerate(steps)
        )

    n_validation = sum(frame.split == "validation" for frame in frames)
    return TrainingDataDocument(
        formula=structure.composition.reduced_formula,
        protocol=protocol.value,
        supercell_matrix=matrix.tolist(),
        n_atoms_supercell=len(supercell),
        frames=frames,
        relaxations=relaxations,
        n_train=len(frames) - n_validation,
        n_validation=n_validation,
        seed=maker.seed,
        foundation_model_path=str(foundation_model_path),
        foundation_model_sha256=foundation_model_sha256,
        wall_time_s=time.perf_counter() - start_time,
    )
