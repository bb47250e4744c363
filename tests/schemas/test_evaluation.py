import pytest
from pydantic import ValidationError

from mlip_finetune.schemas.evaluation import ValidationMetrics


def test_validation_metrics_round_trip_and_required_fields():
    kw = {
        "n_structures": 4,
        "n_atoms": 8,
        "energy_offset_per_atom": -0.01,
        "energy_mae": 1.0,
        "energy_rmse": 1.2,
        "force_mae": 50.0,
        "force_rmse": 60.0,
        "stress_mae": 0.1,
        "stress_rmse": 0.2,
    }
    m = ValidationMetrics(**kw)
    assert ValidationMetrics.model_validate_json(m.model_dump_json()) == m
    kw.pop("force_mae")
    with pytest.raises(ValidationError):
        ValidationMetrics(**kw)
