"""Tests of :mod:`mlip_finetune.foundation.elements`: elements a model covers."""

from __future__ import annotations

import pytest

from mlip_finetune.foundation.elements import (
    UnsupportedElementError,
    check_model_elements,
    model_elements,
)


def test_model_elements(random_mace_nacl):
    assert model_elements(random_mace_nacl) == [11, 17]
    check_model_elements(random_mace_nacl, [11, 17, 11])
    with pytest.raises(UnsupportedElementError, match="Si"):
        check_model_elements(random_mace_nacl, [11, 14])
