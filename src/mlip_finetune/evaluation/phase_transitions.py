"""Displacive phase transitions along imaginary phonon modes (paper §3.5, §4.6, SI 7.6).

The procedure of Togo & Tanaka, Phys. Rev. B 87, 184104 (2013), as the paper applies it:

1. :func:`find_unstable_modes`: frequencies at the high-symmetry points of the seekpath path
   and at the band minima along it; degenerate imaginary modes (below -1e-4 THz) form one
   subspace.
2. :func:`commensurate_supercell_matrix`: the smallest supercell in which the mode's
   Bloch wave is periodic; :func:`mode_displacement_patterns`: the real displacement patterns
   spanning the subspace there, from phonopy's modulation routine.
3. :func:`scan_mode_subspace`: energies on a uniform amplitude grid (21, 21×21, 9×9×9,
   7×7×7×7 points); :func:`grid_local_minima` finds its minima.
4. :func:`search_phase_transitions`: every inequivalent minimum is relaxed keeping its
   symmetry (ASE FixSymmetry), the final space group is found by spglib (0.1 Å), and the new
   phases are collected as ``(space-group number, primitive-cell atoms)`` keys.
5. :func:`compare_phase_sets`: precision, recall and F1 of a model's keys against a
   reference's (paper Table 4).

Conventions
-----------
- q-points are in reduced coordinates of the phonopy primitive cell's reciprocal lattice
  (no 2π); ``phonopy.primitive`` is the input unit cell in this package (see
  :mod:`mlip_finetune.evaluation.phonons`).
- Supercell matrices follow phonopy: supercell lattice *columns* = unit-cell columns @ ``M``,
  so ``q`` is commensurate when ``q @ M`` is integer.
- Amplitude of a displacement pattern: its largest single-atom displacement (Å). The
  normal-coordinate amplitude ``Q = (Σ_j m_j |u_j|²)^½`` over the supercell (Å·√amu, the unit
  of the paper's SI Eq. 7) is ``amplitude × mass_weighted_norm`` of the pattern.
- Energy gain (meV/atom): ``E_initial/N − E_final/N``, positive when the new phase is lower,
  as the ΔE/atom of the paper's SI tables.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

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
    from collections.abc import Callable, Sequence

    from ase.calculators.calculator import Calculator
    from phonopy import Phonopy
    from pymatgen.core import Structure

    #: Maps structures to total energies (eV), one per structure, in order.
    EnergyFunction = Callable[[Sequence[Structure]], Sequence[float]]

logger = logging.getLogger(__name__)

#: Largest distance (in reduced q units) between a q-point and the rational value it is
#: snapped to; beyond it, the q-point needs a larger supercell than allowed.
_RATIONAL_TOLERANCE = 1e-5


def calculator_energy_function(calculator: Calculator) -> EnergyFunction:
    """Wrap an ASE calculator as an energy function for :func:`scan_mode_subspace`.

    Parameters
    ----------
    calculator
        Any ASE calculator returning energies (eV); used for one structure at a time.

    Returns
    -------
    callable
        ``f(structures) -> list[float]``: total energies (eV), in order.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    def energies(structures: Sequence[Structure]) -> list[float]:
        result = []
        for structure in structures:
            atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.calc = calculator
            result.append(float(atoms.get_potential_energy()))
        return result

    return energies


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
    from mlip_finetune.evaluation.phonons import displaced_supercells, model_forces

    phonon, supercells = displaced_supercells(structure, supercell_matrix, displacement)
    phonon.forces = np.asarray(model_forces(supercells, calculator), dtype=float)
    phonon.produce_force_constants(fc_calculator=fc_calculator, show_drift=False)
    return phonon


