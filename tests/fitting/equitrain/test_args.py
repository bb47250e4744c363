"""equitrain's three argument lists (pure, no training), parsed by equitrain's own parsers."""

import pytest

from mlip_finetune.fitting.equitrain.args import (
    build_equitrain_export_args,
    build_equitrain_preprocess_args,
    build_equitrain_train_args,
)
from mlip_finetune.fitting.strategies import default_settings
from mlip_finetune.schemas.fitting import FineTuneStrategy, TrainSettings


def _train_args(settings, **kwargs):
    return build_equitrain_train_args(
        settings,
        train_file="d/train.h5",
        valid_file="d/valid.h5",
        foundation_model="found.model",
        output_dir="ckpt",
        **kwargs,
    )


def test_train_args_carry_the_paper_settings():
    from equitrain import get_args_parser_train

    settings = default_settings(FineTuneStrategy.LORA_FULL)
    argv = _train_args(settings)
    args = get_args_parser_train().parse_args(argv)
    assert (args.lr, args.weight_decay) == (0.01, 10.0)
    assert (args.energy_weight, args.forces_weight, args.stress_weight) == (10.0, 100.0, 1000.0)
    assert (args.loss_type, args.huber_delta) == ("huber", 0.01)
    assert (args.opt, args.scheduler, args.epochs) == ("adamw", "plateau", 200)
    assert (args.plateau_factor, args.plateau_patience) == (0.8, 5)
    assert (args.model, args.model_wrapper, args.output_dir) == ("found.model", "mace", "ckpt")
    assert args.gradient_clipping == 10.0
    assert args.keep_best_checkpoints == 1
    assert not args.load_last_checkpoint
    assert argv[-1] == "-v"
    assert argv[argv.index("--pin-memory") + 1] == "False"
    assert "--ema" not in argv


def test_train_args_resume_ema_and_device():
    settings = TrainSettings(max_num_epochs=10, ema=True)
    argv = _train_args(settings, device="cuda:1", resume_from_epoch=4)
    assert argv[argv.index("--epochs") + 1] == "6"  # the remaining epochs only
    assert argv[argv.index("--pin-memory") + 1] == "True"
    assert argv[-5:] == ["--ema", "--ema-decay", "0.99", "--load-last-checkpoint", "-v"]
    finished = _train_args(settings, resume_from_epoch=12)
    assert finished[finished.index("--epochs") + 1] == "0"


def test_train_args_refuse_what_equitrain_cannot_run():
    with pytest.raises(ValueError, match="Huber loss only, got loss='weighted'"):
        _train_args(TrainSettings(loss="weighted"))
    with pytest.raises(ValueError, match="ReduceLROnPlateau scheduler only"):
        _train_args(TrainSettings(scheduler="ExponentialLR"))


def test_preprocess_args():
    from equitrain import get_args_parser_preprocess

    argv = build_equitrain_preprocess_args(
        train_file="t.xyz",
        valid_file="v.xyz",
        output_dir="data",
        e0s={14: -5.4, 8: -1.5},
        r_max=5,
        seed=7,
        dtype="float64",
    )
    assert argv[argv.index("--atomic-numbers") + 1] == "[8, 14]"
    assert argv[argv.index("--atomic-energies") + 1] == "{8: -1.5, 14: -5.4}"
    assert argv[argv.index("--r-max") + 1] == "5.0"
    args = get_args_parser_preprocess().parse_args(argv)
    assert (args.train_file, args.valid_file, args.output_dir) == ("t.xyz", "v.xyz", "data")
    assert (args.energy_key, args.forces_key, args.stress_key) == (
        "REF_energy",
        "REF_forces",
        "REF_stress",
    )
    assert args.compute_statistics
    assert (args.seed, args.dtype) == (7, "float64")


def test_export_args():
    from equitrain import get_args_parser_export

    argv = build_equitrain_export_args(
        foundation_model="found.model", checkpoint_dir="ckpt", model_path="out.model"
    )
    args = get_args_parser_export().parse_args(argv)
    assert (args.model, args.model_wrapper, args.output_dir) == ("found.model", "mace", "ckpt")
    assert args.load_last_checkpoint
    assert (args.fine_tune_wrapper, args.model_export) == ("auto", "out.model")
