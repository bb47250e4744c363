"""Phase-transition search jobs with a calculator that runs a DFT code per call."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jobflow import job

from mlip_finetune.dft.calculator import DFTEngineCalculator
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.jobs.phonons import forces_of_displaced_statics
from mlip_finetune.evaluation.phase_transitions import search_phase_transitions
from mlip_finetune.evaluation.phonons import (
    DEFAULT_DISPLACEMENT,
    FcCalculator,
    displaced_supercells,
    model_forces,
    phonon_supercell_matrix,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_metadata
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)


@job(
    output_schema=PhaseTransitionDocument,
    metadata=tag_metadata(JobKind.DFT, Stage.PROPERTIES),
)
def dft_phase_transitions(
    equilibrium: StaticDocument,
    settings: DFTSettings,
    search_settings: PhaseTransitionSettings,
    *,
    supercell_matrix: list[list[int]] | None = None,
    min_length: float = 20.0,
    displacement: float = DEFAULT_DISPLACEMENT,
    fc_calculator: FcCalculator = "symfc",
    phonon_statics: Sequence[StaticDocument] | None = None,
) -> PhaseTransitionDocument:
    """Phase-transition search with DFT energies and relaxations, in one job.

    :func:`~mlip_finetune.evaluation.phase_transitions.search_phase_transitions` with a
    :class:`DFTEngineCalculator`: every grid energy, every ionic step of the symmetry-kept
    relaxations of the minima and the reference energy is one DFT static, run through the
    engine's Python API in a sub-directory of the job's directory.

    Cost (DFT statics): the phonons (one per displaced supercell, none if
    ``phonon_statics`` are given), plus for each scanned unstable subspace of dimension d
    ``grid_points[d]**d`` grid points (21, 441, 729, 2401 with the paper's grids), plus one
    static per relaxation step of each inequivalent grid minimum (up to ``max_steps``),
    plus 2 per relaxation for the energy gain. A 3-D mode alone is ~700 supercell statics:
    hours to days on a cluster node, which is why :class:`DFTPropertiesMaker` leaves this
    off by default. With GPAW each static is a worker subprocess (a few seconds start-up).

    Parameters
    ----------
    equilibrium
        StaticDocument of the relaxed unit cell.
    settings
        DFT settings (the flow's single :class:`~mlip_finetune.dft.settings.DFTSettings`).
    search_settings
        Search parameters (paper's by default).
    supercell_matrix
        Phonon supercell (phonopy); ``None`` takes the cubic one of side ≥ ``min_length``.
    min_length
        Minimum supercell side (Å).
    displacement
        Finite displacement (Å).
    fc_calculator
        ``"symfc"`` or ``"traditional"``.
    phonon_statics
        DFT statics of the displaced supercells of this structure, matrix and displacement
        (as the flow's DFT phonons computed them); ``None`` computes them here.

    Returns
    -------
    PhaseTransitionDocument
        Labelled ``"dft"``; ``wall_time_s`` covers the whole job.

    Raises
    ------
    ValueError
        If ``phonon_statics`` are not the displaced supercells, in phonopy's order.
    DFTCalculationError
        If a DFT calculation fails.
    """
    from mlip_finetune.dft.jobs import as_structure

    equilibrium = StaticDocument.model_validate(equilibrium)
    settings = DFTSettings.model_validate(settings)
    calculator = DFTEngineCalculator(settings, Path.cwd() / "phase_transitions")
    return phase_transitions_with_calculator(
        as_structure(equilibrium.structure),
        calculator,
        search_settings,
        supercell_matrix=supercell_matrix,
        min_length=min_length,
        displacement=displacement,
        fc_calculator=fc_calculator,
        phonon_statics=phonon_statics,
    )


def phase_transitions_with_calculator(
    structure: Structure,
    calculator: Calculator,
    search_settings: PhaseTransitionSettings,
    *,
    label: str = "dft",
    supercell_matrix: list[list[int]] | None = None,
    min_length: float = 20.0,
    displacement: float = DEFAULT_DISPLACEMENT,
    fc_calculator: FcCalculator = "symfc",
    phonon_statics: Sequence[StaticDocument] | None = None,
) -> PhaseTransitionDocument:
    """Phonons, then the phase-transition search, with one calculator that runs a code per call.

    The body of :func:`dft_phase_transitions` (GPAW, :class:`DFTEngineCalculator`) and of
    :func:`mlip_finetune.dft.vasp.vasp_phase_transitions` (VASP through atomate2,
    :class:`~mlip_finetune.dft.vasp.VaspStaticCalculator`).

    Parameters
    ----------
    structure
        Relaxed unit cell (Å).
    calculator
        ASE calculator; its ``n_calls`` and ``wall_time`` (s), if present, are logged.
    search_settings
        Search parameters.
    label
        Label of the document.
    supercell_matrix, min_length, displacement, fc_calculator, phonon_statics
        See :func:`dft_phase_transitions`.

    Returns
    -------
    PhaseTransitionDocument
        ``wall_time_s`` covers phonons and search.

    Raises
    ------
    ValueError
        If ``phonon_statics`` are not the displaced supercells, in phonopy's order.
    """
    start = time.perf_counter()
    matrix = supercell_matrix or phonon_supercell_matrix(structure, min_length)
    phonon, supercells = displaced_supercells(structure, matrix, displacement)
    if phonon_statics is None:
        phonon.forces = np.asarray(model_forces(supercells, calculator), dtype=float)
    else:
        statics = [StaticDocument.model_validate(s) for s in phonon_statics]
        phonon.forces = np.asarray(forces_of_displaced_statics(statics, supercells))
    phonon.produce_force_constants(fc_calculator=fc_calculator, show_drift=False)
    doc = search_phase_transitions(
        phonon, calculator, label, settings=PhaseTransitionSettings.model_validate(search_settings)
    )
    logger.info(
        f"{label} phase-transition search: {getattr(calculator, 'n_calls', '?')} statics, "
        f"{getattr(calculator, 'wall_time', 0.0):.0f} s in the code"
    )
    return doc.model_copy(update={"wall_time_s": time.perf_counter() - start})
