"""The backends' errors: one hierarchy, the same classes under every import path."""

import pytest

from mlip_finetune.fitting import mace, mace_backend
from mlip_finetune.fitting.errors import TrainingDivergedError, TrainingError


def test_a_diverged_training_is_a_failed_training():
    assert issubclass(TrainingError, RuntimeError)
    with pytest.raises(TrainingError, match="loss is nan"):
        raise TrainingDivergedError("loss is nan")


def test_old_import_paths_name_the_same_classes():
    assert mace.TrainingError is mace_backend.TrainingError is TrainingError
    assert mace.TrainingDivergedError is mace_backend.TrainingDivergedError is TrainingDivergedError
