"""Tests of :mod:`mlip_finetune.evaluation.supercells`: phonon supercells keep the point group."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlip_finetune.data.supercells import minimum_width
from mlip_finetune.evaluation.supercells import (
    conventional_supercell_matrix,
    phonon_supercell_matrix,
    point_group_rotations,
    preserves_point_group,
    uniform_supercell_matrix,
)

#: Space group, lattice (Å), species and Wyckoff positions: PBE Si and Al, SrTiO3, hcp Mg and
#: wurtzite GaN at their experimental lattice constants, rhombohedral Bi (Cucka & Barrett
#: 1962, hexagonal setting), baddeleyite ZrO2 (Howard et al. 1988, beta = 99.23°).
CRYSTALS = {
    "Si": ("Fd-3m", Lattice.cubic(5.468), ["Si"], [[0, 0, 0]]),
    "Al": ("Fm-3m", Lattice.cubic(4.04), ["Al"], [[0, 0, 0]]),
    "SrTiO3": (
        "Pm-3m",
        Lattice.cubic(3.905),
        ["Sr", "Ti", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]],
    ),
    "Mg": ("P6_3/mmc", Lattice.hexagonal(3.209, 5.211), ["Mg"], [[1 / 3, 2 / 3, 1 / 4]]),
    "GaN": (
        "P6_3mc",
        Lattice.hexagonal(3.189, 5.185),
        ["Ga", "N"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.377]],
    ),
    "Bi": ("R-3m", Lattice.hexagonal(4.546, 11.862), ["Bi"], [[0, 0, 0.2341]]),
    "ZrO2": (
        "P2_1/c",
        Lattice.monoclinic(5.1505, 5.2116, 5.3173, 99.23),
        ["Zr", "O", "O"],
        [[0.2754, 0.0395, 0.2083], [0.0700, 0.3317, 0.3447], [0.4496, 0.7569, 0.4792]],
    ),
}
#: Order of the crystal's point group (6/mmm, 6mm, -3m, 2/m, m-3m).
POINT_GROUP_ORDER = {"Mg": 24, "GaN": 12, "Bi": 12, "ZrO2": 4, "Si": 48, "Al": 48, "SrTiO3": 48}


def _primitive(name: str) -> Structure:
    group, lattice, species, coords = CRYSTALS[name]
    return Structure.from_spacegroup(group, lattice, species, coords).get_primitive_structure()


def _atomate2(structure: Structure, min_length: float, **kwargs) -> np.ndarray:
    """atomate2's own search on the whole cell."""
    from atomate2.common.utils import get_supercell_matrix

    matrix = get_supercell_matrix(
        structure, min_length=min_length, max_length=None, prefer_90_degrees=True, **kwargs
    )
    return np.rint(np.asarray(matrix)).astype(int)


def _phonopy_warnings(structure: Structure, matrix) -> list[str]:
    """Phonopy's point-group warnings when it builds the supercell."""
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Phonopy(get_phonopy_structure(structure), supercell_matrix=np.asarray(matrix))
    return [str(w.message) for w in caught if "Point group" in str(w.message)]


def _supercell(structure: Structure, matrix) -> Structure:
    """The supercell of a phonopy-convention matrix (pymatgen takes the transpose)."""
    return structure.make_supercell(np.asarray(matrix).T, in_place=False)


@pytest.mark.parametrize(("name", "min_length"), [("Si", 20.0), ("Al", 20.0), ("SrTiO3", 20.0)])
def test_cubic_crystals_keep_atomate2s_matrix(name, min_length):
    structure = _primitive(name)
    matrix = np.array(phonon_supercell_matrix(structure, min_length))
    np.testing.assert_array_equal(matrix, _atomate2(structure, min_length))
    supercell = _supercell(structure, matrix)
    np.testing.assert_allclose(supercell.lattice.angles, [90.0] * 3, atol=1e-6)
    assert min(supercell.lattice.abc) >= min_length
    assert preserves_point_group(structure, matrix)


def test_hcp_mg_at_7_angstrom_keeps_6_mmm():
    mg = _primitive("Mg")
    old = _atomate2(mg, 7.0)
    assert round(np.linalg.det(old)) * len(mg) == 48
    assert not preserves_point_group(mg, old)
    assert any("Point group symmetries of supercell" in m for m in _phonopy_warnings(mg, old))

    matrix = phonon_supercell_matrix(mg, 7.0)
    assert matrix == [[3, 0, 0], [0, 3, 0], [0, 0, 2]]
    supercell = _supercell(mg, matrix)
    assert len(supercell) == 36
    np.testing.assert_allclose(supercell.lattice.angles, [90.0, 90.0, 120.0], atol=1e-6)
    assert minimum_width(supercell.lattice.matrix) >= 7.0
    assert preserves_point_group(mg, matrix)
    assert _phonopy_warnings(mg, matrix) == []


def test_hcp_mg_at_20_angstrom_keeps_6_mmm():
    mg = _primitive("Mg")
    old = _atomate2(mg, 20.0)
    assert round(np.linalg.det(old)) * len(mg) == 448
    # spglib on the supercell itself: rotations that map its lattice onto itself (mmm)
    assert len(point_group_rotations(_supercell(mg, old))) == 8

    matrix = phonon_supercell_matrix(mg, 20.0)
    assert matrix == [[8, 0, 0], [0, 8, 0], [0, 0, 4]]
    supercell = _supercell(mg, matrix)
    assert len(supercell) == 512
    np.testing.assert_allclose(supercell.lattice.angles, [90.0, 90.0, 120.0], atol=1e-6)
    assert minimum_width(supercell.lattice.matrix) >= 20.0
    assert len(point_group_rotations(supercell)) == POINT_GROUP_ORDER["Mg"]


