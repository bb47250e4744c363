"""The search: follow every unstable mode to the phases it leads to (paper §3.5, §4.6)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.core.relax import relax_structure
from mlip_finetune.evaluation.phase_transitions.compare import space_group_info
from mlip_finetune.evaluation.phase_transitions.modes import (
    find_unstable_modes,
    mode_displacement_patterns,
)
from mlip_finetune.evaluation.phase_transitions.scans import (
    calculator_energy_function,
    grid_local_minima,
    scan_mode_subspace,
)
from mlip_finetune.evaluation.phonons import displaced_supercells, model_forces
from mlip_finetune.schemas.phase_transitions import (
    ModeScan,
    NewPhase,
    PhasePathway,
    PhaseTransitionDocument,
    PhaseTransitionSettings,
    UnstableMode,
)
from mlip_finetune.units import EV_TO_MEV

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from ase.calculators.calculator import Calculator
    from phonopy import Phonopy
    from pymatgen.core import Structure

    from mlip_finetune.evaluation.phase_transitions.scans import EnergyFunction

logger = logging.getLogger(__name__)


def phonopy_from_calculator(
    structure: Structure,
    calculator: Calculator,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]],
    *,
    displacement: float = 0.01,
    fc_calculator: str = "symfc",
) -> Phonopy:
    """Phonopy object with force constants from an ASE calculator.

    Uses :func:`~mlip_finetune.evaluation.phonons.displaced_supercells` and
    :func:`~mlip_finetune.evaluation.phonons.model_forces`, then phonopy's
    ``produce_force_constants`` (symfc by default, paper §4.1).

    Parameters
    ----------
    structure
        Relaxed unit cell (Å); phonopy's primitive cell.
    calculator
        ASE calculator giving forces (eV/Å).
    supercell_matrix
        Phonon supercell, 3×3 (or 3 diagonal entries) in phonopy's convention.
    displacement
        Finite displacement (Å).
    fc_calculator
        ``"symfc"`` or ``"traditional"``.

    Returns
    -------
    phonopy.Phonopy
        With force constants and its dynamical matrix set.
    """
    phonon, supercells = displaced_supercells(structure, supercell_matrix, displacement)
    phonon.forces = np.asarray(model_forces(supercells, calculator), dtype=float)
    phonon.produce_force_constants(fc_calculator=fc_calculator, show_drift=False)
    return phonon


def _energy_per_atom(structure: Structure, calculator: Calculator) -> float:
    return calculator_energy_function(calculator)([structure])[0] / len(structure)


def search_phase_transitions(
    phonon: Phonopy,
    calculator: Calculator,
    label: str,
    *,
    settings: PhaseTransitionSettings | None = None,
    energy_function: EnergyFunction | None = None,
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> PhaseTransitionDocument:
    """Follow every unstable mode to the phases it leads to (paper §3.5, §4.6, SI 7.6).

    For each subspace of :func:`find_unstable_modes` with a supercell under the atom limit:
    patterns (:func:`mode_displacement_patterns`), grid energies
    (:func:`scan_mode_subspace`), local minima (:func:`grid_local_minima`). Minima of one scan
    with the same displaced space group and energy (``minimum_energy_tolerance``) are
    symmetry-equivalent and relaxed once. Each relaxation starts from the displaced grid
    structure and keeps its symmetry (:func:`~mlip_finetune.evaluation.phonons.relax_structure`:
    ASE FixSymmetry, FrechetCellFilter, positions and cell, ``fmax`` 5 meV/Å, 2000 steps).
    The final space group and primitive-cell size come from spglib at ``symprec`` (0.1 Å).
    Phases with the initial structure's key are not new (SI 7.6 Eq. 8–9); the rest are merged
    by key, keeping the largest energy gain.

    Parameters
    ----------
    phonon
        Phonopy object with force constants for the relaxed, undistorted unit cell.
    calculator
        ASE calculator for relaxations (forces eV/Å, stress eV/Å³) and the energy gains.
    label
        Name stored in the document (``"dft"``, ``"foundation"``, …).
    settings
        Search parameters; the paper's when ``None``.
    energy_function
        Maps structures to total energies (eV) for the grid scans; ``calculator`` when
        ``None`` (:func:`calculator_energy_function`).
    model_path, model_sha256
        Recorded in the document.

    Returns
    -------
    PhaseTransitionDocument
        Unstable modes, grid scans, every relaxation, the new phases and their keys.

    Raises
    ------
    ValueError
        If ``phonon`` has no force constants.
    """
    from pymatgen.io.phonopy import get_pmg_structure

    start_time = time.perf_counter()
    settings = settings or PhaseTransitionSettings()
    energy_function = energy_function or calculator_energy_function(calculator)
    initial = get_pmg_structure(phonon.primitive)
    initial_symbol, initial_number, initial_n_prim = space_group_info(initial, settings.symprec)
    reference = _energy_per_atom(initial, calculator)

    modes = find_unstable_modes(phonon, settings)
    scans, pathways, structures = [], [], []
    for mode in modes:
        if mode.skipped is not None:
            logger.info(f"skipping {mode.label} {mode.qpoint}: {mode.skipped}")
            continue
        scan, grid = _scan_mode(phonon, mode, energy_function, settings)
        scans.append(scan)
        for pathway, relaxed in _relax_minima(
            mode,
            grid,
            calculator,
            settings,
            reference=reference,
            initial_key=(initial_number, initial_n_prim),
        ):
            pathways.append(pathway)
            structures.append(relaxed)

    new_phases = _merge_new_phases(pathways, structures)
    return PhaseTransitionDocument(
        label=label,
        structure=initial,
        initial_space_group_symbol=initial_symbol,
        initial_space_group_number=initial_number,
        initial_n_primitive_atoms=initial_n_prim,
        settings=settings,
        unstable_modes=modes,
        scans=scans,
        pathways=pathways,
        new_phases=new_phases,
        phase_keys=sorted({phase.key for phase in new_phases}),
        wall_time_s=time.perf_counter() - start_time,
        model_path=model_path,
        model_sha256=model_sha256,
    )


@dataclass
class _ModeGrid:
    """A scanned subspace: supercell, patterns, axis values (Å), energies (eV/atom), minima."""

    supercell: Structure
    patterns: np.ndarray
    amplitudes: np.ndarray
    per_atom: np.ndarray
    minima: list[tuple[int, ...]]


def _scan_mode(
    phonon: Phonopy,
    mode: UnstableMode,
    energy_function: EnergyFunction,
    settings: PhaseTransitionSettings,
) -> tuple[ModeScan, _ModeGrid]:
    """Patterns, grid energies and local minima of one unstable subspace."""
    supercell, patterns, norms = mode_displacement_patterns(
        phonon, mode.qpoint, mode.band_indices, mode.supercell_matrix
    )
    n_points = settings.grid_points[len(patterns)]
    amplitudes, energies = scan_mode_subspace(
        supercell,
        patterns,
        energy_function,
        n_points=n_points,
        max_amplitude=settings.max_amplitude,
        batch_size=settings.batch_size,
    )
    per_atom = energies / len(supercell)
    origin = per_atom[(n_points // 2,) * len(patterns)]
    minima = grid_local_minima(per_atom)
    scan = ModeScan(
        qpoint=mode.qpoint,
        label=mode.label,
        band_indices=mode.band_indices,
        supercell_matrix=mode.supercell_matrix,
        n_atoms=len(supercell),
        amplitudes=amplitudes.tolist(),
        mass_weighted_norms=norms.tolist(),
        grid_shape=list(per_atom.shape),
        energies=((per_atom - origin) * EV_TO_MEV).ravel().tolist(),
        reference_energy=float(origin),
        minima=[amplitudes[list(index)].tolist() for index in minima],
        minima_on_boundary=[any(i in (0, n_points - 1) for i in index) for index in minima],
    )
    return scan, _ModeGrid(supercell, patterns, amplitudes, per_atom, minima)


def _relax_minima(
    mode: UnstableMode,
    grid: _ModeGrid,
    calculator: Calculator,
    settings: PhaseTransitionSettings,
    *,
    reference: float,
    initial_key: tuple[int, int],
) -> Iterator[tuple[PhasePathway, Structure]]:
    """Relax each inequivalent grid minimum keeping its symmetry; yield pathway and result.

    Minima with the same displaced space group and energy (``minimum_energy_tolerance``,
    eV/atom) are symmetry-equivalent and relaxed once; ``reference`` is the initial
    structure's energy (eV/atom).
    """
    from pymatgen.core import Structure

    supercell = grid.supercell
    relaxed_here: list[tuple[int, float]] = []
    for index in grid.minima:
        c = grid.amplitudes[list(index)]
        displaced = Structure(
            supercell.lattice,
            supercell.species,
            supercell.cart_coords + np.tensordot(c, grid.patterns, axes=1),
            coords_are_cartesian=True,
        )
        d_symbol, d_number, _ = space_group_info(displaced, settings.displaced_symprec)
        if any(
            number == d_number
            and abs(energy - grid.per_atom[index]) <= settings.minimum_energy_tolerance
            for number, energy in relaxed_here
        ):
            continue
        relaxed_here.append((d_number, float(grid.per_atom[index])))
        relaxed, converged = relax_structure(
            displaced,
            calculator,
            fmax=settings.fmax,
            max_steps=settings.max_steps,
            optimizer=settings.optimizer,
            fix_symmetry=True,
        )
        symbol, number, n_prim = space_group_info(relaxed, settings.symprec)
        gain = (reference - _energy_per_atom(relaxed, calculator)) * EV_TO_MEV
        pathway = PhasePathway(
            qpoint=mode.qpoint,
            label=mode.label,
            start_amplitudes=c.tolist(),
            displaced_space_group_symbol=d_symbol,
            displaced_space_group_number=d_number,
            final_space_group_symbol=symbol,
            final_space_group_number=number,
            n_primitive_atoms=n_prim,
            n_atoms=len(relaxed),
            energy_gain=gain,
            converged=converged,
            is_new=(number, n_prim) != initial_key,
        )
        yield pathway, relaxed


def _merge_new_phases(pathways: list[PhasePathway], structures: list[Structure]) -> list[NewPhase]:
    """Merge new phases by key, keeping the largest energy gain and every q leading there."""
    merged: dict[tuple[int, int], NewPhase] = {}
    for pathway, structure in zip(pathways, structures, strict=True):
        if not pathway.is_new:
            continue
        key = (pathway.final_space_group_number, pathway.n_primitive_atoms)
        phase = merged.get(key)
        if phase is None:
            merged[key] = NewPhase(
                space_group_symbol=pathway.final_space_group_symbol,
                space_group_number=pathway.final_space_group_number,
                n_primitive_atoms=pathway.n_primitive_atoms,
                energy_gain=pathway.energy_gain,
                qpoints=[pathway.qpoint],
                labels=[pathway.label],
                structure=structure,
            )
            continue
        if pathway.qpoint not in phase.qpoints:
            phase.qpoints.append(pathway.qpoint)
            phase.labels.append(pathway.label)
        if pathway.energy_gain > phase.energy_gain:
            phase.energy_gain = pathway.energy_gain
            phase.structure = structure
    return sorted(merged.values(), key=lambda phase: -phase.energy_gain)


def phase_transitions_from_calculator(
    structure: Structure,
    calculator: Calculator,
    label: str,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]],
    *,
    settings: PhaseTransitionSettings | None = None,
    displacement: float = 0.01,
    fc_calculator: str = "symfc",
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> PhaseTransitionDocument:
    """Phonons and the phase-transition search with one ASE calculator.

    :func:`phonopy_from_calculator` followed by :func:`search_phase_transitions`.

    Parameters
    ----------
    structure
        Relaxed unit cell (Å).
    calculator
        ASE calculator (forces eV/Å, stress eV/Å³, energy eV).
    label
        Name stored in the document.
    supercell_matrix
        Phonon supercell (phonopy convention); its commensurate q-points are exact.
    settings
        Search parameters; the paper's when ``None``.
    displacement
        Finite displacement for the force constants (Å).
    fc_calculator
        ``"symfc"`` or ``"traditional"``.
    model_path, model_sha256
        Recorded in the document.

    Returns
    -------
    PhaseTransitionDocument
        See :func:`search_phase_transitions`; the wall time includes the phonons.
    """
    start = time.perf_counter()
    phonon = phonopy_from_calculator(
        structure,
        calculator,
        supercell_matrix,
        displacement=displacement,
        fc_calculator=fc_calculator,
    )
    doc = search_phase_transitions(
        phonon,
        calculator,
        label,
        settings=settings,
        model_path=model_path,
        model_sha256=model_sha256,
    )
    doc.wall_time_s = time.perf_counter() - start
    return doc
