"""mace's command line for one strategy: :func:`build_mace_train_args` (pure, no training)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mlip_finetune.fitting.dataset import ENERGY_KEY, FORCES_KEY, STRESS_KEY
from mlip_finetune.schemas.fitting import FineTuneStrategy, TrainSettings

if TYPE_CHECKING:
    from collections.abc import Callable


def build_mace_train_args(
    settings: TrainSettings,
    *,
    strategy: FineTuneStrategy,
    name: str,
    train_file: str | Path,
    valid_file: str | Path,
    work_dir: str | Path,
    device: str,
    foundation_model: str | Path | None = None,
    architecture: dict[str, str] | None = None,
    replay_file: str | Path | None = None,
) -> list[str]:
    """Build the argument list of ``mace.cli.run_train`` for one strategy.

    Parameters
    ----------
    settings
        Hyper-parameters (paper §4.3 defaults in
        :func:`mlip_finetune.fitting.strategies.default_settings`).
    strategy
        ``TRANSFER``, ``MULTIHEAD`` and ``FREEZE`` need ``foundation_model``; ``SCRATCH``
        must not have one. The equitrain strategies are not mace's
        (:mod:`mlip_finetune.fitting.equitrain`).
    name
        Model name; the model is written to ``work_dir/<name>.model``.
    train_file, valid_file
        Extended-XYZ files with ``REF_energy``/``REF_forces``/``REF_stress``.
    work_dir
        Directory for checkpoints, logs and the model.
    device
        ``"cpu"`` or ``"cuda"``.
    foundation_model
        Path of the foundation MACE model file.
    architecture
        For ``SCRATCH``: mace architecture arguments, e.g. the foundation's from
        :func:`mlip_finetune.fitting.mace.heads.foundation_architecture`; None uses the
        settings' architecture fields.
    replay_file
        For ``MULTIHEAD``: extended-XYZ replay set for the foundation's head (``pt_head``),
        same ``REF_*`` keys; mace splits its own validation part off it.

    Returns
    -------
    list of str
        ``["--name", name, ...]``. Every switch mace would otherwise set on its own is set
        explicitly (DESIGN.md traps): ``--multiheads_finetuning`` is False except for
        ``MULTIHEAD``, where ``--pt_train_file`` is the local replay file (never ``mp``, a
        download) and ``--force_mh_ft_lr True`` keeps the paper's lr instead of mace's 1e-4.

    Raises
    ------
    ValueError
        On a strategy/foundation mismatch, a multihead run without replay file, or a
        strategy mace does not implement.
    """
    work_dir = Path(work_dir)
    args = {
        "name": name,
        "seed": settings.seed,
        "work_dir": work_dir,
        "model_dir": work_dir,
        "checkpoints_dir": work_dir / "checkpoints",
        "results_dir": work_dir / "results",
        "log_dir": work_dir / "logs",
        "train_file": train_file,
        "valid_file": valid_file,
        "energy_key": ENERGY_KEY,
        "forces_key": FORCES_KEY,
        "stress_key": STRESS_KEY,
        "compute_stress": True,
        "loss": settings.loss,
        "huber_delta": settings.huber_delta,
        "energy_weight": settings.energy_weight,
        "forces_weight": settings.forces_weight,
        "stress_weight": settings.stress_weight,
        "error_table": "PerAtomMAEstressvirials",
        "optimizer": settings.optimizer,
        "lr": settings.lr,
        "weight_decay": settings.weight_decay,
        "scheduler": settings.scheduler,
        "lr_factor": settings.lr_factor,
        "scheduler_patience": settings.scheduler_patience,
        "max_num_epochs": settings.max_num_epochs,
        "patience": settings.patience,
        "batch_size": settings.batch_size,
        "valid_batch_size": settings.valid_batch_size,
        "eval_interval": settings.eval_interval,
        "default_dtype": settings.default_dtype,
        "device": device,
        "E0s": settings.E0s,
        "enable_cueq": False,
        "plot": False,
    }
    inputs = _StrategyInputs(strategy, settings, foundation_model, architecture, replay_file)
    args |= _strategy_args(inputs)
    args |= settings.extra_args
    argv = []
    for key, value in args.items():
        argv += [f"--{key}", str(value)]
    if settings.ema:
        argv.append("--ema")
    # Resume from the newest checkpoint in work_dir when a killed run is restarted.
    argv += ["--restart_latest", "--save_cpu"]
    return argv


class _StrategyInputs(NamedTuple):
    """What the strategy-specific part of mace's arguments depends on."""

    strategy: FineTuneStrategy
    settings: TrainSettings
    foundation_model: str | Path | None
    architecture: dict[str, str] | None
    replay_file: str | Path | None


def _strategy_args(inputs: _StrategyInputs) -> dict:
    """Return the strategy-specific arguments of :func:`build_mace_train_args`."""
    build = _STRATEGY_ARGS.get(inputs.strategy)
    if build is None:
        raise ValueError(f"mace backend does not implement strategy {inputs.strategy!r}")
    return build(inputs)


def _scratch_args(inputs: _StrategyInputs) -> dict:
    """From scratch: the given architecture (or the settings'), no foundation."""
    if inputs.foundation_model is not None:
        raise ValueError("Training from scratch takes no foundation model.")
    settings = inputs.settings
    return inputs.architecture or {
        "model": settings.model,
        "r_max": settings.r_max,
        "num_channels": settings.num_channels,
        "max_L": settings.max_L,
        "num_interactions": settings.num_interactions,
        "correlation": settings.correlation,
    }


def _foundation_args(inputs: _StrategyInputs, *, multihead: bool) -> dict:
    """Return the foundation model and mace's multi-head switch, set explicitly."""
    if inputs.foundation_model is None:
        raise ValueError(f"Strategy '{inputs.strategy.value}' needs a foundation model file.")
    return {"foundation_model": inputs.foundation_model, "multiheads_finetuning": multihead}


def _transfer_args(inputs: _StrategyInputs) -> dict:
    """Naive transfer learning: all weights from the foundation, single head."""
    return _foundation_args(inputs, multihead=False)


def _multihead_args(inputs: _StrategyInputs) -> dict:
    """Multi-head fine-tuning with the local replay file on the foundation's head."""
    args = _foundation_args(inputs, multihead=True)
    if inputs.replay_file is None:
        raise ValueError("Multi-head fine-tuning needs a local replay file.")
    settings = inputs.settings
    return args | {
        "pt_train_file": inputs.replay_file,
        "num_samples_pt": settings.n_replay,
        "weight_pt_head": settings.weight_pt_head,
        "force_mh_ft_lr": True,
    }


def _freeze_args(inputs: _StrategyInputs) -> dict:
    """Frozen transfer learning: mace's ``--freeze`` with the number of frozen layers."""
    args = _foundation_args(inputs, multihead=False)
    frozen_layers = inputs.settings.frozen_layers
    if frozen_layers < 1:
        raise ValueError(f"frozen_layers must be >= 1, got {frozen_layers}.")
    args["freeze"] = frozen_layers
    return args


#: The strategies mace trains, each with its part of mace's command line.
_STRATEGY_ARGS: dict[FineTuneStrategy, Callable[[_StrategyInputs], dict]] = {
    FineTuneStrategy.SCRATCH: _scratch_args,
    FineTuneStrategy.TRANSFER: _transfer_args,
    FineTuneStrategy.MULTIHEAD: _multihead_args,
    FineTuneStrategy.FREEZE: _freeze_args,
}
