"""The exception hierarchy: input errors are project errors and ValueErrors."""

import pytest

from mlip_finetune.core.errors import InputError, MlipFinetuneError


def test_input_error_is_a_project_error_and_a_value_error():
    with pytest.raises(MlipFinetuneError, match="bad cell"):
        raise InputError("bad cell")
    assert issubclass(InputError, ValueError)
