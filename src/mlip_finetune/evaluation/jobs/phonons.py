"""Phonon jobs: one MACE model in one job, and phonons from externally computed forces.

- :class:`MLPhononMaker`: relax with a MACE model file, then every displaced supercell in the
  same job, with the model loaded once.
- :func:`phonons_from_statics`: assemble phonons from externally computed forces (DFT
  statics of the supercells of :func:`~mlip_finetune.evaluation.phonons.displaced_supercells`).

Both keep the large arrays of their :class:`~mlip_finetune.schemas.evaluation.PhononDocument`
(:data:`PHONON_ARRAYS`) in the job store's additional ``data`` store (atomate2's
``@job(data=...)`` pattern); reading an output with ``load=True`` (what jobflow does when a
later job uses it, and what the report queries do) puts them back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from jobflow import Maker, job

from mlip_finetune.core.relax import Optimizer, relax_structure
from mlip_finetune.evaluation.phonons import (
    DEFAULT_DISPLACEMENT,
    DEFAULT_MESH_LENGTH,
    DEFAULT_T_MAX,
    DEFAULT_T_MIN,
    DEFAULT_T_STEP,
    FcCalculator,
    displaced_supercells,
    phonon_document_from_calculator,
    phonon_document_from_forces,
    phonon_supercell_matrix,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.evaluation import PhononDocument
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_metadata

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: Largest position mismatch (Å) tolerated between a static's structure and the displaced
#: supercell it is supposed to be.
POSITION_TOLERANCE: float = 1e-4

#: Fields of a PhononDocument stored in the job store's ``data`` store, not inline.
PHONON_ARRAYS: tuple[str, ...] = ("mesh_frequencies", "band_frequencies", "dos_frequencies", "dos")

ML_PHONONS_TAG = tag_metadata(JobKind.GPU, Stage.ML_PHONONS)
DFT_PHONONS_TAG = tag_metadata(JobKind.LIGHT, Stage.DFT_PHONONS)


@dataclass
class MLPhononMaker(Maker):
    """Harmonic phonons of one structure with one MACE model file, in one job.

    Parameters
    ----------
    name
        Job name.
    relax
        Relax cell and positions with the model first (FrechetCellFilter, symmetry kept).
    fmax
        Relaxation force threshold (eV/Å).
    max_steps
        Maximum relaxation steps (paper §4.6 uses 2000).
    optimizer
        ASE optimiser, ``"BFGS"`` or ``"FIRE"``.
    supercell_matrix
        3x3 phonopy supercell matrix; ``None`` picks atomate2's cubic supercell with side
        at least ``min_length``.
    min_length
        Minimum supercell side (Å) used when ``supercell_matrix`` is None (paper §4.1: 20 Å).
    displacement
        Finite displacement amplitude (Å).
    mesh
        q-mesh divisions, or a length (Å) converted with phonopy's rule. Pass the same
        integers as the reference so phonon MAEs can be computed.
    fc_calculator
        Force-constant solver, ``"symfc"`` (paper) or ``"traditional"``.
    device
        Torch device for MACE, ``"auto"`` picks CUDA when available.
    t_min, t_max, t_step
        Temperature range (K) of ``PhononDocument.thermal_properties``; default 0…1000 K
        in 10 K steps.
    """

    name: str = "ml phonons"
    relax: bool = True
    fmax: float = 1e-3
    max_steps: int = 2000
    optimizer: Optimizer = "BFGS"
    supercell_matrix: list[list[int]] | None = None
    min_length: float = 20.0
    displacement: float = DEFAULT_DISPLACEMENT
    mesh: list[int] | float = DEFAULT_MESH_LENGTH
    fc_calculator: FcCalculator = "symfc"
    device: str = "auto"
    t_min: float = DEFAULT_T_MIN
    t_max: float = DEFAULT_T_MAX
    t_step: float = DEFAULT_T_STEP

    @job(output_schema=PhononDocument, data=PHONON_ARRAYS, metadata=ML_PHONONS_TAG)
    def make(self, structure: Structure, model_path: str, label: str) -> PhononDocument:
        """Relax (optionally) and compute phonons with a MACE model file.

        Parameters
        ----------
        structure
            Unit cell (Å), preferably primitive.
        model_path
            Plain MACE model file; loaded once for the relaxation and all displacements.
        label
            Stored as ``PhononDocument.label`` (``"foundation"``, ``"transfer"``, …).

        Returns
        -------
        PhononDocument
            Phonons of the (relaxed) structure; ``model_path`` and its sha256 recorded.
        """
        from mlip_finetune.core.calculators import mace_calculator
        from mlip_finetune.core.provenance import sha256_file

        start = time.perf_counter()
        calculator = mace_calculator(model_path, device=self.device)
        if self.relax:
            structure, converged = relax_structure(
                structure,
                calculator,
                fmax=self.fmax,
                max_steps=self.max_steps,
                optimizer=self.optimizer,
            )
            if not converged:
                logger.warning(
                    "%s: relaxation did not reach fmax=%g eV/Å in %d steps",
                    label,
                    self.fmax,
                    self.max_steps,
                )
        matrix = self.supercell_matrix or phonon_supercell_matrix(structure, self.min_length)
        doc = phonon_document_from_calculator(
            structure,
            calculator,
            label,
            matrix,
            displacement=self.displacement,
            mesh=self.mesh,
            fc_calculator=self.fc_calculator,
            t_min=self.t_min,
            t_max=self.t_max,
            t_step=self.t_step,
            model_path=str(model_path),
            model_sha256=sha256_file(model_path),
        )
        # report the relaxation too, not only the displacements
        return doc.model_copy(update={"wall_time_s": time.perf_counter() - start})


@job(output_schema=PhononDocument, data=PHONON_ARRAYS, metadata=DFT_PHONONS_TAG)
def phonons_from_statics(
    structure: Structure,
    supercell_matrix: list[list[int]],
    displacement: float,
    statics: Sequence[StaticDocument],
    *,
    label: str = "dft",
    mesh: list[int] | float = DEFAULT_MESH_LENGTH,
    fc_calculator: FcCalculator = "symfc",
    t_min: float = DEFAULT_T_MIN,
    t_max: float = DEFAULT_T_MAX,
    t_step: float = DEFAULT_T_STEP,
) -> PhononDocument:
    """Phonons from forces computed elsewhere (DFT statics of the displaced supercells).

    The displaced supercells are regenerated with
    :func:`~mlip_finetune.evaluation.phonons.displaced_supercells` (deterministic order) and
    each static is checked to be the supercell at the same index.

    Parameters
    ----------
    structure
        Unit cell the displacements were generated from (Å).
    supercell_matrix
        3x3 phonopy supercell matrix used to generate them.
    displacement
        Displacement amplitude used (Å).
    statics
        One static per displaced supercell, in phonopy's order; forces in eV/Å.
    label
        Stored as ``PhononDocument.label``.
    mesh
        q-mesh divisions or length (Å).
    fc_calculator
        ``"symfc"`` or ``"traditional"``.
    t_min, t_max, t_step
        Temperature range (K) of the thermal properties.

    Returns
    -------
    PhononDocument
        ``wall_time_s`` is the sum of the statics' wall times plus phonopy's time.

    Raises
    ------
    ValueError
        If the number of statics differs from the number of displacements, or a static's
        species or positions (beyond 1e-4 Å) differ from the regenerated supercell.
    """
    phonon, supercells = displaced_supercells(structure, supercell_matrix, displacement)
    # documents read back from a store or a JSON queue may arrive as plain dicts
    statics = [StaticDocument.model_validate(s) for s in statics]
    forces = forces_of_displaced_statics(statics, supercells)
    return phonon_document_from_forces(
        phonon,
        forces,
        label=label,
        mesh=mesh,
        fc_calculator=fc_calculator,
        t_min=t_min,
        t_max=t_max,
        t_step=t_step,
        wall_time_s=float(sum(static.wall_time_s for static in statics)),
    )


def forces_of_displaced_statics(
    statics: Sequence[StaticDocument], supercells: Sequence[Structure]
) -> list[np.ndarray]:
    """Return the forces (eV/Å) of statics checked to be the displaced supercells, in order.

    Parameters
    ----------
    statics
        One static per displaced supercell.
    supercells
        The displaced supercells, in phonopy's order.

    Returns
    -------
    list of numpy.ndarray
        Forces (eV/Å), one (n_atoms, 3) array per static.

    Raises
    ------
    ValueError
        If the numbers differ, or a static's species, cell or positions (beyond 1e-4 Å)
        differ from the supercell at its index.
    """
    if len(statics) != len(supercells):
        raise ValueError(f"{len(statics)} statics for {len(supercells)} displaced supercells")
    for i, (static, supercell) in enumerate(zip(statics, supercells, strict=True)):
        other = static.structure
        if [s.symbol for s in other.species] != [s.symbol for s in supercell.species]:
            raise ValueError(f"static {i} ({static.label!r}): species differ from supercell {i}")
        delta = other.lattice.get_cartesian_coords(
            other.frac_coords
            - supercell.frac_coords
            - np.rint(other.frac_coords - supercell.frac_coords)
        )
        if np.abs(other.lattice.matrix - supercell.lattice.matrix).max() > POSITION_TOLERANCE or (
            np.linalg.norm(delta, axis=1).max() > POSITION_TOLERANCE
        ):
            raise ValueError(
                f"static {i} ({static.label!r}) is not displaced supercell {i}: wrong order, "
                "structure, supercell matrix or displacement"
            )
    return [np.asarray(static.forces, dtype=float) for static in statics]
