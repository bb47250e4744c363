"""Fixtures of the fine-tuning data tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """MACE on a small, busy machine is ~10x faster on one thread than on two."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def si_cube64(si_primitive):
    """64-atom cubic supercell of diamond Si (the LARGE protocol's cell)."""
    from mlip_finetune.data.supercells import (
        SupercellProtocol,
        primitive_standard,
        supercell_matrix_for_protocol,
    )

    matrix = supercell_matrix_for_protocol(si_primitive, SupercellProtocol.LARGE)
    return primitive_standard(si_primitive).make_supercell(matrix, in_place=False)
