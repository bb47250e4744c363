"""Supercells of the fine-tuning data protocol (paper §4.2) and interatomic distances.

Every supercell matrix refers to the primitive standard cell (:func:`primitive_standard`):
the identity for :attr:`SupercellProtocol.PRIMITIVE` (a one-atom crystal's conventional cell,
:func:`primitive_protocol_matrix`), the most cubic supercell with edges in
the protocol's window (:data:`SUPERCELL_LENGTHS`, Å) that the lattice allows otherwise
(:func:`supercell_matrix_for_protocol` states the rule). Any valid crystal gets a supercell:
cubic, hexagonal, trigonal, monoclinic and triclinic lattices alike.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.core.errors import InputError

if TYPE_CHECKING:
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: Distances below this are a site's distance to itself (Å).
_SAME_SITE_TOLERANCE: float = 1e-8
#: Slack (Å) on the window's bounds, so that an edge of exactly 10 Å counts as inside.
_LENGTH_SLACK: float = 1e-6
#: Angle classes (degrees) that rank supercells by how far their angles are from 90°: a cell
#: whose largest deviation is at most 3° beats one at 4°, and within a class fewer atoms win.
ANGLE_CLASSES_DEGREES: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0)
#: Search range of ASE's ``find_optimal_cell_shape`` around its rounded ideal matrix: ±1 takes
#: about 5 ms per supercell size, ASE's default ±2 about 0.3 s.
_ASE_SEARCH_LIMIT: int = 1


class SupercellError(InputError):
    """No supercell of the requested protocol can be built for a structure.

    :func:`supercell_matrix_for_protocol` no longer raises it for a valid crystal (it falls
    back to the closest supercell, see there); it remains for a lattice no search can handle.
    """


class SupercellProtocol(StrEnum):
    """Cell sizes of the fine-tuning data (paper §4.2).

    ``PRIMITIVE`` uses the primitive standard cell, ``SMALL`` a near-cubic supercell with edges
    between 5 and 10 Å, ``LARGE`` one with edges between 10 and 15 Å.
    """

    PRIMITIVE = "primitive"
    SMALL = "small"
    LARGE = "large"


#: Edge-length window (Å) of each supercell protocol, paper §4.2.
SUPERCELL_LENGTHS: dict[SupercellProtocol, tuple[float, float]] = {
    SupercellProtocol.SMALL: (5.0, 10.0),
    SupercellProtocol.LARGE: (10.0, 15.0),
}


def primitive_standard(structure: Structure, symprec: float = 0.01) -> Structure:
    """Return the primitive standard cell of a structure.

    Parameters
    ----------
    structure
        Any cell of the crystal.
    symprec
        Symmetry tolerance (Å) passed to spglib.

    Returns
    -------
    pymatgen.core.Structure
        ``SpacegroupAnalyzer(structure).get_primitive_standard_structure()`` (Setyawan-Curtarolo
        convention); every supercell matrix of this module refers to this cell.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(structure, symprec=symprec).get_primitive_standard_structure()


def minimum_width(lattice_vectors: np.ndarray) -> float:
    """Return the smallest in-plane height of a cell, pymatgen's and atomate2's length rule.

    For every pair of lattice vectors (a, b) the height is ``|a - proj_b(a)|``, the length of
    the part of ``a`` perpendicular to ``b``: the rule of pymatgen's
    ``CubicSupercellTransformation`` (``min_length``), which atomate2's
    ``get_supercell_matrix`` uses for phonon supercells. It equals the shortest edge of a
    cell with 90° angles.

    Parameters
    ----------
    lattice_vectors
        Lattice vectors as rows, shape (3, 3), Å.

    Returns
    -------
    float
        The smallest of the six heights (Å).
    """
    rows = np.asarray(lattice_vectors, dtype=float)
    heights = []
    for i in range(3):
        for j in range(3):
            if i != j:
                along = rows[i] @ rows[j] / (rows[j] @ rows[j]) * rows[j]
                heights.append(float(np.linalg.norm(rows[i] - along)))
    return min(heights)


def angle_deviation(lattice_vectors: np.ndarray) -> float:
    """Return the largest deviation of a cell's angles from 90° (degrees).

    Parameters
    ----------
    lattice_vectors
        Lattice vectors as rows, shape (3, 3), Å.

    Returns
    -------
    float
        ``max |angle - 90°|`` over α, β, γ (degrees); 0 for a cell with 90° angles.
    """
    from pymatgen.core import Lattice

    return float(np.max(np.abs(np.asarray(Lattice(lattice_vectors).angles) - 90.0)))


def _in_window(lattice_vectors: np.ndarray, window: tuple[float, float]) -> bool:
    """Whether a cell's heights reach the window's minimum and its edges stay below its maximum."""
    min_length, max_length = window
    edges = np.linalg.norm(lattice_vectors, axis=1)
    return (
        minimum_width(lattice_vectors) >= min_length - _LENGTH_SLACK
        and edges.max() <= max_length + _LENGTH_SLACK
    )


