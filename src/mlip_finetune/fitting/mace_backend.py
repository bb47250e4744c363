"""mace-torch training, run as an external program (STYLE.md, "Training code").

:func:`build_mace_train_args` turns one :class:`MaceTrainSettings` into mace's command line
(pure, tested on its own); :func:`run_mace_train` is the only place that launches
``python -m mace.cli.run_train``. mace's ``run()`` changes torch's global dtype and logging
(DESIGN.md, known traps), so it always runs in a subprocess.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel, Field

from mlip_finetune.fitting.dataset import ENERGY_KEY, FORCES_KEY, STRESS_KEY
from mlip_finetune.fitting.strategies import FineTuneStrategy, MaceTrainSettings

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

_EPOCH_RE = re.compile(
    r"Epoch (?P<epoch>\d+): head: (?P<head>\S+), loss=\s*(?P<loss>\S+),"
    r" MAE_E_per_atom=\s*(?P<mae_e>\S+) meV, MAE_F=\s*(?P<mae_f>\S+) meV / A"
    r"(?:, MAE_stress=\s*(?P<mae_s>\S+) meV / A\^3)?"
)


class TrainingError(RuntimeError):
    """mace's training process failed."""


class TrainingDivergedError(TrainingError):
    """The loss became NaN or infinite."""


class EpochRecord(BaseModel):
    """Validation errors mace logged after one epoch."""

    epoch: int
    head: str = Field(description="mace head the errors refer to.")
    loss: float = Field(description="Validation loss (mace's weighted Huber loss).")
    energy_mae: float = Field(description="Energy MAE (meV/atom).")
    force_mae: float = Field(description="Force MAE (meV/Å).")
    stress_mae: float | None = Field(default=None, description="Stress MAE (meV/Å³).")


class MaceTrainResult(BaseModel):
    """What one mace training run produced."""

    model_path: str = Field(description="The final plain MACE model file.")
    log_path: str = Field(description="Captured stdout/stderr of the training process.")
    epochs: list[EpochRecord] = Field(description="Per-epoch validation errors, in order.")
    args: list[str] = Field(description="The exact command line arguments used.")
    wall_time_s: float
    multihead_active: bool = Field(description="Whether mace ran multi-head fine-tuning.")


def parse_epoch_line(line: str) -> EpochRecord | None:
    """Parse one of mace's per-epoch validation log lines.

    Parameters
    ----------
    line
        A line of mace's log (``error_table=PerAtomMAEstressvirials``).

    Returns
    -------
    EpochRecord or None
        None when the line is not an epoch summary.
    """
    match = _EPOCH_RE.search(line)
    if match is None:
        return None
    mae_s = match.group("mae_s")
    return EpochRecord(
        epoch=int(match.group("epoch")),
        head=match.group("head"),
        loss=float(match.group("loss")),
        energy_mae=float(match.group("mae_e")),
        force_mae=float(match.group("mae_f")),
        stress_mae=float(mae_s) if mae_s is not None else None,
    )


_LR_RE = re.compile(r"Learning rate: (?P<lr>\S+), weight decay: (?P<wd>\S+)")
_LOSS_RE = re.compile(r"INFO: (?P<loss>\w+Loss\(.*\))\s*$")
_HEADS_RE = re.compile(r"Using heads: (?P<heads>\[.*\])")
_FREEZE_RE = re.compile(r"INFO: (?P<what>Freezing .*)$")


def read_mace_log(log_path: str | Path) -> dict:
    """Read the settings mace actually used from its training log.

    mace changes some requested settings on its own (DESIGN.md traps: multi-head mode
    switched off without a replay file, lr forced to 1e-4, the loss replaced by its
    ``UniversalLoss`` in multi-head mode). The fine-tuning document records these values,
    not the requested ones.

    Parameters
    ----------
    log_path
        ``mace_train.log`` written by :func:`run_mace_train`.

    Returns
    -------
    dict
        ``lr`` and ``weight_decay`` (float), ``loss`` (mace's repr of the loss, str),
        ``heads`` (list of str), ``multihead`` (bool), ``frozen`` (list of mace's
        "Freezing …" messages); a key is absent when its line is not in the log.
    """
    import ast

    found: dict = {"multihead": False, "frozen": []}
    for line in Path(log_path).read_text().splitlines():
        if (match := _LR_RE.search(line)) is not None:
            found["lr"] = float(match.group("lr"))
            found["weight_decay"] = float(match.group("wd"))
        elif (match := _LOSS_RE.search(line)) is not None:
            found["loss"] = match.group("loss")
        elif (match := _HEADS_RE.search(line)) is not None:
            found["heads"] = list(ast.literal_eval(match.group("heads")))
        elif (match := _FREEZE_RE.search(line)) is not None:
            found["frozen"].append(match.group("what"))
        elif "Using multiheads finetuning mode" in line:
            found["multihead"] = True
    return found


