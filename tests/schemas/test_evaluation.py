import pytest
from pydantic import ValidationError

from mlip_finetune.schemas.evaluation import ValidationMetrics


def test_validation_metrics_round_trip_and_required_fields():
    kw = {
        "n_structures": 4,
        "n_atoms": 8,
        "energy_offset_per_atom": -0.01,
        "energy_mae_mev_per_atom": 1.0,
        "energy_rmse_mev_per_atom": 1.2,
        "force_mae_mev_per_angstrom": 50.0,
        "force_rmse_mev_per_angstrom": 60.0,
        "stress_mae_gpa": 0.1,
        "stress_rmse_gpa": 0.2,
    }
    m = ValidationMetrics(**kw)
    assert ValidationMetrics.model_validate_json(m.model_dump_json()) == m
    kw.pop("force_mae_mev_per_angstrom")
    with pytest.raises(ValidationError):
        ValidationMetrics(**kw)


def test_documents_stored_with_the_old_bare_names_still_load():
    old = {
        "n_structures": 1,
        "n_atoms": 2,
        "energy_offset_per_atom": 0.0,
        "energy_mae": 1.0,
        "energy_rmse": 1.0,
        "force_mae": 2.0,
        "force_rmse": 2.0,
        "stress_mae": 0.1,
        "stress_rmse": 0.1,
    }
    m = ValidationMetrics.model_validate(old)
    assert m.force_mae_mev_per_angstrom == 2.0
    assert m.stress_mae_gpa == 0.1
    assert "force_mae_mev_per_angstrom" in m.model_dump()
