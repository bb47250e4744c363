"""Job that generates the fine-tuning configurations of one material (paper §4.2)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from jobflow import Maker, job

from mlip_finetune.data.frames import is_validation_scale, select_energy_spaced_frames
from mlip_finetune.data.perturbations import jitter_lattice, mc_rattle
from mlip_finetune.data.supercells import (
    SupercellProtocol,
    primitive_standard,
    supercell_matrix_for_protocol,
)
from mlip_finetune.data.trajectories import RelaxationTrajectory, relax_trajectory
from mlip_finetune.foundation import UnsupportedElementError, check_model_elements
from mlip_finetune.schemas.data import RelaxationRecord, TrainingDataDocument, TrainingFrame
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job

if TYPE_CHECKING:
    from jobflow import Job
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

__all__ = [
    "FoundationModelMismatchError",
    "TrainingDataMaker",
    "UnsupportedElementError",
    "frame_structures",
    "generate_training_data",
    "make_frame_structures",
]

#: Keys of the training-data document that jobflow writes to the ``data`` additional store
#: (atomate2's ``@job(data=[...])`` pattern): the frames hold one supercell per frame, the
#: bulk of the document. The main document keeps a reference that every reader resolves
#: (``JobStore.query(..., load=True)``, the references of downstream jobs).
DATA_STORE_KEYS: tuple[str, ...] = ("frames",)


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
        return tag_job(new_job, JobKind.GPU, Stage.DATA)

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


@job(output_schema=TrainingDataDocument, data=list(DATA_STORE_KEYS))
def generate_training_data(
    structure: Structure,
    foundation_model_path: str,
    foundation_model_sha256: str,
    maker: TrainingDataMaker,
) -> TrainingDataDocument:
    """Run the fine-tuning data protocol of paper §4.2 with a foundation model.

    The frames (:data:`DATA_STORE_KEYS`) are written to the job store's ``data`` store.

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
    mlip_finetune.data.supercells.SupercellError
        If no supercell of the protocol can be built (not seen for a valid crystal).
    mlip_finetune.data.frames.FrameSelectionError
        If a trajectory is too short for ``n_frames`` frames.
    """
    from mlip_finetune.core.calculators import mace_calculator

    check_model_sha256(foundation_model_path, foundation_model_sha256)
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
        start = perturbed_start(supercell, scale, seed_sequence, maker)
        trajectory = relax_trajectory(start, calculator, fmax=maker.fmax, max_steps=maker.max_steps)
        _log_relaxation(index, len(scales), scale, trajectory)
        relaxations.append(relaxation_record(index, scale, trajectory))
        frames.extend(trajectory_frames(index, scale, trajectory, maker))

    n_validation = sum(frame.split == "validation" for frame in frames)
    return TrainingDataDocument(
        formula=structure.composition.reduced_formula,
        protocol=protocol.value,
        supercell_matrix=matrix.tolist(),
        supercell_lengths_angstrom=[float(x) for x in supercell.lattice.abc],
        supercell_angles_degrees=[float(x) for x in supercell.lattice.angles],
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


def check_model_sha256(model_path: str, expected_sha256: str) -> None:
    """Raise unless a model file has the SHA-256 the job was built with.

    Parameters
    ----------
    model_path
        Model file.
    expected_sha256
        SHA-256 recorded when the flow was built.

    Raises
    ------
    FoundationModelMismatchError
        If the file's SHA-256 differs.
    FileNotFoundError
        If the file does not exist.
    """
    from mlip_finetune.core.provenance import sha256_file

    actual_sha256 = sha256_file(model_path)
    if actual_sha256 != expected_sha256:
        raise FoundationModelMismatchError(
            f"{model_path} has SHA-256 {actual_sha256}, the job expected {expected_sha256}"
        )


def perturbed_start(
    supercell: Structure,
    volume_scale: float,
    seed_sequence: np.random.SeedSequence,
    maker: TrainingDataMaker,
) -> Structure:
    """Return the starting structure of one trajectory: rattle, jitter, then set the volume.

    Parameters
    ----------
    supercell
        Unperturbed supercell (not modified).
    volume_scale
        Relative volume change of this trajectory (fraction).
    seed_sequence
        Seed sequence of this trajectory; its first two states seed the rattle and the jitter.
    maker
        Rattle amplitude (Å), minimum distance (Å) and lattice jitter (fraction).

    Returns
    -------
    pymatgen.core.Structure
        Rattled, jittered structure of volume ``V0·(1 + volume_scale)``.
    """
    rattle_seed, jitter_seed = (int(s) for s in seed_sequence.generate_state(2))
    start = mc_rattle(
        supercell, amplitude=maker.rattle_amplitude, d_min=maker.rattle_d_min, seed=rattle_seed
    )
    start = jitter_lattice(start, maker.lattice_jitter, rng=jitter_seed)
    # The ±2 % jitter of lengths and angles alone changes the volume by up to ~6 %, more than
    # the scaling itself; so the volume is set to V0·(1 + scale) of the unperturbed
    # supercell, making the "-5 … +5 %" labels (and the 0 % validation set) exact.
    return start.scale_lattice(supercell.volume * (1.0 + volume_scale))


def _log_relaxation(
    index: int, n_trajectories: int, volume_scale: float, trajectory: RelaxationTrajectory
) -> None:
    status = "converged" if trajectory.converged else "NOT converged"
    log = logger.info if trajectory.converged else logger.warning
    log(
        f"relaxation {index + 1}/{n_trajectories} (volume {volume_scale:+.1%}): "
        f"{trajectory.n_steps} steps, {status} (max force {trajectory.final_fmax:.2e} eV/Å)"
    )


def relaxation_record(
    index: int, volume_scale: float, trajectory: RelaxationTrajectory
) -> RelaxationRecord:
    """Return the convergence record of one relaxation.

    Parameters
    ----------
    index
        Trajectory index (0-based).
    volume_scale
        Relative volume change of the trajectory (fraction).
    trajectory
        The relaxation.

    Returns
    -------
    RelaxationRecord
        Steps, convergence, final max force (eV/Å), first and last energy (eV).
    """
    return RelaxationRecord(
        trajectory_index=index,
        volume_scale=volume_scale,
        n_steps=trajectory.n_steps,
        converged=trajectory.converged,
        final_fmax=trajectory.final_fmax,
        energy_start=float(trajectory.energies[0]),
        energy_end=float(trajectory.energies[-1]),
    )


def trajectory_frames(
    index: int, volume_scale: float, trajectory: RelaxationTrajectory, maker: TrainingDataMaker
) -> list[TrainingFrame]:
    """Return the energy-spaced frames of one relaxation, with their split.

    Parameters
    ----------
    index
        Trajectory index (0-based).
    volume_scale
        Relative volume change of the trajectory (fraction); the validation scale's
        frames are ``"validation"``, all others ``"train"``.
    trajectory
        The relaxation.
    maker
        Number of frames, energy fraction and validation scale.

    Returns
    -------
    list of TrainingFrame
        ``maker.n_frames`` frames, outermost first.

    Raises
    ------
    mlip_finetune.data.frames.FrameSelectionError
        If the trajectory is too short for ``n_frames`` frames.
    """
    split = (
        "validation"
        if is_validation_scale(volume_scale, maker.validation_volume_scale)
        else "train"
    )
    steps = select_energy_spaced_frames(
        trajectory.energies, n_frames=maker.n_frames, fraction=maker.energy_fraction
    )
    return [
        TrainingFrame(
            structure=trajectory.structures[step],
            trajectory_index=index,
            volume_scale=volume_scale,
            frame_index=frame_index,
            relaxation_step=step,
            foundation_energy=float(trajectory.energies[step]),
            split=split,
        )
        for frame_index, step in enumerate(steps)
    ]


@job
def frame_structures(training_data: object) -> list:
    """Return the structures of a TrainingDataDocument's frames, in order.

    Parameters
    ----------
    training_data
        A :class:`~mlip_finetune.schemas.data.TrainingDataDocument` or its dict.

    Returns
    -------
    list of pymatgen.core.Structure
        One supercell per frame, trajectory-major order (the DFT statics' inputs).
    """
    return [f.structure for f in TrainingDataDocument.model_validate(training_data).frames]


def make_frame_structures(training_data: object) -> Job:
    """Return the job ``"frame structures"`` listing the frames' structures, tagged.

    Parameters
    ----------
    training_data
        Output (reference) of the ``"training data"`` job.

    Returns
    -------
    jobflow.Job
        :func:`frame_structures` named ``"frame structures"``, tagged light / data.
    """
    new_job = frame_structures(training_data)
    new_job.name = "frame structures"
    return tag_job(new_job, JobKind.LIGHT, Stage.DATA)
