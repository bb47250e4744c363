"""Structure checks at the door: each bad structure has its own error and a readable message;
random structures are accepted or rejected with a project error, never another exception."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymatgen.core import Lattice, Molecule, Structure

from mlip_finetune.core.errors import InputError, MlipFinetuneError
from mlip_finetune.core.validation import (
    MIN_DISTANCE_FRACTION,
    AtomsTooCloseError,
    NonPeriodicStructureError,
    PartialOccupancyError,
    StructureError,
    StructureFileError,
    UnknownSpeciesError,
    check_distances,
    covalent_radius,
    read_structure_file,
    validate_structure,
)

CIF_HEADER = """data_test
_cell_length_a 5.468
_cell_length_b 5.468
_cell_length_c 5.468
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
"""

#: A CIF of diamond Si without the _atom_site_label column.
CIF_WITHOUT_LABELS = (
    CIF_HEADER
    + """_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Si 0 0 0
Si 0.25 0.25 0.25
"""
)

#: fcc Fe with one site shared by Fe and Ni.
CIF_PARTIAL = (
    CIF_HEADER.replace("5.468", "3.56")
    + """_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Fe1 Fe 0 0 0 0.5
Ni1 Ni 0 0 0 0.5
Fe2 Fe 0.5 0.5 0 1
Fe3 Fe 0.5 0 0.5 1
Fe4 Fe 0 0.5 0.5 1
"""
)

WATER_XYZ = "3\nwater\nO 0 0 0\nH 0.76 0.59 0\nH -0.76 0.59 0\n"


def test_errors_are_input_errors():
    for error in (
        StructureFileError,
        NonPeriodicStructureError,
        PartialOccupancyError,
        UnknownSpeciesError,
        AtomsTooCloseError,
    ):
        assert issubclass(error, StructureError)
        assert issubclass(error, InputError)
        assert issubclass(error, ValueError)


def test_a_crystal_passes(si_primitive):
    assert validate_structure(si_primitive) is si_primitive


def test_read_a_cif(tmp_path, si_primitive):
    path = tmp_path / "Si.cif"
    si_primitive.to(filename=str(path))
    assert len(read_structure_file(path)) == 2


def test_read_an_extxyz_crystal_with_ase(tmp_path, si_primitive):
    from pymatgen.io.ase import AseAtomsAdaptor

    path = tmp_path / "Si.extxyz"
    AseAtomsAdaptor.get_atoms(si_primitive).write(path)
    structure = read_structure_file(path)
    assert structure.lattice.volume == pytest.approx(si_primitive.lattice.volume)


def test_missing_file(tmp_path):
    with pytest.raises(StructureFileError, match=r"nope\.cif does not exist"):
        read_structure_file(tmp_path / "nope.cif")


def test_cif_without_atom_site_label(tmp_path):
    path = tmp_path / "nolabel.cif"
    path.write_text(CIF_WITHOUT_LABELS)
    with pytest.raises(StructureFileError) as info:
        read_structure_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "has no _atom_site_label column" in message
    assert "add a _atom_site_label column" in message


def test_unreadable_file(tmp_path):
    path = tmp_path / "bad.cif"
    path.write_text("this is not a crystal\n")
    with pytest.raises(StructureFileError, match="cannot read a crystal structure from"):
        read_structure_file(path)


def test_xyz_molecule_is_not_periodic(tmp_path):
    path = tmp_path / "water.xyz"
    path.write_text(WATER_XYZ)
    with pytest.raises(NonPeriodicStructureError, match=r"water\.xyz holds 3 atoms without a 3-D"):
        read_structure_file(path)


def test_molecule_object_is_not_periodic():
    with pytest.raises(NonPeriodicStructureError, match="is a molecule"):
        validate_structure(Molecule(["H", "H"], [[0, 0, 0], [0.74, 0, 0]]))


def test_slab_is_not_periodic():
    lattice = Lattice(np.eye(3) * 5, pbc=(True, True, False))
    with pytest.raises(NonPeriodicStructureError, match="periodic only along a, b"):
        validate_structure(Structure(lattice, ["Si"], [[0, 0, 0]]))


def test_degenerate_lattice():
    flat = Lattice.from_parameters(5, 5, 5, 90, 90, 179.999)
    with pytest.raises(NonPeriodicStructureError, match="degenerate or near-singular lattice"):
        validate_structure(Structure(flat, ["Si"], [[0, 0, 0]]))


def test_near_singular_lattice_with_a_short_translation():
    # long, nearly parallel vectors: a large volume, but a 0.05 Å lattice translation
    matrix = [[100.0, 0, 0], [100.0, 0.05, 0], [0, 0, 100.0]]
    with pytest.raises(NonPeriodicStructureError, match=r"lattice translation of only 0\.05"):
        validate_structure(Structure(Lattice(matrix), ["Si"], [[0, 0, 0]]))


def test_a_skewed_basis_of_a_good_lattice_passes():
    # the simple cubic lattice of a = 3 Å, written with a very skewed basis
    matrix = [[3.0, 0, 0], [300.0, 3.0, 0], [0, 0, 3.0]]
    validate_structure(Structure(Lattice(matrix), ["Cu"], [[0, 0, 0]]))


def test_partial_occupancy_says_how_to_order(tmp_path):
    path = tmp_path / "FeNi.cif"
    path.write_text(CIF_PARTIAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = read_structure_file(path)
    with pytest.raises(PartialOccupancyError) as info:
        validate_structure(structure)
    message = str(info.value)
    assert "(Fe:0.5, Ni:0.5)" in message
    assert "OrderDisorderedStructureTransformation" in message
    assert "replace_species" in message


def test_vacancy_is_a_partial_occupancy(si_primitive):
    structure = si_primitive.copy()
    structure.replace(0, {"Si": 0.9})
    with pytest.raises(PartialOccupancyError, match="site 0"):
        validate_structure(structure)


def test_dummy_species():
    with pytest.raises(UnknownSpeciesError, match="not a chemical element"):
        validate_structure(Structure(Lattice.cubic(3), ["X"], [[0, 0, 0]]))


def test_two_atoms_too_close():
    structure = Structure(Lattice.cubic(5), ["Si", "Si"], [[0, 0, 0], [0.11 / 5, 0, 0]])
    with pytest.raises(AtomsTooCloseError) as info:
        validate_structure(structure)
    message = str(info.value)
    assert "sites 0 (Si) and 1 (Si) are 0.110 Å apart" in message
    assert f"less than {MIN_DISTANCE_FRACTION} × the sum of their covalent radii" in message


def test_atoms_too_close_through_a_periodic_boundary():
    structure = Structure(Lattice.cubic(5), ["Na", "Cl"], [[0.01, 0.5, 0.5], [0.99, 0.5, 0.5]])
    with pytest.raises(AtomsTooCloseError, match=r"0\.100 Å apart \(periodic image\)"):
        check_distances(structure)


def test_duplicated_site():
    structure = Structure(Lattice.cubic(5), ["Si", "Si"], [[0, 0, 0], [0, 0, 0]])
    with pytest.raises(AtomsTooCloseError, match=r"0\.000 Å apart"):
        validate_structure(structure)


def test_atom_too_close_to_its_own_image():
    structure = Structure(Lattice.orthorhombic(1.1, 5, 5), ["Si"], [[0, 0, 0]])
    with pytest.raises(AtomsTooCloseError, match="from its own periodic image"):
        validate_structure(structure)


def test_threshold_is_the_fraction_of_covalent_radii():
    limit = MIN_DISTANCE_FRACTION * 2 * covalent_radius(14)
    for distance, fails in ((limit * 0.99, True), (limit * 1.01, False)):
        structure = Structure(Lattice.cubic(6), ["Si", "Si"], [[0, 0, 0], [distance / 6, 0, 0]])
        if fails:
            with pytest.raises(AtomsTooCloseError):
                check_distances(structure)
        else:
            check_distances(structure)


# --- property-based: any structure is accepted or rejected with a project error -------------

ELEMENTS = ["H", "Li", "C", "O", "Na", "Si", "Cl", "Fe", "Cu", "Ag", "Ba", "Pb", "U", "Og"]

#: Lattice lengths (Å) and angles (°): mostly crystal-like, some wild or near-degenerate.
lengths = st.one_of(
    st.floats(min_value=2.5, max_value=8.0),
    st.floats(min_value=1e-3, max_value=50.0),
)
angles = st.one_of(
    st.floats(min_value=60.0, max_value=120.0),
    st.sampled_from([90.0, 60.0, 120.0, 109.47, 0.01, 179.99, 89.999]),
    st.floats(min_value=0.01, max_value=179.99),
)
fractions = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)


#: Crystal-like lattices: what a user's file usually holds (these reach the deeper stages).
plausible_lengths = st.floats(min_value=3.0, max_value=7.0)
plausible_angles = st.floats(min_value=75.0, max_value=105.0)


@st.composite
def structures(
    draw: st.DrawFn,
    elements: tuple[str, ...] = tuple(ELEMENTS),
    max_sites: int = 6,
    *,
    plausible: bool = False,
) -> Structure | None:
    """Random lattices (near-degenerate ones too), species, positions and occupancies.

    ``plausible``: crystal-like lattices and full occupancies only.
    """
    length, angle = (plausible_lengths, plausible_angles) if plausible else (lengths, angles)
    params = [draw(length) for _ in range(3)] + [draw(angle) for _ in range(3)]
    try:
        lattice = Lattice.from_parameters(*params)
    except ValueError:  # pymatgen refuses angles that close no cell; not our input
        return None
    n_sites = draw(st.integers(min_value=1, max_value=max_sites))
    species = []
    for _ in range(n_sites):
        symbol = draw(st.sampled_from(elements))
        occupancy = 1.0 if plausible else draw(st.sampled_from([1.0, 1.0, 1.0, 1.0, 0.5, 0.25]))
        other = draw(st.sampled_from(elements))
        if occupancy < 1 and other != symbol and draw(st.booleans()):
            species.append({symbol: occupancy, other: 1 - occupancy})
        else:
            species.append({symbol: occupancy})
    coords = [[draw(fractions) for _ in range(3)] for _ in range(n_sites)]
    return Structure(lattice, species, coords)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structure=st.one_of(structures(), structures(plausible=True)))
def test_random_structures_never_crash(structure):
    if structure is None:
        return
    error = None
    try:
        validate_structure(structure)
    except MlipFinetuneError as exc:  # any other exception fails the test
        error = exc
    if error is not None:
        assert str(error)
        assert "\n" not in str(error)  # one line