def rational_qpoint(
    qpoint: Sequence[float], max_denominator: int
) -> tuple[list[Fraction], int] | None:
    """Snap a q-point to fractions and return its order modulo the reciprocal lattice.

    Parameters
    ----------
    qpoint
        q in reduced coordinates, shape (3,).
    max_denominator
        Largest denominator tried (``fractions.Fraction.limit_denominator``).

    Returns
    -------
    tuple or None
        ``(fractions, order)``: the three fractions and the least common multiple ``N`` of
        their denominators (``N·q`` is the first integer multiple, and ``N`` is the number of
        unit cells of the smallest commensurate supercell), or ``None`` when a component is
        farther than 1e-5 from every fraction with a denominator up to ``max_denominator``.

    Raises
    ------
    ValueError
        If ``qpoint`` does not have three components or ``max_denominator`` < 1.
    """
    q = np.asarray(qpoint, dtype=float)
    if q.shape != (3,):
        raise ValueError(f"qpoint must have 3 components, got shape {q.shape}")
    if max_denominator < 1:
        raise ValueError(f"max_denominator must be ≥ 1, got {max_denominator}")
    fractions = [Fraction(float(x)).limit_denominator(max_denominator) for x in q]
    if any(abs(float(f) - x) > _RATIONAL_TOLERANCE for f, x in zip(fractions, q, strict=True)):
        return None
    order = math.lcm(*(f.denominator for f in fractions))
    if order > max_denominator:
        return None
    return fractions, order


def _integer_row_basis(generators: np.ndarray) -> np.ndarray:
    """Basis (3 rows) of the integer lattice spanned by integer rows, by Euclid's algorithm."""
    rows = [[int(x) for x in row] for row in generators]
    basis = []
    for column in range(3):
        while True:
            nonzero = [row for row in rows if row[column] != 0]
            if len(nonzero) <= 1:
                break
            pivot = min(nonzero, key=lambda row: abs(row[column]))
            for row in nonzero:
                if row is not pivot:
                    factor = row[column] // pivot[column]
                    row[:] = [a - factor * b for a, b in zip(row, pivot, strict=True)]
        if nonzero:
            basis.append(nonzero[0])
            rows.remove(nonzero[0])
    return np.array(basis, dtype=int)


def commensurate_supercell_matrix(
    qpoint: Sequence[float],
    lattice: np.ndarray | Sequence[Sequence[float]],
    *,
    max_denominator: int = 1000,
) -> np.ndarray:
    """Smallest supercell in which the Bloch wave of ``qpoint`` is periodic.

    The lattice vectors ``R`` (integer coordinates) with ``q·R ∈ ℤ`` form a sublattice of
    index ``N`` (the order of ``q`` modulo the reciprocal lattice); every commensurate supercell
    is a supercell of it, so it is *the* smallest, unique up to a choice of basis. It is the
    dual of ``ℤ³ + ℤq``: a basis of that lattice comes from integer row reduction of
    ``N·[e1; e2; e3; q]``, its dual basis is ``N·B⁻ᵀ``. The basis returned is the LLL-reduced
    one (pymatgen ``Lattice.lll_mapping``), its vectors ordered and signed to be as diagonal
    and as positive as possible, so that a product supercell comes out diagonal
    (``q = (½, 0, 0)`` gives ``diag(2, 1, 1)``).

    Parameters
    ----------
    qpoint
        q in reduced coordinates, shape (3,).
    lattice
        Unit-cell lattice vectors as rows (Å), shape (3, 3); only used to pick a compact basis.
    max_denominator
        Largest supercell size (unit cells) considered.

    Returns
    -------
    numpy.ndarray
        3×3 integer matrix ``M`` in phonopy's convention with ``det M = N > 0`` and
        ``q @ M`` integer.

    Raises
    ------
    ValueError
        If ``qpoint`` is not rational with a denominator up to ``max_denominator``.
    """
    from pymatgen.core import Lattice

    snapped = rational_qpoint(qpoint, max_denominator)
    if snapped is None:
        raise ValueError(
            f"q = {list(qpoint)} is not commensurate with any supercell of at most "
            f"{max_denominator} unit cells"
        )
    fractions, order = snapped
    numerators = [int(f * order) for f in fractions]
    generators = np.vstack([order * np.eye(3, dtype=int), np.array([numerators], dtype=int)])
    basis = _integer_row_basis(generators)  # rows: basis of N·(ℤ³ + ℤq)
    rows = np.rint(order * np.linalg.inv(basis).T).astype(int)  # rows: the sublattice
    cartesian = rows @ np.asarray(lattice, dtype=float)
    mapping = np.rint(Lattice(cartesian).lll_mapping).astype(int)
    rows = mapping @ rows
    candidates = [
        np.asarray(signs)[:, None] * rows[list(perm)]
        for perm in itertools.permutations(range(3))
        for signs in itertools.product((1, -1), repeat=3)
    ]
    rows = min(  # the most diagonal, least negative basis with a positive determinant
        (c for c in candidates if round(np.linalg.det(c)) > 0),
        key=lambda c: (np.abs(c - np.diag(np.diag(c))).sum(), int((c < 0).sum())),
    )
    q = np.array([float(f) for f in fractions])
    matrix = rows.T
    if not np.allclose(q @ matrix, np.rint(q @ matrix), atol=1e-9):  # pragma: no cover
        raise RuntimeError(f"internal error: {matrix.tolist()} is not commensurate with q={q}")
    return matrix


