"""Phonon supercells that keep the crystal's point group (paper §4.1), DFT and ML alike.

A finite-displacement supercell whose lattice breaks one of the crystal's rotations (hcp Mg
in atomate2's 90° cell: 8 of the 24 operations of 6/mmm survive) makes phonopy warn "Point
group symmetries of supercell and primitive cell are different", symmetrise the force
constants with the smaller group only and ask for more displaced supercells (DFT statics).
:func:`phonon_supercell_matrix` keeps atomate2's choice wherever it preserves the point group
(every cubic crystal) and otherwise takes the smallest symmetry-preserving supercell of the
same length rule.

Matrices are in phonopy's convention: the supercell's lattice vectors are the *columns* of
``lattice.T @ matrix``, i.e. ``matrix.T @ lattice`` as rows (pymatgen's ``make_supercell``
takes ``matrix.T``).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.data.supercells import minimum_width

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Structure

#: Symmetry tolerance (Å) of the point-group checks: phonopy's default ``symprec``, so that
#: :func:`preserves_point_group` agrees with the check phonopy itself makes.
PHONOPY_SYMPREC: float = 1e-5
#: Slack (Å) on ``min_length`` when rounding multiplicities up.
_LENGTH_SLACK: float = 1e-9
#: First space-group numbers of the tetragonal (a = b) and cubic (a = b = c) systems; the
#: trigonal and hexagonal groups 143-194 share the tetragonal rule in a hexagonal setting.
_FIRST_TETRAGONAL: int = 75
_FIRST_CUBIC: int = 195
#: atomate2's cap on the atoms of its 90° supercell search (``get_supercell_matrix``).
ATOMATE2_MAX_ATOMS: int = 1200


def _symmetry_dataset(structure: Structure):  # noqa: ANN202  (spglib's dataset type)
    import spglib

    cell = (structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers)
    return spglib.get_symmetry_dataset(cell, symprec=PHONOPY_SYMPREC)


def point_group_rotations(structure: Structure) -> np.ndarray:
    """Return the crystal's point-group rotations in the basis of its own lattice.

    Parameters
    ----------
    structure
        Any cell of the crystal (Å).

    Returns
    -------
    numpy.ndarray
        Distinct integer rotations ``W`` of spglib's space group at ``symprec = 1e-5`` Å,
        shape (n_operations, 3, 3), acting on fractional coordinates; only the identity if
        spglib finds no symmetry.
    """
    dataset = _symmetry_dataset(structure)
    if dataset is None:
        return np.eye(3, dtype=int)[None]
    return np.unique(np.asarray(dataset.rotations, dtype=int), axis=0)


def preserves_point_group(
    structure: Structure, supercell_matrix: Sequence[Sequence[int]] | np.ndarray
) -> bool:
    """Return whether a supercell keeps every point-group operation of the crystal.

    A rotation ``W`` of the crystal is a symmetry of the supercell if and only if it maps the
    superlattice onto itself, i.e. ``S⁻¹ W S`` is an integer matrix (the superlattice vectors
    are the columns of ``S`` in fractional coordinates of ``structure``). The result equals
    phonopy's own test (``Phonopy(...).symmetry`` against ``primitive_symmetry``, which warns
    "Point group symmetries of supercell and primitive cell are different").

    Parameters
    ----------
    structure
        Unit cell the matrix refers to (Å).
    supercell_matrix
        3x3 integer matrix in phonopy's convention.

    Returns
    -------
    bool
        True if the supercell has the point group of ``structure``.
    """
    matrix = np.asarray(supercell_matrix, dtype=float)
    inverse = np.linalg.inv(matrix)
    conjugated = inverse @ point_group_rotations(structure) @ matrix
    return bool(np.allclose(conjugated, np.rint(conjugated), atol=1e-6))


def _multiplicities(lattice_vectors: np.ndarray, min_length: float) -> list[int]:
    """Smallest repetitions of each vector whose heights reach ``min_length``.

    The height of ``n_i a_i`` against ``a_j`` is ``n_i |a_i| sin θ_ij``, so the diagonal
    supercell ``diag(n)`` meets :func:`~mlip_finetune.data.supercells.minimum_width` exactly
    when every ``n_i ≥ min_length / (|a_i| min_j sin θ_ij)``.
    """
    multiplicities = []
    for i in range(3):
        norm_i = np.linalg.norm(lattice_vectors[i])
        sines = [
            np.linalg.norm(np.cross(lattice_vectors[i], lattice_vectors[j]))
            / (norm_i * np.linalg.norm(lattice_vectors[j]))
            for j in range(3)
            if j != i
        ]
        multiplicities.append(math.ceil(min_length / (norm_i * min(sines)) - _LENGTH_SLACK))
    return multiplicities


def conventional_supercell_matrix(structure: Structure, min_length: float) -> np.ndarray | None:
    """Return the smallest diagonal supercell of the conventional cell that meets ``min_length``.

    The multiplicities follow phonopy's ``estimate_supercell_matrix`` rule (kept symmetric by
    construction): a, b and c free for triclinic, monoclinic and orthorhombic crystals, a = b
    for tetragonal, trigonal and hexagonal ones (hexagonal setting), a = b = c for cubic ones.
    Each is the smallest whose heights reach ``min_length`` (pymatgen's rule, see
    :func:`~mlip_finetune.data.supercells.minimum_width`).

    Parameters
    ----------
    structure
        Unit cell (Å); spglib's standardised conventional cell is taken in its frame.
    min_length
        Minimum height of the supercell (Å).

    Returns
    -------
    numpy.ndarray or None
        3x3 integer matrix in phonopy's convention relative to ``structure``, or ``None`` if
        spglib finds no symmetry or the conventional cell is not a supercell of
        ``structure`` (e.g. a supercell given as input).
    """
    dataset = _symmetry_dataset(structure)
    if dataset is None:
        return None
    # spglib: (a_s b_s c_s) = (a b c) P⁻¹, so P⁻¹ is the conventional cell in phonopy's
    # convention relative to ``structure``.
    to_conventional = np.linalg.inv(np.asarray(dataset.transformation_matrix, dtype=float))
    if not np.allclose(to_conventional, np.rint(to_conventional), atol=1e-6):
        return None
    to_conventional = np.rint(to_conventional).astype(int)
    conventional = to_conventional.T @ structure.lattice.matrix
    n = _multiplicities(conventional, min_length)
    if dataset.number >= _FIRST_CUBIC:
        n = [max(n)] * 3
    elif dataset.number >= _FIRST_TETRAGONAL:
        n = [max(n[:2])] * 2 + [n[2]]
    return to_conventional @ np.diag(n)


def uniform_supercell_matrix(structure: Structure, min_length: float) -> np.ndarray:
    """Return the smallest ``N×N×N`` supercell of ``structure`` that meets ``min_length``.

    A multiple of the identity commutes with every rotation, so it always keeps the point
    group (for a rhombohedral primitive cell it is the only diagonal choice that does).

    Parameters
    ----------
    structure
        Unit cell (Å).
    min_length
        Minimum height of the supercell (Å), see
        :func:`~mlip_finetune.data.supercells.minimum_width`.

    Returns
    -------
    numpy.ndarray
        ``N`` times the 3x3 identity.
    """
    width = minimum_width(structure.lattice.matrix)
    return np.eye(3, dtype=int) * math.ceil(min_length / width - _LENGTH_SLACK)


def atomate2_supercell_matrix(
    structure: Structure, min_length: float, max_atoms: int | None = None
) -> np.ndarray:
    """Return atomate2's most cubic supercell matrix, searched on the lattice alone.

    :func:`atomate2.common.utils.get_supercell_matrix` (the plain function behind
    PhononMaker's ``get_supercell_size`` job, atomate2 0.1.5) with PhononMaker's defaults
    ``prefer_90_degrees=True``, ``allow_orthorhombic=False``, ``max_length=None``. pymatgen's
    ``CubicSupercellTransformation`` underneath builds every candidate supercell only to
    count its atoms (``n_sites·|det|``) and read its angles, so the search depends on the
    lattice and on ``max_atoms // n_sites`` alone: it runs on a one-atom cell of the lattice
    with that cap (``n_sites`` times fewer sites to build) and is cached per lattice in the
    process, since every phonon, property and phase-transition job of a material asks for
    the same matrix (a triclinic cell's search takes seconds).

    Parameters
    ----------
    structure
        Unit cell (Å).
    min_length
        Minimum supercell height (Å).
    max_atoms
        Cap on the supercell's atoms (e.g. a preset's limit per DFT static): atomate2 stops
        looking for a 90° cell there and falls back to its most cubic one, which a crystal
        whose 90° cell exceeds the cap may fit; a low-symmetry lattice, which has no 90° cell
        below 1200 atoms, gets the same cell in 0.1-0.4 s instead of 4-7 s. If no cell fits
        the cap, the uncapped search's cell is returned (for the caller's size check to
        refuse). None keeps atomate2's 1200.

    Returns
    -------
    numpy.ndarray
        3x3 integer matrix in phonopy's convention, shape (3, 3).

    Raises
    ------
    AttributeError
        pymatgen's error when no supercell of up to 1200 atoms meets the constraints.
    """
    if max_atoms is not None:
        try:
            return _capped_search(structure, min_length, max_atoms)
        except AttributeError:  # no cell within the cap: the uncapped one
            pass
    return _capped_search(structure, min_length, ATOMATE2_MAX_ATOMS)


def _capped_search(structure: Structure, min_length: float, cap: int) -> np.ndarray:
    """Return atomate2's matrix with at most ``cap`` atoms, searched on the lattice alone."""
    n_sites = len(structure)
    if n_sites > cap:  # no supercell fits: let atomate2 fail on the cell itself
        return _atomate2_search(structure, min_length, cap)
    lattice = tuple(map(tuple, structure.lattice.matrix.tolist()))
    return np.array(_atomate2_search_on_lattice(lattice, min_length, cap // n_sites))


@functools.lru_cache(maxsize=256)
def _atomate2_search_on_lattice(
    lattice: tuple[tuple[float, ...], ...], min_length: float, max_atoms: int
) -> tuple[tuple[int, ...], ...]:
    """Return atomate2's matrix for a one-atom cell of ``lattice`` (cached, immutable)."""
    from pymatgen.core import Lattice
    from pymatgen.core import Structure as PymatgenStructure

    one_atom = PymatgenStructure(Lattice(lattice), ["H"], [[0.0, 0.0, 0.0]])
    return tuple(map(tuple, _atomate2_search(one_atom, min_length, max_atoms).tolist()))


def _atomate2_search(structure: Structure, min_length: float, max_atoms: int) -> np.ndarray:
    """Return :func:`atomate2.common.utils.get_supercell_matrix` of ``structure``, rounded."""
    from atomate2.common.utils import get_supercell_matrix

    matrix = get_supercell_matrix(
        structure,
        min_length=min_length,
        max_length=None,
        prefer_90_degrees=True,
        allow_orthorhombic=False,
        max_atoms=max_atoms,
    )
    return np.rint(np.asarray(matrix)).astype(int)


def phonon_supercell_matrix(
    structure: Structure,
    min_length: float,
    max_atoms: int | None = None,
) -> list[list[int]]:
    """Return the phonon supercell matrix for ``min_length``, keeping the point group.

    The rule:

    1. atomate2's choice (:func:`atomate2_supercell_matrix`, PhononMaker's defaults): the
       most cubic supercell whose heights reach ``min_length``
       (:func:`~mlip_finetune.data.supercells.minimum_width`). Kept whenever it preserves the
       point group (:func:`preserves_point_group`), so cubic crystals get the paper's atomate2
       DFT reference cells unchanged (cubic supercells, min side 20 Å, paper §4.1).
    2. Otherwise (hexagonal and trigonal crystals, whose 90° cells break the six- or threefold
       axis) the smaller of :func:`conventional_supercell_matrix` (e.g. N×N×M of the hexagonal
       cell) and :func:`uniform_supercell_matrix`, both symmetry-preserving and meeting the
       same length rule; the conventional one on a tie.

    Parameters
    ----------
    structure
        Unit cell (usually primitive), Å.
    min_length
        Minimum supercell height (Å). The paper uses 20 Å for the DFT reference.
    max_atoms
        Cap on the atoms of atomate2's search (step 1, see :func:`atomate2_supercell_matrix`:
        the uncapped cell if none fits); ``None`` keeps atomate2's default of 1200 atoms.
        The cells of step 2 are not capped.

    Returns
    -------
    list of list of int
        3x3 integer supercell matrix in phonopy's convention (the supercell's lattice rows
        are ``matrix.T @ lattice``; atomate2 already transposes pymatgen's matrix).

    Raises
    ------
    ValueError
        If ``min_length`` is not positive.
    """
    if min_length <= 0:
        raise ValueError(f"min_length must be positive, got {min_length} Å")
    matrix = atomate2_supercell_matrix(structure, min_length, max_atoms)
    if not preserves_point_group(structure, matrix):
        candidates = [conventional_supercell_matrix(structure, min_length)]
        candidates.append(uniform_supercell_matrix(structure, min_length))
        symmetric = [c for c in candidates if c is not None and preserves_point_group(structure, c)]
        matrix = min(symmetric, key=lambda c: round(abs(np.linalg.det(c))))
    return matrix.tolist()