def _pymatgen_cubic(
    primitive: Structure,
    min_length: float,
    max_length: float | None,
    angle_tolerance: float | None,
) -> np.ndarray | None:
    """Return pymatgen's ``CubicSupercellTransformation`` matrix, ``None`` if it finds none.

    ``angle_tolerance=None`` leaves ``force_90_degrees`` off.
    """
    from pymatgen.transformations.advanced_transformations import (
        CubicSupercellTransformation,
    )

    transformation = CubicSupercellTransformation(
        min_length=min_length,
        max_length=max_length,
        force_90_degrees=angle_tolerance is not None,
        angle_tolerance=1e-3 if angle_tolerance is None else angle_tolerance,
    )
    try:
        transformation.apply_transformation(primitive)
    except AttributeError:  # pymatgen signals "not found" with AttributeError
        return None
    return np.rint(transformation.transformation_matrix).astype(int)


def _ase_optimal_shapes(primitive: Structure, max_length: float) -> list[np.ndarray]:
    """ASE's most cubic supercell of every size whose volume fits in a cube of ``max_length``.

    ``ase.build.find_optimal_cell_shape(cell, n, "sc", score_key="metric")`` for every number of
    primitive cells ``n`` from 1 to ``max_length³ / V``; sizes without a candidate in ASE's
    search range are skipped (ASE prints a line and fails for them).
    """
    from ase.build import find_optimal_cell_shape

    cell = primitive.lattice.matrix
    n_max = max(1, math.floor(max_length**3 / primitive.volume))
    shapes = []
    for size in range(1, n_max + 1):
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                matrix = find_optimal_cell_shape(
                    cell,
                    size,
                    "sc",
                    lower_limit=-_ASE_SEARCH_LIMIT,
                    upper_limit=_ASE_SEARCH_LIMIT,
                    score_key="metric",
                )
            except TypeError:  # no matrix of this size in the search range
                continue
        shapes.append(np.rint(matrix).astype(int))
    return shapes


def _rank(primitive: Structure, matrix: np.ndarray) -> tuple[int, int, float]:
    """Sort key of a candidate: angle class, then number of primitive cells, then deviation."""
    deviation = angle_deviation(matrix @ primitive.lattice.matrix)
    angle_class = sum(deviation > bound for bound in ANGLE_CLASSES_DEGREES)
    return angle_class, round(abs(np.linalg.det(matrix))), deviation


def supercell_matrix_for_protocol(
    structure: Structure,
    protocol: SupercellProtocol | str,
    angle_tolerance: float = 1.0,
) -> np.ndarray:
    """Return the supercell matrix of a protocol, relative to the primitive standard cell.

    The rule, for a window ``[min_length, max_length]`` of 5-10 Å or 10-15 Å (paper §4.2):

    1. **The paper's cell**: pymatgen's ``CubicSupercellTransformation`` with
       ``force_90_degrees=True`` and the window as ``min_length``/``max_length``, accepted if
       all its angles are within ``angle_tolerance`` of 90° and its edges stay in the window.
       This is the cubic cell of the paper, unchanged (every cubic, tetragonal, orthorhombic
       and hexagonal lattice has one: hcp Mg gets a 2×√3×1 orthohexagonal cell).
    2. **Otherwise the most cubic cell in the window** (trigonal, monoclinic, triclinic
       lattices): the candidates are pymatgen's transformation without ``force_90_degrees``
       and ASE's ``find_optimal_cell_shape`` (simple-cubic target, ``score_key="metric"``)
       for every number of primitive cells up to ``max_length³ / V``. Of those whose
       heights (:func:`minimum_width`) reach ``min_length`` and whose edges stay below
       ``max_length``, the one whose largest angle deviation from 90° falls in the lowest
       class of :data:`ANGLE_CLASSES_DEGREES` wins, fewest atoms first within a class (so the
       atom count stays that of a cell of the window's size, not the largest cube that fits).
    3. **If no cell fits the window** (a lattice far from cubic, e.g. one vector much longer
       than ``max_length``): the smallest cell whose heights reach ``min_length``, pymatgen's
       transformation without ``force_90_degrees`` or ``max_length``; a warning says so.

    Parameters
    ----------
    structure
        Any cell of the crystal; it is first reduced with :func:`primitive_standard`.
    protocol
        A :class:`SupercellProtocol` or its value.
    angle_tolerance
        Largest deviation of a supercell angle from 90° (degrees) accepted for the paper's
        cell of step 1.

    Returns
    -------
    numpy.ndarray
        Integer matrix of shape (3, 3) with a positive determinant, rows are the supercell
        vectors in units of the primitive standard vectors (pymatgen's ``make_supercell``
        convention); for ``PRIMITIVE`` that of :func:`primitive_protocol_matrix` (the identity
        unless the primitive cell has one atom).

    Raises
    ------
    SupercellError
        If even the fallback of step 3 finds no supercell (not seen for a valid crystal).
    ValueError
        If ``protocol`` is not a valid protocol name.
    """
    protocol = SupercellProtocol(protocol)
    primitive = primitive_standard(structure)
    if protocol is SupercellProtocol.PRIMITIVE:
        return primitive_protocol_matrix(primitive)
    window = SUPERCELL_LENGTHS[protocol]
    paper = _pymatgen_cubic(primitive, *window, angle_tolerance=angle_tolerance)
    if paper is not None and _in_window(paper @ primitive.lattice.matrix, window):
        return paper
    most_cubic = _most_cubic_in_window(primitive, window)
    if most_cubic is not None:
        return most_cubic
    return _closest_to_window(primitive, window, protocol)