def _seekpath_points(
    phonon: Phonopy, npoints: int
) -> tuple[dict[str, np.ndarray], list[tuple[str, str, np.ndarray]]]:
    """Seekpath's labelled points and segments in reduced coordinates of phonopy's primitive.

    The same mapping as :func:`mlip_finetune.evaluation.phonons._seekpath_bands`: seekpath's
    primitive lattice rotated back into the input frame, ``q_in = q_s M⁻ᵀ``.
    """
    import seekpath

    primitive = phonon.primitive
    result = seekpath.get_path(primitive.totuple())
    lattice_in = np.asarray(primitive.cell, dtype=float)
    lattice_sp = np.asarray(result["primitive_lattice"]) @ np.asarray(result["rotation_matrix"])
    to_input = np.linalg.inv(lattice_sp @ np.linalg.inv(lattice_in)).T
    points = {
        name.replace("GAMMA", "Γ"): np.asarray(coords, dtype=float) @ to_input
        for name, coords in result["point_coords"].items()
    }
    segments = []
    for start, end in result["path"]:
        q_start = points[start.replace("GAMMA", "Γ")]
        q_end = points[end.replace("GAMMA", "Γ")]
        segments.append(
            (
                start.replace("GAMMA", "Γ"),
                end.replace("GAMMA", "Γ"),
                np.linspace(q_start, q_end, npoints),
            )
        )
    path_labels = {label for segment in segments for label in segment[:2]}
    return {k: v for k, v in points.items() if k in path_labels}, segments


def degenerate_groups(frequencies: Sequence[float], tolerance: float) -> list[list[int]]:
    """Group ascending frequencies into degenerate sets.

    Parameters
    ----------
    frequencies
        Frequencies at one q-point in ascending order (THz), shape (n_bands,).
    tolerance
        Neighbouring frequencies closer than this (THz) share a set (chained).

    Returns
    -------
    list of list of int
        Band indices of each set, in ascending frequency.

    Raises
    ------
    ValueError
        If the frequencies are not ascending or the tolerance is not positive.
    """
    freqs = np.asarray(frequencies, dtype=float)
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance} THz")
    if np.any(np.diff(freqs) < -1e-12):  # noqa: PLR2004
        raise ValueError("frequencies must be in ascending order")
    groups: list[list[int]] = []
    for index, frequency in enumerate(freqs):
        if groups and frequency - freqs[groups[-1][-1]] < tolerance:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _q_key(q: np.ndarray) -> tuple[float, ...]:
    """Key identifying q and -q modulo the reciprocal lattice (same real subspace)."""
    plus = tuple(np.round(np.mod(q + 1e-7, 1.0) - 1e-7, 5))
    minus = tuple(np.round(np.mod(-q + 1e-7, 1.0) - 1e-7, 5))
    return min(plus, minus)


def _candidate_qpoints(
    phonon: Phonopy, settings: PhaseTransitionSettings
) -> dict[tuple[float, ...], tuple[np.ndarray, str, set[int] | None]]:
    """Labelled points (all bands: ``None``) and band minima (their bands), one per ±q."""
    points, segments = _seekpath_points(phonon, settings.band_npoints)
    candidates: dict[tuple[float, ...], tuple[np.ndarray, str, set[int] | None]] = {}
    for label, q in points.items():
        candidates.setdefault(_q_key(q), (q, label, None))
    phonon.run_qpoints(np.vstack([qs for _, _, qs in segments]))
    path_freqs = np.asarray(phonon.qpoints.frequencies, dtype=float)
    offset = 0
    for start, end, qs in segments:
        freqs = path_freqs[offset : offset + len(qs)]
        offset += len(qs)
        below = freqs < settings.imaginary_threshold
        interior_minimum = (freqs[1:-1] < freqs[:-2]) & (freqs[1:-1] <= freqs[2:])
        for i, band in np.argwhere(below[1:-1] & interior_minimum):
            q = qs[i + 1]
            entry = candidates.setdefault(_q_key(q), (q, f"{start}–{end} min", set()))
            if entry[2] is not None:
                entry[2].add(int(band))
    return candidates


