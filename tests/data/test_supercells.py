"""Tests of :mod:`mlip_finetune.data.supercells` (paper §4.2)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlip_finetune.data.supercells import (
    SUPERCELL_LENGTHS,
    SupercellError,
    SupercellProtocol,
    primitive_standard,
    shortest_distance,
    supercell_matrix_for_protocol,
)

A_SI = 5.468
D_NN_SI = A_SI * np.sqrt(3) / 4


def test_primitive_protocol_is_identity(si_primitive):
    matrix = supercell_matrix_for_protocol(si_primitive, SupercellProtocol.PRIMITIVE)
    assert matrix.dtype.kind == "i"
    np.testing.assert_array_equal(matrix, np.eye(3, dtype=int))


@pytest.mark.parametrize(
    ("protocol", "n_atoms", "edge"),
    [(SupercellProtocol.SMALL, 8, A_SI), ("large", 64, 2 * A_SI)],
)
def test_cubic_supercells_of_diamond_si(si_primitive, protocol, n_atoms, edge):
    matrix = supercell_matrix_for_protocol(si_primitive, protocol)
    assert matrix.shape == (3, 3)
    assert matrix.dtype.kind == "i"
    supercell = primitive_standard(si_primitive).make_supercell(matrix, in_place=False)
    assert len(supercell) == n_atoms
    assert round(abs(np.linalg.det(matrix))) == n_atoms // 2
    np.testing.assert_allclose(supercell.lattice.abc, [edge] * 3, atol=1e-6)
    np.testing.assert_allclose(supercell.lattice.angles, [90.0] * 3, atol=1e-6)


def test_supercell_matrix_refers_to_primitive_standard_cell(si_primitive):
    conventional = Structure.from_spacegroup("Fd-3m", Lattice.cubic(A_SI), ["Si"], [[0, 0, 0]])
    np.testing.assert_array_equal(
        supercell_matrix_for_protocol(conventional, "small"),
        supercell_matrix_for_protocol(si_primitive, "small"),
    )


def test_supercell_error_when_no_orthogonal_cell_fits():
    monoclinic = Structure(
        Lattice.from_parameters(3.1, 4.3, 5.2, 90, 103, 90),
        ["Zr", "O"],
        [[0, 0, 0], [0.3, 0.4, 0.2]],
    )
    with pytest.raises(SupercellError, match=r"between 5.0 and 10.0 Å \(protocol 'small'\)"):
        supercell_matrix_for_protocol(monoclinic, SupercellProtocol.SMALL)


def test_unknown_protocol_is_rejected(si_primitive):
    with pytest.raises(ValueError, match="huge"):
        supercell_matrix_for_protocol(si_primitive, "huge")


def test_protocol_windows_follow_the_paper():
    assert SUPERCELL_LENGTHS == {
        SupercellProtocol.SMALL: (5.0, 10.0),
        SupercellProtocol.LARGE: (10.0, 15.0),
    }
    assert [p.value for p in SupercellProtocol] == ["primitive", "small", "large"]


def test_shortest_distance_including_self_images(si_primitive):
    assert shortest_distance(si_primitive) == pytest.approx(D_NN_SI, rel=1e-9)
    copper = Structure(Lattice.from_parameters(2.55, 2.55, 2.55, 60, 60, 60), ["Cu"], [[0, 0, 0]])
    assert shortest_distance(copper) == pytest.approx(2.55, rel=1e-9)
