"""mace's command line per strategy: build_mace_train_args (pure, no training)."""

import pytest

from mlip_finetune.fitting.mace.args import build_mace_train_args
from mlip_finetune.fitting.strategies import default_settings
from mlip_finetune.schemas.fitting import FineTuneStrategy, TrainSettings


def _argdict(argv):
    out, key = {}, None
    for token in argv:
        if token.startswith("--"):
            key = token[2:]
            out[key] = True
        else:
            out[key] = token
    return out


def test_paper_defaults():
    transfer = default_settings(FineTuneStrategy.TRANSFER)
    assert (transfer.lr, transfer.weight_decay) == (0.01, 5e-3)
    assert (transfer.energy_weight, transfer.forces_weight, transfer.stress_weight) == (
        10.0,
        100.0,
        1000.0,
    )
    assert transfer.huber_delta == 0.01
    assert transfer.loss == "huber"
    assert transfer.optimizer == "adamw"
    assert transfer.scheduler == "ReduceLROnPlateau"
    assert transfer.max_num_epochs == 200
    scratch = default_settings(FineTuneStrategy.SCRATCH)
    assert (scratch.lr, scratch.weight_decay) == (0.01, 5e-7)


def test_transfer_args(tmp_path):
    argv = build_mace_train_args(
        default_settings(FineTuneStrategy.TRANSFER),
        strategy=FineTuneStrategy.TRANSFER,
        name="ft",
        train_file=tmp_path / "train.xyz",
        valid_file=tmp_path / "valid.xyz",
        work_dir=tmp_path,
        device="cpu",
        foundation_model="/models/found.model",
    )
    args = _argdict(argv)
    assert args["foundation_model"] == "/models/found.model"
    assert args["multiheads_finetuning"] == "False"
    assert args["loss"] == "huber"
    assert float(args["huber_delta"]) == 0.01
    assert float(args["energy_weight"]) == 10.0
    assert float(args["forces_weight"]) == 100.0
    assert float(args["stress_weight"]) == 1000.0
    assert float(args["lr"]) == 0.01
    assert float(args["weight_decay"]) == 5e-3
    assert args["optimizer"] == "adamw"
    assert args["scheduler"] == "ReduceLROnPlateau"
    assert args["E0s"] == "estimated"
    assert args["stress_key"] == "REF_stress"
    assert args["restart_latest"] is True
    # the architecture comes from the foundation, never from our defaults
    assert "num_channels" not in args


def test_scratch_args_and_mismatches(tmp_path):
    common = {
        "name": "s",
        "train_file": "t.xyz",
        "valid_file": "v.xyz",
        "work_dir": tmp_path,
        "device": "cpu",
    }
    args = _argdict(
        build_mace_train_args(
            TrainSettings(num_channels=16, extra_args={"max_ell": "2"}),
            strategy=FineTuneStrategy.SCRATCH,
            **common,
        )
    )
    assert args["num_channels"] == "16"
    assert args["max_ell"] == "2"
    assert "foundation_model" not in args
    with pytest.raises(ValueError, match="no foundation"):
        build_mace_train_args(
            TrainSettings(),
            strategy=FineTuneStrategy.SCRATCH,
            foundation_model="x.model",
            **common,
        )
    with pytest.raises(ValueError, match="needs a foundation"):
        build_mace_train_args(TrainSettings(), strategy=FineTuneStrategy.TRANSFER, **common)


_COMMON = {"name": "m", "train_file": "t.xyz", "valid_file": "v.xyz", "device": "cpu"}


def test_multihead_args_use_the_local_replay_file(tmp_path):
    settings = default_settings(FineTuneStrategy.MULTIHEAD)
    argv = build_mace_train_args(
        settings,
        strategy=FineTuneStrategy.MULTIHEAD,
        work_dir=tmp_path,
        foundation_model="f.model",
        replay_file="replay.xyz",
        **_COMMON,
    )
    args = _argdict(argv)
    assert args["multiheads_finetuning"] == "True"
    assert args["pt_train_file"] == "replay.xyz"
    assert args["num_samples_pt"] == str(settings.n_replay)
    assert args["force_mh_ft_lr"] == "True"  # keep the paper's lr, not mace's 1e-4
    # the strategy's part follows the common arguments, in this order
    keys = [token[2:] for token in argv if token.startswith("--")]
    start = keys.index("foundation_model")
    assert keys[start : start + 6] == [
        "foundation_model",
        "multiheads_finetuning",
        "pt_train_file",
        "num_samples_pt",
        "weight_pt_head",
        "force_mh_ft_lr",
    ]
    with pytest.raises(ValueError, match="needs a local replay file"):
        build_mace_train_args(
            settings,
            strategy=FineTuneStrategy.MULTIHEAD,
            work_dir=tmp_path,
            foundation_model="f.model",
            **_COMMON,
        )


def test_freeze_args_and_unsupported_strategies(tmp_path):
    freeze = {"strategy": FineTuneStrategy.FREEZE, "work_dir": tmp_path, **_COMMON}
    args = _argdict(
        build_mace_train_args(TrainSettings(frozen_layers=5), foundation_model="f", **freeze)
    )
    assert (args["freeze"], args["multiheads_finetuning"]) == ("5", "False")
    assert "pt_train_file" not in args
    with pytest.raises(ValueError, match="frozen_layers must be >= 1, got 0"):
        build_mace_train_args(TrainSettings(frozen_layers=0), foundation_model="f", **freeze)
    with pytest.raises(ValueError, match="Strategy 'freeze' needs a foundation model file"):
        build_mace_train_args(TrainSettings(), **freeze)
    for strategy in (FineTuneStrategy.LORA, FineTuneStrategy.LORA_FULL):
        with pytest.raises(ValueError, match="mace backend does not implement"):
            build_mace_train_args(
                TrainSettings(),
                strategy=strategy,
                work_dir=tmp_path,
                foundation_model="f",
                **_COMMON,
            )


def test_ema_and_restart_flags_close_the_list(tmp_path):
    argv = build_mace_train_args(
        TrainSettings(ema=True),
        strategy=FineTuneStrategy.TRANSFER,
        work_dir=tmp_path,
        foundation_model="f",
        **_COMMON,
    )
    assert argv[:2] == ["--name", "m"]
    assert argv[-3:] == ["--ema", "--restart_latest", "--save_cpu"]