def extract_head(model_path: str | Path, head: str, out_path: str | Path) -> Path:
    """Save one head of a multi-head MACE model as a plain single-head model.

    Uses mace's own :func:`mace.tools.scripts_utils.remove_pt_head` (what
    ``mace_select_head`` does).

    Parameters
    ----------
    model_path
        Multi-head MACE model file.
    head
        Head to keep, e.g. ``"Default"`` (the material's head in mace's multi-head mode).
    out_path
        Output model file.

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    ValueError
        If the model has no such head.
    """
    import mace  # noqa: F401  (mace before e3nn, DESIGN.md)
    import torch
    from mace.tools.scripts_utils import remove_pt_head

    model = torch.load(model_path, map_location="cpu", weights_only=False)
    heads = list(getattr(model, "heads", ["Default"]))
    if head not in heads:
        raise ValueError(f"{model_path} has heads {heads}, not {head!r}.")
    dtype = torch.get_default_dtype()
    try:
        torch.set_default_dtype(next(model.parameters()).dtype)
        single = remove_pt_head(model, head)
    finally:
        torch.set_default_dtype(dtype)
    torch.save(single, out_path)
    return Path(out_path)


def foundation_architecture(model_path: str | Path) -> dict[str, str]:
    """Read a MACE model's architecture as ``mace.cli.run_train`` arguments.

    Used to train from scratch with the foundation's architecture (paper §4.3: "from-scratch
    models ... same training parameters"), via mace's own
    :func:`mace.tools.scripts_utils.extract_config_mace_model`.

    Parameters
    ----------
    model_path
        MACE model file.

    Returns
    -------
    dict of str to str
        ``model``, ``r_max`` (Å), ``hidden_irreps``, ``MLP_irreps``, ``radial_MLP``,
        ``num_interactions``, ``correlation``, ``max_ell``, ``num_radial_basis``,
        ``num_cutoff_basis``, ``interaction``, ``interaction_first``.
    """
    from mace.tools.scripts_utils import extract_config_mace_model

    from mlip_finetune.calculators import mace_calculator

    model = mace_calculator(model_path, device="cpu").models[0]
    config = extract_config_mace_model(model)
    correlation = config["correlation"]
    if isinstance(correlation, list | tuple):
        correlation = correlation[0]
    return {
        "model": type(model).__name__,
        "r_max": str(float(config["r_max"])),
        "hidden_irreps": str(config["hidden_irreps"]),
        "MLP_irreps": str(config["MLP_irreps"]),
        "radial_MLP": str(list(config["radial_MLP"])),
        "num_interactions": str(int(config["num_interactions"])),
        "correlation": str(int(correlation)),
        "max_ell": str(int(config["max_ell"])),
        "num_radial_basis": str(int(config["num_bessel"])),
        "num_cutoff_basis": str(int(config["num_polynomial_cutoff"])),
        "interaction": config["interaction_cls"].__name__,
        "interaction_first": config["interaction_cls_first"].__name__,
    }


