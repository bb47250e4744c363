"""Unstable modes: degenerate groups, the search over q-points, displacement patterns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.evaluation.phase_transitions.qpoints import (
    commensurate_supercell_matrix,
    q_key,
    rational_qpoint,
    seekpath_points,
)
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings, UnstableMode

if TYPE_CHECKING:
    from collections.abc import Sequence

    from phonopy import Phonopy
    from pymatgen.core import Structure


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


def _candidate_qpoints(
    phonon: Phonopy, settings: PhaseTransitionSettings
) -> dict[tuple[float, ...], tuple[np.ndarray, str, set[int] | None]]:
    """Labelled points (all bands: ``None``) and band minima (their bands), one per ±q."""
    points, segments = seekpath_points(phonon, settings.band_npoints)
    candidates: dict[tuple[float, ...], tuple[np.ndarray, str, set[int] | None]] = {}
    for label, q in points.items():
        candidates.setdefault(q_key(q), (q, label, None))
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
            entry = candidates.setdefault(q_key(q), (q, f"{start}–{end} min", set()))
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
