"""train_model's dispatch through the strategy registry, and real (tiny) mace trainings.

The dispatch tests replace the backends by recorders: each strategy must hand mace (or
equitrain) exactly the arguments its StrategySpec says. The real trainings check that
divergence and failures of run_mace_train are readable.
"""

from pathlib import Path

import pytest

from mlip_finetune.fitting.dataset import write_extxyz
from mlip_finetune.fitting.e0s import model_e0s
from mlip_finetune.fitting.mace_backend import (
    TrainingDivergedError,
    TrainingError,
    build_mace_train_args,
    run_mace_train,
)
from mlip_finetune.fitting.strategies import FineTuneStrategy, default_settings
from mlip_finetune.fitting.training import train_model
from mlip_finetune.schemas.fitting import MaceTrainResult
from tests.fitting.conftest import labelled_statics as _labelled


class _Backends:
    """Recorders in place of mace's and equitrain's training runs."""

    def __init__(self, monkeypatch, *, multihead_log=True):
        import mlip_finetune.fitting.equitrain.run as equitrain_run
        import mlip_finetune.fitting.mace.heads as mace_heads
        import mlip_finetune.fitting.mace.run as mace_run

        self.mace: list[dict] = []
        self.equitrain: list[dict] = []
        self.heads: list[tuple] = []
        self.multihead_log = multihead_log
        monkeypatch.setattr(mace_run, "run_mace_train", self.run_mace)
        monkeypatch.setattr(equitrain_run, "run_equitrain_finetune", self.run_equitrain)
        monkeypatch.setattr(mace_heads, "extract_head", self.extract_head)

    def run_mace(self, args, work_dir, *, label, on_epoch=None):
        name = args[args.index("--name") + 1]
        self.mace.append({"args": args, "label": label, "on_epoch": on_epoch})
        log = Path(work_dir) / "mace_train.log"
        log.write_text("Using multiheads finetuning mode\n" if self.multihead_log else "")
        return self._result(Path(work_dir) / f"{name}.model", log, args)

    def run_equitrain(self, mode, settings, **kwargs):
        self.equitrain.append({"mode": mode, "settings": settings, **kwargs})
        model = Path(kwargs["work_dir"]) / f"{kwargs['name']}.model"
        return self._result(model, Path(kwargs["work_dir"]) / "log", ["--equitrain"])

    def extract_head(self, model_path, head, out_path):
        self.heads.append((Path(model_path).name, head, Path(out_path).name))
        Path(out_path).write_text("head")
        return Path(out_path)

    @staticmethod
    def _result(model, log, args):
        model.write_text("model")
        return MaceTrainResult(
            model_path=str(model),
            log_path=str(log),
            epochs=[],
            args=args,
            wall_time_s=0.0,
            multihead_active=False,
        )


def _value(args, key):
    return args[args.index(f"--{key}") + 1]


@pytest.fixture(scope="module")
def si_statics(random_mace_si):
    return _labelled(str(random_mace_si), 6)


def _train(strategy, foundation, statics, work_dir, **kwargs):
    settings = kwargs.pop("settings", default_settings(strategy))
    return train_model(
        strategy,
        settings,
        train=statics[:4],
        valid=statics[4:],
        foundation_model_path=str(foundation),
        work_dir=work_dir,
        **kwargs,
    )


