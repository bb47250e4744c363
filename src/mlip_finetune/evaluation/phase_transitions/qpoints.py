"""q-point lattice maths: rational q-points, commensurate supercells, seekpath's points.

Conventions as in :mod:`mlip_finetune.evaluation.phase_transitions`: q in reduced
coordinates of the phonopy primitive cell's reciprocal lattice (no 2π); supercell matrices
in phonopy's convention (``q`` commensurate when ``q @ M`` is integer).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from phonopy import Phonopy

#: Largest distance (in reduced q units) between a q-point and the rational value it is
#: snapped to; beyond it, the q-point needs a larger supercell than allowed.
_RATIONAL_TOLERANCE = 1e-5


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


def seekpath_points(
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


def q_key(q: np.ndarray) -> tuple[float, ...]:
    """Key identifying q and -q modulo the reciprocal lattice (same real subspace)."""
    plus = tuple(np.round(np.mod(q + 1e-7, 1.0) - 1e-7, 5))
    minus = tuple(np.round(np.mod(-q + 1e-7, 1.0) - 1e-7, 5))
    return min(plus, minus)
