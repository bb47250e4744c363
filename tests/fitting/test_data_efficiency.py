"""Data-efficiency curve: real tiny trainings on growing subsets, collected and plotted."""

import pytest
from jobflow import run_locally

from mlip_finetune.fitting.data_efficiency import DataEfficiencyMaker
from mlip_finetune.fitting.jobs import FineTuneMaker, split_statics
from mlip_finetune.fitting.strategies import default_settings
from mlip_finetune.schemas.data import TrainingDataDocument, TrainingFrame
from mlip_finetune.schemas.fitting import DataEfficiencyDocument
from tests.fitting.test_training import _labelled


def _training_data(statics):
    """3 trajectories × 3 frames: trajectory 2 is validation; frame_index 0..2."""
    frames = [
        TrainingFrame(
            structure=s.structure,
            trajectory_index=i // 3,
            volume_scale=[-0.05, 0.05, 0.0][i // 3],
            frame_index=i % 3,
            relaxation_step=i % 3,
            foundation_energy=s.energy,
            split="validation" if i // 3 == 2 else "train",
        )
        for i, s in enumerate(statics)
    ]
    return TrainingDataDocument(
        formula="Si",
        protocol="primitive",
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        n_atoms_supercell=2,
        frames=frames,
        relaxations=[],
        n_train=6,
        n_validation=3,
        seed=0,
        foundation_model_path="",
        foundation_model_sha256="",
    )


def test_subsets_grow_from_the_outermost_frames(random_mace_si):
    statics = _labelled(str(random_mace_si), 9)
    data = _training_data(statics)
    sizes = [len(split_statics(data, statics, k)[0]) for k in (0, 1, 2)]
    assert sizes == [2, 4, 6]
    train0, valid0 = split_statics(data, statics, 0)
    assert [s.label for s in train0] == ["0", "3"]  # frame 0 of trajectories 0 and 1
    assert len(valid0) == 3  # the validation set is always complete


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
    responses = run_locally(flow, create_folders=True, ensure_success=True)
    doc = DataEfficiencyDocument.model_validate(responses[flow.output.uuid][1].output)
    assert [(p.strategy.value, p.n_train_structures) for p in doc.points] == [
        ("transfer", 2),
        ("transfer", 6),
        ("freeze", 2),
        ("freeze", 6),
    ]
    assert all(p.validation.n_structures == 3 for p in doc.points)
    assert doc.foundation_validation.force_mae > 0
    assert (tmp_path / "curve.png").stat().st_size > 10_000


def test_bad_frame_indices():
    with pytest.raises(ValueError, match=">= 0"):
        DataEfficiencyMaker(frame_indices=(-1,)).make(None, [], "f.model")
