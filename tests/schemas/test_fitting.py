"""Documents and settings of the fine-tuning stage."""

import pytest
from pydantic import ValidationError

from mlip_finetune.schemas.evaluation import ValidationMetrics
from mlip_finetune.schemas.fitting import (
    DataEfficiencyDocument,
    FineTuneDocument,
    FineTuneStrategy,
    MaceTrainSettings,
    ReplayInfo,
    SurrogateDocument,
    TrainSettings,
)


def _metrics():
    return ValidationMetrics.model_validate(dict.fromkeys(ValidationMetrics.model_fields, 1))


def _finetune(**update):
    fields = {
        "strategy": "multihead",
        "model_path": "/m/ft.model",
        "model_sha256": "a" * 64,
        "foundation_name": "standin",
        "hyperparameters": TrainSettings().model_dump(),
        "train_args": ["--name", "ft", "--E0s", "{14: -5.4}"],
        "multihead_active": True,
        "replay": {
            "path": "/w/replay.xyz",
            "sha256": "b" * 64,
            "n_structures": 12,
            "source": "built",
        },
        "e0s": {14: -5.4},
        "e0s_source": "foundation",
        "n_train_structures": 16,
        "n_train_atoms": 128,
        "n_valid_structures": 4,
        "epochs": [
            {
                "epoch": 0,
                "head": "Default",
                "loss": 1.0,
                "energy_mae_mev_per_atom": 2.0,
                "force_mae_mev_per_angstrom": 3.0,
            }
        ],
        "validation": _metrics(),
        "training": _metrics(),
        "foundation_validation": _metrics(),
        "wall_time_s": 12.0,
        "device": "cpu",
        "versions": {"mace-torch": "0.3.16"},
    }
    return fields | update


def test_strategies_are_the_papers_six():
    assert [s.value for s in FineTuneStrategy] == [
        "transfer",
        "multihead",
        "lora_full",
        "lora",
        "freeze",
        "scratch",
    ]
    with pytest.raises(ValueError, match="not a valid"):
        FineTuneStrategy("equitrain")


def test_train_settings_paper_defaults_and_former_name():
    settings = TrainSettings()
    assert (settings.energy_weight, settings.forces_weight, settings.stress_weight) == (
        10.0,
        100.0,
        1000.0,
    )
    assert (settings.huber_delta, settings.max_num_epochs, settings.E0s) == (
        0.01,
        200,
        "estimated",
    )
    assert MaceTrainSettings is TrainSettings
    with pytest.raises(ValidationError):
        TrainSettings(optimizer="sgd")


def test_finetune_document_round_trip_and_former_field_name():
    doc = FineTuneDocument.model_validate(_finetune())
    assert isinstance(doc.replay, ReplayInfo)
    assert doc.strategy is FineTuneStrategy.MULTIHEAD
    data = doc.model_dump(mode="json")
    assert data["train_args"] == ["--name", "ft", "--E0s", "{14: -5.4}"]
    assert "mace_args" not in data
    assert FineTuneDocument.model_validate_json(doc.model_dump_json()) == doc
    # documents stored before the rename still load
    old = _finetune()
    old["mace_args"] = old.pop("train_args")
    assert FineTuneDocument.model_validate(old).train_args == doc.train_args
    with pytest.raises(ValidationError):
        FineTuneDocument.model_validate(_finetune(strategy="lora_ful"))


def test_data_efficiency_and_surrogate_documents_round_trip():
    curve = DataEfficiencyDocument(
        points=[
            {
                "strategy": "lora",
                "max_frame_index": 0,
                "n_train_structures": 4,
                "n_train_atoms": 32,
                "validation": _metrics(),
                "wall_time_s": 1.0,
                "model_path": "/m/l.model",
            }
        ],
        foundation_validation=_metrics(),
    )
    assert curve.plot_path is None
    assert DataEfficiencyDocument.model_validate_json(curve.model_dump_json()) == curve
    surrogate = SurrogateDocument(
        teacher_path="/m/t.model",
        teacher_sha256="c" * 64,
        student_path="/m/s.model",
        student_sha256="d" * 64,
        architecture={"num_channels": "32"},
        teacher_parameters=1000,
        student_parameters=100,
        n_train_structures=50,
        n_valid_structures=10,
        student_vs_teacher=_metrics(),
        timing_atoms=64,
        teacher_time_s=0.2,
        student_time_s=0.05,
        speed_ratio=4.0,
        epochs=[],
        wall_time_s=30.0,
    )
    assert surrogate.student_vs_dft is None
    assert SurrogateDocument.model_validate_json(surrogate.model_dump_json()) == surrogate