def primitive_protocol_matrix(primitive: Structure) -> np.ndarray:
    """Return the training cell of the primitive protocol, relative to the primitive cell.

    The identity, except for a one-atom primitive cell (fcc Al, bcc Fe): rattled, that cell
    is a rigid translation, its forces vanish by symmetry and the foundation's relaxation
    stops after one step, so no training frames exist (paper §4.2 picks them along that
    relaxation). Such a crystal trains on its conventional standard cell (pymatgen's
    ``SpacegroupAnalyzer.get_conventional_standard_structure``: 4 atoms for fcc, 2 for bcc),
    or, where that has one atom too (simple cubic), on the primitive cell doubled along its
    first vector.

    Parameters
    ----------
    primitive
        The primitive standard cell (:func:`primitive_standard`).

    Returns
    -------
    numpy.ndarray
        Integer matrix of shape (3, 3), positive determinant, in units of the primitive
        standard vectors (pymatgen's ``make_supercell`` convention).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if len(primitive) > 1:
        return np.eye(3, dtype=int)
    conventional = SpacegroupAnalyzer(primitive).get_conventional_standard_structure()
    exact = conventional.lattice.matrix @ np.linalg.inv(primitive.lattice.matrix)
    matrix = np.rint(exact).astype(int)
    if np.allclose(exact, matrix, atol=1e-3) and round(abs(np.linalg.det(matrix))) > 1:
        return _positive(matrix)
    return np.diag([2, 1, 1])


def _positive(matrix: np.ndarray) -> np.ndarray:
    """Return the same supercell with a positive determinant (a right-handed cell)."""
    return matrix if np.linalg.det(matrix) > 0 else -matrix


def _most_cubic_in_window(primitive: Structure, window: tuple[float, float]) -> np.ndarray | None:
    """Step 2 of :func:`supercell_matrix_for_protocol`; ``None`` if no candidate fits."""
    candidates = [_pymatgen_cubic(primitive, *window, angle_tolerance=None)]
    candidates += _ase_optimal_shapes(primitive, window[1])
    fitting = [
        _positive(matrix)
        for matrix in candidates
        if matrix is not None and _in_window(matrix @ primitive.lattice.matrix, window)
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda matrix: _rank(primitive, matrix))


def _closest_to_window(
    primitive: Structure, window: tuple[float, float], protocol: SupercellProtocol
) -> np.ndarray:
    """Step 3 of :func:`supercell_matrix_for_protocol`: the smallest cell reaching the minimum."""
    formula = primitive.composition.reduced_formula
    closest = _pymatgen_cubic(primitive, window[0], None, angle_tolerance=None)
    if closest is None:
        raise SupercellError(
            f"no supercell of {formula} (primitive lattice "
            f"abc={np.round(primitive.lattice.abc, 3).tolist()} Å, "
            f"angles={np.round(primitive.lattice.angles, 2).tolist()}°) reaches "
            f"{window[0]} Å (protocol {protocol.value!r}); try another protocol"
        )
    edges = np.linalg.norm(closest @ primitive.lattice.matrix, axis=1)
    logger.warning(
        f"{formula}: no {protocol.value} supercell has edges between {window[0]} and "
        f"{window[1]} Å; using the smallest one whose widths reach {window[0]} Å "
        f"(edges {np.round(edges, 2).tolist()} Å)"
    )
    return _positive(closest)


def shortest_distance(structure: Structure) -> float:
    """Return the shortest interatomic distance, periodic images included.

    Parameters
    ----------
    structure
        Periodic structure.

    Returns
    -------
    float
        Shortest distance between two distinct sites or between a site and its own image (Å).
    """
    cutoff = 2.0 * (structure.volume / len(structure)) ** (1.0 / 3.0)
    while True:
        distances = structure.get_neighbor_list(cutoff)[3]
        distances = distances[distances > _SAME_SITE_TOLERANCE]
        if distances.size:
            return float(distances.min())
        cutoff *= 2.0
