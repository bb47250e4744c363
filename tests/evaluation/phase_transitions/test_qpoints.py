"""Rational q-points and commensurate supercells."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice

from mlip_finetune.evaluation.phase_transitions.qpoints import (
    commensurate_supercell_matrix,
    rational_qpoint,
)


@pytest.mark.parametrize(
    ("qpoint", "size"),
    [
        ([0, 0, 0], 1),
        ([0.5, 0, 0], 2),
        ([0.5, 0.5, 0], 2),
        ([0.5, 0.5, 0.5], 2),
        ([1 / 3, 1 / 3, 0], 3),
        ([0.15, 0, 0], 20),
        ([0.25, 0.25, 0.5], 4),
        ([-0.5, 0.5, 0.0], 2),
    ],
)
def test_commensurate_supercell_is_smallest(qpoint, size):
    lattice = Lattice.hexagonal(3.0, 5.0).matrix if size == 3 else np.eye(3) * 4.0
    matrix = commensurate_supercell_matrix(qpoint, lattice)
    assert round(np.linalg.det(matrix)) == size
    product = np.asarray(qpoint) @ matrix
    assert np.allclose(product, np.rint(product), atol=1e-9)


def test_commensurate_supercell_prefers_diagonal_and_rejects_large():
    assert commensurate_supercell_matrix([0.5, 0, 0], np.eye(3)).tolist() == [
        [2, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
    ]
    assert rational_qpoint([0.02, 0.02, 0], 10) is None
    with pytest.raises(ValueError, match="not commensurate"):
        commensurate_supercell_matrix([0.02, 0.02, 0], np.eye(3), max_denominator=49)
    assert round(np.linalg.det(commensurate_supercell_matrix([0.02, 0.02, 0], np.eye(3)))) == 50
