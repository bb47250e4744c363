"""Real (tiny) equitrain runs through run_equitrain_finetune: result, restart, divergence, input."""

import numpy as np
import pytest

from mlip_finetune.fitting.equitrain.parse import DIVERGED_MARKER
from mlip_finetune.fitting.equitrain.run import (
    _device_env,
    _drop_incomplete_checkpoints,
    last_checkpoint,
    run_equitrain_finetune,
)
from mlip_finetune.fitting.errors import TrainingDivergedError
from tests.fitting.equitrain.conftest import E0S, finetune, settings


def test_device_env():
    assert _device_env("cpu") == {"ACCELERATE_USE_CPU": "true"}
    assert _device_env("cuda") == {}
    assert _device_env("cuda:2") == {"CUDA_VISIBLE_DEVICES": "2"}
    with pytest.raises(ValueError, match="Unsupported device 'mps'"):
        _device_env("mps")


def test_incomplete_checkpoints_are_dropped(tmp_path):
    assert last_checkpoint(tmp_path / "none") is None
    complete, cut = tmp_path / "best_val_epochs@2_e@0.1", tmp_path / "best_val_epochs@3_e@0.1"
    complete.mkdir()
    (complete / "args.json").write_text("{}")
    cut.mkdir()
    _drop_incomplete_checkpoints(tmp_path)
    assert complete.is_dir()
    assert not cut.exists()


def test_finetuning_lowers_the_validation_force_error(data, decayed):
    import mace  # noqa: F401
    from mace.calculators import MACECalculator

    def force_mae(model_path):
        calc = MACECalculator(model_paths=str(model_path), device="cpu")
        errors = []
        for doc in data["valid_docs"]:
            atoms = doc.structure.to_ase_atoms()
            atoms.calc = calc
            errors.append(np.abs(atoms.get_forces() - np.asarray(doc.forces)).ravel())
        return 1000 * float(np.mean(np.concatenate(errors)))

    _, result = decayed
    foundation, finetuned = force_mae(data["foundation"]), force_mae(result.model_path)
    assert finetuned < 0.8 * foundation
    # the backend's epoch-0 record is the foundation, evaluated by equitrain (meV/Å, 0.01 res.)
    assert result.epochs[0].force_mae_mev_per_angstrom == pytest.approx(foundation, abs=0.02)


def test_nan_loss_stops_with_the_label_and_epoch(data, tmp_path):
    with pytest.raises(TrainingDivergedError, match=r"Training 'lora_full' diverged: .* epoch 1\."):
        finetune(data, tmp_path, train_settings=settings(lr=1e12, max_num_epochs=3))
    assert DIVERGED_MARKER in (tmp_path / "equitrain_train.log").read_text()
    assert not (tmp_path / "ft.model").exists()


def test_restart_resumes_from_the_last_checkpoint(resumed):
    work_dir, first, checkpoint_epoch, second = resumed
    assert [r.epoch for r in first.epochs] == [0, 1, 2]
    assert checkpoint_epoch == 2
    # evaluation of the restored checkpoint, then epochs 3 and 4 only
    assert [r.epoch for r in second.epochs] == [2, 3, 4]
    assert second.epochs[0] == first.epochs[-1]
    assert "--load-last-checkpoint" in second.args
    assert second.args[second.args.index("--epochs") + 1] == "2"
    log = (work_dir / "equitrain_train.log").read_text()
    assert "resuming from best_val_epochs@2_" in log
    kept = [p.name for p in (work_dir / "equitrain_checkpoints").glob("best_val_epochs@*")]
    assert len(kept) == 1
    assert kept[0].startswith("best_val_epochs@4_")  # monotone here: each epoch improved


def test_bad_input_is_refused_early(data, tmp_path):
    with pytest.raises(FileNotFoundError, match="Foundation model file not found"):
        run_equitrain_finetune(
            "delta",
            settings(),
            name="x",
            train_file=data["train"],
            valid_file=data["valid"],
            foundation_model=tmp_path / "missing.model",
            work_dir=tmp_path,
            device="cpu",
            e0s=E0S,
        )
    with pytest.raises(ValueError, match="Unknown equitrain mode"):
        finetune(data, tmp_path, mode="freeze")
    with pytest.raises(ValueError, match="LoRA needs a rank"):
        finetune(data, tmp_path, mode="lora")
    with pytest.raises(ValueError, match="Huber loss only"):
        finetune(data, tmp_path, train_settings=settings(loss="weighted"))
    assert not (tmp_path / "equitrain_train.log").exists()