@pytest.mark.parametrize("strategy", ["transfer", "freeze"])
def test_transfer_and_freeze_start_mace_from_the_foundation(
    strategy, monkeypatch, tmp_path, random_mace_si, si_statics
):
    backends = _Backends(monkeypatch)
    outcome = _train(strategy, random_mace_si, si_statics, tmp_path, architecture={"x": "1"})
    (call,) = backends.mace
    args = call["args"]
    assert call["label"] == strategy
    assert _value(args, "foundation_model") == str(random_mace_si)
    assert _value(args, "name") == f"finetuned_{strategy}"
    assert _value(args, "train_file") == str(tmp_path.resolve() / "train.xyz")
    assert "--x" not in args  # an architecture is for scratch training only
    assert ("--freeze" in args) is (strategy == "freeze")
    # E0s explicit (the foundation's), DFT energies shifted onto the foundation's zero
    assert _value(args, "E0s") == repr(model_e0s(str(random_mace_si)))
    assert outcome.energy_shift.keys() == {14}
    shift = outcome.energy_shift[14]
    for before, after in zip(si_statics[:4], outcome.train_statics, strict=True):
        assert after.energy == pytest.approx(before.energy - 2 * shift)
    assert outcome.backend == "mace"
    assert outcome.model_path == str((tmp_path / f"finetuned_{strategy}.model").resolve())
    assert outcome.replay is None
    assert backends.heads == []
    assert backends.equitrain == []


def test_multihead_builds_a_replay_set_and_hands_on_the_default_head(
    monkeypatch, tmp_path, random_mace_si, si_statics
):
    backends = _Backends(monkeypatch)
    settings = default_settings("multihead").model_copy(update={"n_replay": 5})
    outcome = _train("multihead", random_mace_si, si_statics, tmp_path, settings=settings)
    (call,) = backends.mace
    assert _value(call["args"], "pt_train_file") == str(tmp_path.resolve() / "replay.xyz")
    assert _value(call["args"], "multiheads_finetuning") == "True"
    assert outcome.replay.n_structures == 5
    assert outcome.replay.source.startswith("built")
    assert backends.heads == [
        ("finetuned_multihead.model", "Default", "finetuned_multihead_default_head.model")
    ]
    assert outcome.model_path == str(tmp_path.resolve() / "finetuned_multihead_default_head.model")
    assert outcome.effective["multihead"] is True


def test_multihead_refuses_a_transfer_run_and_average_e0s(
    monkeypatch, tmp_path, random_mace_si, si_statics
):
    _Backends(monkeypatch, multihead_log=False)
    settings = default_settings("multihead").model_copy(update={"n_replay": 3})
    with pytest.raises(RuntimeError, match="did not run multi-head"):
        _train("multihead", random_mace_si, si_statics, tmp_path, settings=settings)
    average = settings.model_copy(update={"E0s": "average"})
    with pytest.raises(ValueError, match="cannot use E0s='average'"):
        _train("multihead", random_mace_si, si_statics, tmp_path / "avg", settings=average)


def test_scratch_takes_the_foundation_architecture_without_its_weights(
    monkeypatch, tmp_path, random_mace_si, si_statics
):
    from mlip_finetune.fitting.mace_backend import foundation_architecture

    backends = _Backends(monkeypatch)
    outcome = _train("scratch", random_mace_si, si_statics, tmp_path / "copy")
    _train("scratch", random_mace_si, si_statics, tmp_path / "own", architecture={"r_max": "3.0"})
    copied, own = (call["args"] for call in backends.mace)
    assert "--foundation_model" not in copied
    for key, value in foundation_architecture(random_mace_si).items():
        assert _value(copied, key) == value
    assert _value(own, "r_max") == "3.0"
    assert "--hidden_irreps" not in own
    # E0s averaged by mace, energies unshifted
    assert _value(copied, "E0s") == "average"
    assert outcome.energy_shift == {}
    assert [s.energy for s in outcome.train_statics] == [s.energy for s in si_statics[:4]]


@pytest.mark.parametrize(
    ("strategy", "wrapper"),
    [("lora_full", ("delta", None, None)), ("lora", ("lora", 4, 1.0))],
)
def test_equitrain_strategies_name_their_wrapper(  # noqa: PLR0917
    strategy, wrapper, monkeypatch, tmp_path, random_mace_si, si_statics
):
    backends = _Backends(monkeypatch)
    outcome = _train(strategy, random_mace_si, si_statics, tmp_path)
    (call,) = backends.equitrain
    assert (call["mode"], call["lora_rank"], call["lora_alpha"]) == wrapper
    assert call["label"] == strategy
    assert call["foundation_model"] == random_mace_si
    assert call["e0s"] == model_e0s(str(random_mace_si))
    assert call["settings"].E0s == repr(model_e0s(str(random_mace_si)))
    assert call["train_file"] == tmp_path.resolve() / "train.xyz"
    assert outcome.backend == "equitrain"
    assert outcome.effective == {"args": ["--equitrain"], "multihead": False}
    assert backends.mace == []