def build_mace_train_args(
    settings: MaceTrainSettings,
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
        Hyper-parameters (paper §4.3 defaults in :func:`default_settings`).
    strategy
        ``TRANSFER``, ``MULTIHEAD`` and ``FREEZE`` need ``foundation_model``; ``SCRATCH``
        must not have one. The equitrain strategies are not mace's
        (:mod:`mlip_finetune.fitting.equitrain_backend`).
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
        :func:`foundation_architecture`; None uses the settings' architecture fields.
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
    args |= _strategy_args(settings, strategy, foundation_model, architecture, replay_file)
    args |= settings.extra_args
    argv = []
    for key, value in args.items():
        argv += [f"--{key}", str(value)]
    if settings.ema:
        argv.append("--ema")
    # Resume from the newest checkpoint in work_dir when a killed run is restarted.
    argv += ["--restart_latest", "--save_cpu"]
    return argv


def _strategy_args(
    settings: MaceTrainSettings,
    strategy: FineTuneStrategy,
    foundation_model: str | Path | None,
    architecture: dict[str, str] | None,
    replay_file: str | Path | None,
) -> dict:
    """Return the strategy-specific arguments of :func:`build_mace_train_args`."""
    if strategy is FineTuneStrategy.SCRATCH:
        if foundation_model is not None:
            raise ValueError("Training from scratch takes no foundation model.")
        return architecture or {
            "model": settings.model,
            "r_max": settings.r_max,
            "num_channels": settings.num_channels,
            "max_L": settings.max_L,
            "num_interactions": settings.num_interactions,
            "correlation": settings.correlation,
        }
    if strategy not in (
        FineTuneStrategy.TRANSFER,
        FineTuneStrategy.MULTIHEAD,
        FineTuneStrategy.FREEZE,
    ):
        raise ValueError(f"mace backend does not implement strategy {strategy!r}")
    if foundation_model is None:
        raise ValueError(f"Strategy '{strategy.value}' needs a foundation model file.")
    args: dict = {
        "foundation_model": foundation_model,
        "multiheads_finetuning": strategy is FineTuneStrategy.MULTIHEAD,
    }
    if strategy is FineTuneStrategy.MULTIHEAD:
        if replay_file is None:
            raise ValueError("Multi-head fine-tuning needs a local replay file.")
        args |= {
            "pt_train_file": replay_file,
            "num_samples_pt": settings.n_replay,
            "weight_pt_head": settings.weight_pt_head,
            "force_mh_ft_lr": True,
        }
    if strategy is FineTuneStrategy.FREEZE:
        if settings.frozen_layers < 1:
            raise ValueError(f"frozen_layers must be >= 1, got {settings.frozen_layers}.")
        args["freeze"] = settings.frozen_layers
    return args


class TrainingProcessRun(NamedTuple):
    """What :func:`run_training_process` saw of one training process."""

    returncode: int
    epochs: list[EpochRecord]
    tail: list[str]
    wall_time_s: float


def run_training_process(
    command: list[str],
    *,
    cwd: str | Path,
    log_path: str | Path,
    label: str,
    parse_line: Callable[[str], EpochRecord | None],
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_line: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
    append_log: bool = False,
) -> TrainingProcessRun:
    """Run a training program, stream its log to a file and stop it when it diverges.

    Shared by the mace and equitrain backends: both train in a subprocess because they change
    torch's global state (DESIGN.md, known traps).

    Parameters
    ----------
    command
        Full command line, e.g. ``[sys.executable, "-m", "mace.cli.run_train", ...]``.
    cwd
        Working directory of the process.
    log_path
        File receiving the process's stdout and stderr, line by line.
    label
        Name used in error messages (e.g. the strategy).
    parse_line
        Turns one log line into an :class:`EpochRecord` (or None); may keep state.
    on_epoch
        Called with each parsed record as training proceeds.
    on_line
        Called with every log line (e.g. to spot a mode switch).
    env
        Extra environment variables for the process.
    append_log
        Append to ``log_path`` instead of overwriting it (a resumed run keeps its history).

    Returns
    -------
    TrainingProcessRun
        Exit code, parsed records in order, the last 25 log lines, wall time (s).

    Raises
    ------
    TrainingDivergedError
        As soon as a parsed record's loss is NaN/inf (the process is killed), naming label
        and epoch. Any exception raised by a callback also kills the process.
    """
    log_path = Path(log_path)
    epochs: list[EpochRecord] = []
    tail: deque[str] = deque(maxlen=25)
    start = time.perf_counter()
    with (
        log_path.open("a" if append_log else "w") as log,
        subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {}),
        ) as proc,
    ):
        assert proc.stdout is not None  # noqa: S101  (Popen with stdout=PIPE)
        try:
            for line in proc.stdout:
                log.write(line)
                tail.append(line.rstrip())
                if on_line is not None:
                    on_line(line)
                record = parse_line(line)
                if record is None:
                    continue
                epochs.append(record)
                if on_epoch is not None:
                    on_epoch(record)
                if not math.isfinite(record.loss):
                    raise TrainingDivergedError(
                        f"Training '{label}' diverged: validation loss is {record.loss} at "
                        f"epoch {record.epoch}. Lower the learning rate or check the training "
                        f"data. Log: {log_path}"
                    )
            returncode = proc.wait()
        finally:
            # diverged, a callback failed or the caller was interrupted: never leave the
            # training process running on its own
            if proc.poll() is None:
                proc.kill()
    return TrainingProcessRun(returncode, epochs, list(tail), time.perf_counter() - start)


def run_mace_train(
    args: list[str],
    work_dir: str | Path,
    *,
    label: str = "mace",
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> MaceTrainResult:
    """Run ``python -m mace.cli.run_train`` in a subprocess and collect its results.

    Parameters
    ----------
    args
        From :func:`build_mace_train_args`; must contain ``--name``.
    work_dir
        Directory where the process runs; its log goes to ``work_dir/mace_train.log``.
    label
        Name used in progress and error messages (e.g. the strategy).
    on_epoch
        Called with each parsed :class:`EpochRecord` as training proceeds.

    Returns
    -------
    MaceTrainResult
        Model path, per-epoch validation errors, arguments, wall time.

    Raises
    ------
    TrainingDivergedError
        As soon as a logged loss is NaN/inf (the process is stopped), naming label and epoch.
    TrainingError
        If the process fails or writes no model; the message ends with the log's last lines.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    name = args[args.index("--name") + 1]
    log_path = work_dir / "mace_train.log"
    multihead = False

    def watch(line: str) -> None:
        nonlocal multihead
        if "Using multiheads finetuning mode" in line:
            multihead = True

    run = run_training_process(
        [sys.executable, "-m", "mace.cli.run_train", *args],
        cwd=work_dir,
        log_path=log_path,
        label=label,
        parse_line=parse_epoch_line,
        on_epoch=on_epoch,
        on_line=watch,
    )
    model_path = work_dir / f"{name}.model"
    if run.returncode != 0 or not model_path.is_file():
        raise TrainingError(
            f"mace training '{label}' failed (exit code {run.returncode}, model file "
            f"{'present' if model_path.is_file() else 'missing'}). Last log lines:\n"
            + "\n".join(run.tail)
        )
    return MaceTrainResult(
        model_path=str(model_path.resolve()),
        log_path=str(log_path.resolve()),
        epochs=run.epochs,
        args=args,
        wall_time_s=run.wall_time_s,
        multihead_active=multihead,
    )