@pytest.mark.parametrize(
    ("name", "min_length", "n_atoms"),
    [("GaN", 7.0, 72), ("GaN", 20.0, 1024), ("Bi", 7.0, 16), ("Bi", 20.0, 432), ("ZrO2", 7.0, 96)],
)
def test_hexagonal_trigonal_and_monoclinic_cells_keep_the_point_group(name, min_length, n_atoms):
    structure = _primitive(name)
    matrix = phonon_supercell_matrix(structure, min_length)
    assert preserves_point_group(structure, matrix)
    assert len(point_group_rotations(structure)) == POINT_GROUP_ORDER[name]
    lattice = np.asarray(matrix).T @ structure.lattice.matrix
    assert minimum_width(lattice) >= min_length
    assert round(abs(np.linalg.det(matrix))) * len(structure) == n_atoms
    if n_atoms <= 100:  # phonopy's own check, on the cells small enough to be quick
        assert _phonopy_warnings(structure, matrix) == []


def test_preserves_point_group_agrees_with_phonopy():
    mg = _primitive("Mg")
    for matrix in ([[2, 0, 0], [0, 2, 0], [0, 0, 2]], [[2, 1, 0], [0, 1, 0], [0, 0, 1]]):
        assert preserves_point_group(mg, matrix) == (not _phonopy_warnings(mg, matrix))
    assert not preserves_point_group(mg, [[2, 1, 0], [0, 1, 0], [0, 0, 1]])


def test_conventional_and_uniform_candidates():
    si = _primitive("Si")
    conventional = conventional_supercell_matrix(si, 10.0)
    assert conventional is not None
    # 2x2x2 conventional cubes: 64 atoms, 10.94 Å edges
    supercell = _supercell(si, conventional)
    assert len(supercell) == 64
    np.testing.assert_allclose(supercell.lattice.abc, [10.936] * 3, atol=1e-3)
    np.testing.assert_array_equal(uniform_supercell_matrix(si, 10.0), 3 * np.eye(3, dtype=int))
    doubled = si.make_supercell([[2, 0, 0], [0, 1, 0], [0, 0, 1]], in_place=False)
    assert conventional_supercell_matrix(doubled, 10.0) is None


def test_min_length_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        phonon_supercell_matrix(_primitive("Si"), min_length=0.0)


@pytest.mark.parametrize(
    ("name", "min_length", "max_atoms"),
    [("ZrO2", 8.0, None), ("GaN", 7.0, None), ("triclinic", 6.0, 150), ("triclinic", 6.0, None)],
)
def test_atomate2s_search_on_the_lattice_alone_gives_its_matrix(name, min_length, max_atoms):
    """The one-atom search gives atomate2's matrix of the whole cell, cap included (it only
    counts atoms and reads angles), and a second call is answered from the cache."""
    from mlip_finetune.evaluation.supercells import (
        _atomate2_search_on_lattice,
        atomate2_supercell_matrix,
    )

    if name == "triclinic":
        lattice = Lattice.from_parameters(3.6, 4.8, 3.0, 103, 100, 82)
        coords = [[0, 0, 0], [0.5, 0.4, 0.3], [0.2, 0.7, 0.6]]
        structure = Structure(lattice, ["Si", "Ge", "Si"], coords)
    else:
        structure = _primitive(name)
    kwargs = {} if max_atoms is None else {"max_atoms": max_atoms}
    whole = _atomate2(structure, min_length, **kwargs)
    np.testing.assert_array_equal(
        atomate2_supercell_matrix(structure, min_length, max_atoms), whole
    )
    hits = _atomate2_search_on_lattice.cache_info().hits
    np.testing.assert_array_equal(
        atomate2_supercell_matrix(structure, min_length, max_atoms), whole
    )
    assert _atomate2_search_on_lattice.cache_info().hits == hits + 1


@pytest.mark.parametrize(
    ("lattice", "min_length", "max_atoms"),
    [
        ((3.84, 3.84, 3.17, 90, 100, 101), 5.0, 64),  # triclinic: no 90° cell below 1200
        ((3.66, 4.15, 4.07, 99, 87, 82), 7.0, 128),
        ((3.8, 4.1, 3.9, 90, 103, 90), 5.0, 64),  # monoclinic
    ],
)
def test_the_capped_phonon_search_gives_the_uncapped_matrix(lattice, min_length, max_atoms):
    """Where no 90° cell exists, capping atomate2's search at the preset's DFT limit only
    ends it sooner: the same most cubic cell."""
    cell = Structure(Lattice.from_parameters(*lattice), ["Si"], [[0, 0, 0]])
    capped = phonon_supercell_matrix(cell, min_length, max_atoms=max_atoms)
    assert capped == phonon_supercell_matrix(cell, min_length)
    assert round(abs(np.linalg.det(capped))) <= max_atoms


def test_a_phonon_cell_over_the_limit_is_the_uncapped_one(si_primitive):
    """No cell within the limit: the uncapped matrix, for the size check to refuse."""
    expected = phonon_supercell_matrix(si_primitive, 5.0)  # the 8-atom cube
    assert phonon_supercell_matrix(si_primitive, 5.0, max_atoms=4) == expected