def find_unstable_modes(
    phonon: Phonopy, settings: PhaseTransitionSettings | None = None
) -> list[UnstableMode]:
    """Imaginary modes at high-symmetry points and band minima, grouped by degeneracy.

    Paper §4.6 and SI 7.6: "all imaginary modes at high-symmetry points and at minima of the
    phonon bands were considered". The q-points are seekpath's labelled points (the path of
    :mod:`mlip_finetune.evaluation.phonons`) and every interior local minimum of a band along a
    path segment (``band_npoints`` per segment) below the threshold; at a band minimum only the
    subspace containing that band is kept, at a labelled point every imaginary subspace. At Γ
    the three acoustic modes (smallest ``|ω|``) are excluded. q and -q (mod G) count once.
    Each subspace gets its smallest commensurate supercell, or a ``skipped`` reason when that
    has ``supercell_atom_limit`` atoms or more.

    Parameters
    ----------
    phonon
        Phonopy object with force constants (e.g. :func:`phonopy_from_calculator`).
    settings
        Thresholds; the paper's defaults when ``None``.

    Returns
    -------
    list of UnstableMode
        In path order; empty for a dynamically stable structure.

    Raises
    ------
    ValueError
        If ``phonon`` has no force constants.
    """
    settings = settings or PhaseTransitionSettings()
    if phonon.force_constants is None:
        raise ValueError("phonon has no force constants: produce them before the search")
    candidates = _candidate_qpoints(phonon, settings)

    n_prim = len(phonon.primitive)
    max_cells = max(1, (settings.supercell_atom_limit - 1) // n_prim)
    lattice = np.asarray(phonon.primitive.cell, dtype=float)
    modes = []
    for q_raw, label, bands in candidates.values():
        snapped = rational_qpoint(q_raw, max_cells)
        q = np.array([float(f) for f in snapped[0]]) if snapped else np.asarray(q_raw)
        # Ascending (eigvalsh), the band order phonopy's modulation routine uses too.
        freqs = np.asarray(phonon.get_frequencies(q), dtype=float)
        excluded: set[int] = set()
        if np.allclose(q, np.rint(q), atol=1e-8):
            excluded = set(np.argsort(np.abs(freqs))[:3].tolist())
        for group in degenerate_groups(freqs, settings.degeneracy_tolerance):
            group_bands = [b for b in group if b not in excluded]
            if not group_bands or freqs[group_bands].min() >= settings.imaginary_threshold:
                continue
            if bands is not None and not bands.intersection(group_bands):
                continue
            modes.append(
                _unstable_mode(
                    q,
                    label,
                    freqs[group_bands],
                    group_bands,
                    lattice=lattice,
                    n_prim=n_prim,
                    settings=settings,
                )
            )
    return modes


def _unstable_mode(
    q: np.ndarray,
    label: str,
    freqs: np.ndarray,
    bands: list[int],
    *,
    lattice: np.ndarray,
    n_prim: int,
    settings: PhaseTransitionSettings,
) -> UnstableMode:
    """Fill an UnstableMode with its commensurate supercell or the reason it is skipped.

    ``freqs`` are the subspace's frequencies (THz), ``bands`` its band indices at ``q``.
    """
    max_cells = max(1, (settings.supercell_atom_limit - 1) // n_prim)
    is_trim = np.allclose(2 * q, np.rint(2 * q), atol=1e-8)
    dimension = len(bands) if is_trim else 2 * len(bands)
    fields = {
        "qpoint": q.tolist(),
        "label": label,
        "frequency": float(freqs.min()),
        "frequencies": freqs.tolist(),
        "band_indices": bands,
        "degeneracy": len(bands),
        "subspace_dimension": dimension,
    }
    try:
        matrix = commensurate_supercell_matrix(q, lattice, max_denominator=max_cells)
    except ValueError:
        snapped = rational_qpoint(q, 10**6)
        size = f"{snapped[1] * n_prim} atoms" if snapped else "an incommensurate q"
        return UnstableMode(
            **fields,
            skipped=f"commensurate supercell needs {size}, limit < {settings.supercell_atom_limit}",
        )
    n_atoms = round(abs(np.linalg.det(matrix))) * n_prim
    skipped = None
    if dimension not in settings.grid_points:
        skipped = f"no grid for a {dimension}-dimensional subspace (grid_points)"
    return UnstableMode(
        **fields,
        supercell_matrix=matrix.tolist(),
        n_supercell_atoms=n_atoms,
        skipped=skipped,
    )


def mode_displacement_patterns(
    phonon: Phonopy,
    qpoint: Sequence[float],
    band_indices: Sequence[int],
    supercell_matrix: Sequence[Sequence[int]],
) -> tuple[Structure, np.ndarray, np.ndarray]:
    """Real displacement patterns spanning a (degenerate) mode subspace in a supercell.

    Phonopy's modulation routine (``Phonopy.run_modulations`` /
    ``phonopy.phonon.modulation.Modulation``) gives, for each band, the complex Bloch wave
    ``u_j = e_κ(q) exp(2πi q·x_j) / √(N m_j)`` on the supercell atoms ``j``. Its real and
    imaginary parts span the real displacements of the subspace: as many as bands where
    ``q ≡ -q`` (mod G), twice as many elsewhere (the waves at q and -q). An orthonormal basis
    in the mass-weighted metric (``√m_j u_j``) is taken by SVD and made canonical by
    column-pivoted QR (scipy): pattern ``i`` has unit weight on one atomic Cartesian component
    and none on the components chosen for the others (for a cubic crystal: patterns along the
    Cartesian axes). Each pattern is scaled to a largest atomic displacement of 1 Å, its pivot
    component positive.

    Parameters
    ----------
    phonon
        Phonopy object with force constants.
    qpoint
        q in reduced coordinates, shape (3,).
    band_indices
        Bands of the subspace at q (0-based, ascending frequency).
    supercell_matrix
        Commensurate supercell (phonopy convention), e.g. from
        :func:`commensurate_supercell_matrix`.

    Returns
    -------
    supercell : pymatgen.core.Structure
        The undistorted supercell (Å), atoms in phonopy's supercell order.
    patterns : numpy.ndarray
        Shape (dimension, n_atoms, 3), Å per Å of amplitude (largest atom displacement 1).
    mass_weighted_norms : numpy.ndarray
        Shape (dimension,), ``(Σ_j m_j |p_j|²)^½`` of each pattern (Å·√amu).

    Raises
    ------
    ValueError
        If q is not commensurate with the supercell or a band index is out of range.
    """
    import scipy.linalg
    from pymatgen.io.phonopy import get_pmg_structure

    q = np.asarray(qpoint, dtype=float)
    matrix = np.asarray(supercell_matrix, dtype=int)
    if not np.allclose(q @ matrix, np.rint(q @ matrix), atol=1e-6):
        raise ValueError(f"q = {q.tolist()} is not commensurate with {matrix.tolist()}")
    n_bands = 3 * len(phonon.primitive)
    bands = [int(b) for b in band_indices]
    if not bands or min(bands) < 0 or max(bands) >= n_bands:
        raise ValueError(f"band indices must lie in [0, {n_bands}), got {bands}")

    phonon.run_modulations(matrix, [[q, band, 1.0, 0.0] for band in bands])
    modulations, supercell = phonon.get_modulations_and_supercell()
    sqrt_m = np.sqrt(np.asarray(supercell.masses, dtype=float))[:, None]
    vectors = []
    for u in np.asarray(modulations):
        vectors.extend([(u.real * sqrt_m).ravel(), (u.imag * sqrt_m).ravel()])
    is_trim = np.allclose(2 * q, np.rint(2 * q), atol=1e-8)
    dimension = len(bands) if is_trim else 2 * len(bands)
    _, singular, vt = np.linalg.svd(np.asarray(vectors), full_matrices=False)
    if singular[dimension - 1] < 1e-6 * singular[0]:
        raise ValueError(f"modes {bands} at q = {q.tolist()} span fewer than {dimension} patterns")
    basis = vt[:dimension]
    _, _, pivots = scipy.linalg.qr(basis, mode="economic", pivoting=True)
    columns = np.sort(pivots[:dimension])
    canonical = np.linalg.solve(basis[:, columns], basis)  # canonical[:, columns] = identity
    patterns = canonical.reshape(dimension, -1, 3) / sqrt_m[None]
    patterns /= np.linalg.norm(patterns, axis=2).max(axis=1)[:, None, None]
    norms = np.sqrt(np.sum(sqrt_m[None] ** 2 * patterns**2, axis=(1, 2)))
    return get_pmg_structure(supercell), patterns, norms


def scan_mode_subspace(
    supercell: Structure,
    patterns: np.ndarray,
    energy_function: EnergyFunction,
    *,
    n_points: int,
    max_amplitude: float,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Energies on a uniform amplitude grid spanned by displacement patterns (paper §4.6).

    Structure at grid point ``c``: ``x_j = x_j⁰ + Σ_i c_i p_ij`` (Cartesian, Å), cell fixed.

    Parameters
    ----------
    supercell
        Undistorted supercell (Å).
    patterns
        Shape (dimension, n_atoms, 3), from :func:`mode_displacement_patterns`.
    energy_function
        Maps a list of structures to total energies (eV); called with at most ``batch_size``
        structures at a time, so a DFT fan-out can supply them.
    n_points
        Points per axis; odd, so the undistorted structure is the grid centre.
    max_amplitude
        Each axis spans ``[-max_amplitude, max_amplitude]`` (Å).
    batch_size
        Structures per call of ``energy_function``.

    Returns
    -------
    amplitudes : numpy.ndarray
        Shape (n_points,), the axis values (Å).
    energies : numpy.ndarray
        Shape (n_points,)*dimension, total energies (eV), axis ``i`` = pattern ``i``.

    Raises
    ------
    ValueError
        If ``n_points`` is even or < 3, the shapes disagree, or the energy function returns
        the wrong number of energies.
    """
    from pymatgen.core import Structure

    patterns = np.asarray(patterns, dtype=float)
    if n_points < 3 or n_points % 2 == 0:  # noqa: PLR2004
        raise ValueError(f"n_points must be odd and ≥ 3, got {n_points}")
    if patterns.ndim != 3 or patterns.shape[1:] != (len(supercell), 3):  # noqa: PLR2004
        raise ValueError(
            f"patterns must have shape (dimension, {len(supercell)}, 3), got {patterns.shape}"
        )
    if max_amplitude <= 0:
        raise ValueError(f"max_amplitude must be positive, got {max_amplitude} Å")
    dimension = len(patterns)
    amplitudes = np.linspace(-max_amplitude, max_amplitude, n_points)
    points = np.array(list(itertools.product(amplitudes, repeat=dimension)))
    cart = supercell.cart_coords
    energies: list[float] = []
    for start in range(0, len(points), batch_size):
        batch = points[start : start + batch_size]
        structures = [
            Structure(
                supercell.lattice,
                supercell.species,
                cart + np.tensordot(c, patterns, axes=1),
                coords_are_cartesian=True,
            )
            for c in batch
        ]
        values = list(energy_function(structures))
        if len(values) != len(structures):
            raise ValueError(
                f"energy function returned {len(values)} energies for {len(structures)} structures"
            )
        energies.extend(float(v) for v in values)
    return amplitudes, np.asarray(energies).reshape((n_points,) * dimension)


def grid_local_minima(energies: np.ndarray) -> list[tuple[int, ...]]:
    """Grid points strictly lower than all their grid neighbours, origin excluded.

    Neighbours are the up to ``3^d − 1`` points differing by at most one step along every
    axis (diagonals included); points on the grid edge compare with the neighbours that
    exist. The centre (undistorted structure) is never returned.

    Parameters
    ----------
    energies
        Energies on a grid with an odd number of points along every axis, any unit.

    Returns
    -------
    list of tuple of int
        Indices of the minima, lowest energy first.
    """
    from scipy.ndimage import minimum_filter

    values = np.asarray(energies, dtype=float)
    footprint = np.ones((3,) * values.ndim, dtype=bool)
    footprint[(1,) * values.ndim] = False
    neighbours = minimum_filter(values, footprint=footprint, mode="constant", cval=np.inf)
    centre = tuple(n // 2 for n in values.shape)
    minima = [
        tuple(int(i) for i in index)
        for index in np.argwhere(values < neighbours)
        if tuple(index) != centre
    ]
    return sorted(minima, key=lambda index: values[index])


def space_group_info(structure: Structure, symprec: float) -> tuple[str, int, int]:
    """Space group and primitive-cell size with spglib (via pymatgen's SpacegroupAnalyzer).

    Parameters
    ----------
    structure
        Any structure (Å).
    symprec
        spglib distance tolerance (Å); the paper uses 0.1 Å (§4.6).

    Returns
    -------
    tuple
        ``(symbol, number, n_primitive_atoms)``; ``(number, n_primitive_atoms)`` is the phase
        key compared between models (SI 7.6).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
    return (
        analyzer.get_space_group_symbol(),
        analyzer.get_space_group_number(),
        len(analyzer.find_primitive()),
    )


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
    from pymatgen.core import Structure
    from pymatgen.io.phonopy import get_pmg_structure

    from mlip_finetune.evaluation.phonons import relax_structure

    start_time = time.perf_counter()
    settings = settings or PhaseTransitionSettings()
    energy_function = energy_function or calculator_energy_function(calculator)
    initial = get_pmg_structure(phonon.primitive)
    initial_symbol, initial_number, initial_n_prim = space_group_info(initial, settings.symprec)
    initial_key = (initial_number, initial_n_prim)
    reference = _energy_per_atom(initial, calculator)

    modes = find_unstable_modes(phonon, settings)
    scans, pathways, structures = [], [], []
    for mode in modes:
        if mode.skipped is not None:
            logger.info(f"skipping {mode.label} {mode.qpoint}: {mode.skipped}")
            continue
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
        scans.append(
            ModeScan(
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
        )
        relaxed_here: list[tuple[int, float]] = []
        for index in minima:
            c = amplitudes[list(index)]
            displaced = Structure(
                supercell.lattice,
                supercell.species,
                supercell.cart_coords + np.tensordot(c, patterns, axes=1),
                coords_are_cartesian=True,
            )
            d_symbol, d_number, _ = space_group_info(displaced, settings.displaced_symprec)
            if any(
                number == d_number
                and abs(energy - per_atom[index]) <= settings.minimum_energy_tolerance
                for number, energy in relaxed_here
            ):
                continue
            relaxed_here.append((d_number, float(per_atom[index])))
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
            pathways.append(
                PhasePathway(
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
            )
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


def compare_phase_sets(
    reference_doc: PhaseTransitionDocument | dict,
    model_doc: PhaseTransitionDocument | dict,
) -> tuple[float, float, float]:
    """Precision, recall and F1 of a model's new phases against a reference (Table 4).

    SI 7.6: both sets already exclude the initial phase; a model phase is a true positive when
    a reference phase has the same space group and number of atoms in the primitive cell,
    i.e. the same phase key. The counting and the empty-set conventions are those of
    :func:`~mlip_finetune.evaluation.stability.set_precision_recall_f1`.

    Parameters
    ----------
    reference_doc
        Reference (DFT) document, or its dict.
    model_doc
        Model document for the same initial phase, or its dict.

    Returns
    -------
    tuple of float
        ``(precision, recall, f1)``, each in [0, 1].

    Raises
    ------
    ValueError
        If the two documents start from different phases (space group or primitive size).
    """
    from mlip_finetune.evaluation.stability import set_precision_recall_f1

    reference = PhaseTransitionDocument.model_validate(reference_doc)
    model = PhaseTransitionDocument.model_validate(model_doc)
    initial_ref = (reference.initial_space_group_number, reference.initial_n_primitive_atoms)
    initial_model = (model.initial_space_group_number, model.initial_n_primitive_atoms)
    if initial_ref != initial_model:
        raise ValueError(
            f"documents start from different phases: reference {initial_ref}, model "
            f"{initial_model} (space-group number, primitive atoms)"
        )
    return set_precision_recall_f1(
        {tuple(key) for key in reference.phase_keys}, {tuple(key) for key in model.phase_keys}
    )
