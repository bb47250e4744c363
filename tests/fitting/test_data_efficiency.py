"""Data-efficiency curve: real tiny trainings on growing subsets, collected and plotted."""

import pytest
from jobflow import run_locally

from mlip_finetune.fitting.data_efficiency import DataEfficiencyMaker
from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.fitting.strategies import default_settings
from mlip_finetune.schemas.fitting import DataEfficiencyDocument
from mlip_finetune.schemas.jobs import JobKind, job_tag
from tests.fitting.conftest import labelled_statics as _labelled
from tests.fitting.conftest import training_data_document as _training_data


def test_curve_of_two_strategies(tmp_path, random_mace_si, monkeypatch):
    monkeypatch.chdir(tmp_path)
    statics = _labelled(str(random_mace_si), 9)
    makers = [
        FineTuneMaker(
            strategy=s,
            hyperparameters=default_settings(s).model_copy(
                update={"max_num_epochs": 3, "batch_size": 2}
            ),
            device="cpu",
        )
        for s in ("transfer", "freeze")
    ]
    flow = DataEfficiencyMaker(
        finetune_makers=makers, frame_indices=(0, 2), plot_path=str(tmp_path / "curve.png")
    ).make(_training_data(statics), statics, str(random_mace_si))
    assert sorted(j.name for j in flow.jobs) == [
        "data efficiency curve",
        "finetune freeze frames<=0",
        "finetune freeze frames<=2",
        "finetune transfer frames<=0",
        "finetune transfer frames<=2",
    ]
    tags = {j.name: job_tag(j) for j in flow.jobs}
    assert {name: (t.kind, t.stage_name) for name, t in tags.items()} == {
        "data efficiency curve": (JobKind.LIGHT, "data efficiency"),
        "finetune freeze frames<=0": (JobKind.GPU, "data efficiency"),
        "finetune freeze frames<=2": (JobKind.GPU, "data efficiency"),
        "finetune transfer frames<=0": (JobKind.GPU, "data efficiency"),
        "finetune transfer frames<=2": (JobKind.GPU, "data efficiency"),
    }
    responses = run_locally(flow, create_folders=True, ensure_success=True)
    doc = DataEfficiencyDocument.model_validate(responses[flow.output.uuid][1].output)
    assert [(p.strategy.value, p.n_train_structures) for p in doc.points] == [
        ("transfer", 2),
        ("transfer", 6),
        ("freeze", 2),
        ("freeze", 6),
    ]
    assert all(p.validation.n_structures == 3 for p in doc.points)
    assert doc.foundation_validation.force_mae_mev_per_angstrom > 0
    # the fitting layer records where the report draws the curve, and draws nothing itself
    assert doc.plot_path == str((tmp_path / "curve.png").resolve())
    assert not (tmp_path / "curve.png").exists()
    from mlip_finetune.report.plots import plot_data_efficiency

    assert plot_data_efficiency(doc, doc.plot_path).stat().st_size > 10_000


def test_bad_frame_indices():
    with pytest.raises(ValueError, match=">= 0"):
        DataEfficiencyMaker(frame_indices=(-1,)).make(None, [], "f.model")