def _args(tmp_path, foundation, **update):
    docs = _labelled(foundation, 6)
    settings = default_settings(FineTuneStrategy.TRANSFER).model_copy(update=update)
    return build_mace_train_args(
        settings,
        strategy=FineTuneStrategy.TRANSFER,
        name="t",
        train_file=write_extxyz(docs[:4], tmp_path / "train.xyz"),
        valid_file=write_extxyz(docs[4:], tmp_path / "valid.xyz"),
        work_dir=tmp_path,
        device="cpu",
        foundation_model=foundation,
    )


def test_transfer_training_runs_and_logs_epochs(tmp_path, random_mace_si):
    seen = []
    result = run_mace_train(
        _args(tmp_path, str(random_mace_si), max_num_epochs=3, E0s="{14: -5.4}"),
        tmp_path,
        label="transfer",
        on_epoch=seen.append,
    )
    assert [r.epoch for r in seen] == [0, 1, 2]
    assert result.epochs == seen
    assert result.multihead_active is False
    assert (tmp_path / "t.model").is_file()
    assert result.model_path == str((tmp_path / "t.model").resolve())


def test_nan_loss_stops_with_a_clear_error(tmp_path, random_mace_si):
    args = _args(tmp_path, str(random_mace_si), max_num_epochs=20, lr=1e12, E0s="{14: -5.4}")
    with pytest.raises(TrainingDivergedError, match=r"Training 'transfer' diverged: .* epoch"):
        run_mace_train(args, tmp_path, label="transfer")


def test_failed_training_quotes_the_log(tmp_path, random_mace_si):
    args = _args(tmp_path, str(random_mace_si), max_num_epochs=1, E0s="{14: -5.4}")
    args[args.index("--train_file") + 1] = str(tmp_path / "missing.xyz")
    with pytest.raises(TrainingError, match="failed") as err:
        run_mace_train(args, tmp_path, label="transfer")
    assert "missing.xyz" in str(err.value)


def test_scratch_training_copies_the_foundation_architecture(tmp_path, random_mace_si):
    import torch
    from mace.tools.scripts_utils import extract_config_mace_model

    from mlip_finetune.fitting.mace_backend import foundation_architecture

    architecture = foundation_architecture(random_mace_si)
    assert architecture["hidden_irreps"] == "8x0e+8x1o"
    assert architecture["model"] == "ScaleShiftMACE"
    assert float(architecture["r_max"]) == 4.5
    docs = _labelled(str(random_mace_si), 6)
    settings = default_settings(FineTuneStrategy.SCRATCH).model_copy(update={"max_num_epochs": 2})
    args = build_mace_train_args(
        settings,
        strategy=FineTuneStrategy.SCRATCH,
        name="s",
        train_file=write_extxyz(docs[:4], tmp_path / "train.xyz"),
        valid_file=write_extxyz(docs[4:], tmp_path / "valid.xyz"),
        work_dir=tmp_path,
        device="cpu",
        architecture=architecture,
    )
    assert "foundation_model" not in " ".join(args)
    result = run_mace_train(args, tmp_path, label="scratch")
    trained = torch.load(result.model_path, weights_only=False)
    foundation = torch.load(random_mace_si, weights_only=False)
    config = extract_config_mace_model(trained)
    assert str(config["hidden_irreps"]) == "8x0e+8x1o"
    assert config["r_max"] == 4.5
    assert config["num_interactions"] == 2
    # same shapes, independent (random) weights: not a copy of the foundation
    w_new = trained.node_embedding.linear.weight.detach()
    w_old = foundation.node_embedding.linear.weight.detach()
    assert w_new.shape == w_old.shape
    assert not torch.allclose(w_new, w_old)
