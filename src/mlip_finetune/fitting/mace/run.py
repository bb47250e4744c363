"""Running a training program in a subprocess; :func:`run_mace_train` launches mace's.

:func:`run_mace_train` is the only place that launches ``python -m mace.cli.run_train``.
mace's ``run()`` changes torch's global dtype and logging (DESIGN.md, known traps), so it
always runs in a process of its own; :func:`run_training_process` (shared with the equitrain
backend) starts it warm (:func:`mlip_finetune.core.launcher.start_module`: forked from a
server that has imported torch, mace and equitrain once, instead of 9–11 s of imports per
training), streams the log and stops a diverged run.
"""

from __future__ import annotations

import math
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mlip_finetune.core.launcher import start_module
from mlip_finetune.fitting.errors import TrainingDivergedError, TrainingError
from mlip_finetune.fitting.mace.log import MULTIHEAD_MARKER, parse_epoch_line
from mlip_finetune.schemas.fitting import EpochRecord, MaceTrainResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import TextIO

#: Number of log lines kept for error messages.
_TAIL_LINES = 25

#: Modules the launch server imports once for every training program of a process: mace's
#: training script and the equitrain driver with what they import (torch, e3nn, mace,
#: equitrain, accelerate). A module that is not installed is skipped.
TRAINING_PRELOAD = (
    "mace.cli.run_train",
    "mlip_finetune.fitting.equitrain.driver",
    "equitrain",
)


class TrainingProcessRun(NamedTuple):
    """What :func:`run_training_process` saw of one training process."""

    returncode: int
    epochs: list[EpochRecord]
    tail: list[str]
    wall_time_s: float


class _LineHandlers(NamedTuple):
    """The per-line callbacks of :func:`run_training_process`."""

    parse_line: Callable[[str], EpochRecord | None]
    on_epoch: Callable[[EpochRecord], None] | None
    on_line: Callable[[str], None] | None


def run_training_process(
    module: str,
    args: list[str],
    *,
    cwd: str | Path,
    log_path: str | Path,
    label: str,
    parse_line: Callable[[str], EpochRecord | None],
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_line: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
    append_log: bool = False,
    warm: bool = True,
) -> TrainingProcessRun:
    """Run a training program, stream its log to a file and stop it when it diverges.

    Shared by the mace and equitrain backends: both train in a process of their own because
    they change torch's global state (DESIGN.md, known traps). The program runs as ``python
    -m module *args`` would, forked from the warm launch server
    (:func:`~mlip_finetune.core.launcher.start_module`, preloading :data:`TRAINING_PRELOAD`).

    Parameters
    ----------
    module
        Program run as ``__main__``, e.g. ``"mace.cli.run_train"``.
    args
        Its command-line arguments.
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
    warm
        False: a cold ``python -m module`` subprocess that imports everything itself
        (``benchmarks/bench_training_launch.py`` compares the two).

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
    handlers = _LineHandlers(parse_line, on_epoch, on_line)
    epochs: list[EpochRecord] = []
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    start = time.perf_counter()
    with (
        log_path.open("a" if append_log else "w") as log,
        start_module(module, args, cwd=cwd, env=env, preload=TRAINING_PRELOAD, warm=warm) as proc,
    ):
        assert proc.stdout is not None  # noqa: S101  (Popen with stdout=PIPE)
        try:
            for record in _records(proc.stdout, log, tail, handlers):
                epochs.append(record)
                _stop_if_diverged(record, label, log_path)
            returncode = proc.wait()
        finally:
            # diverged, a callback failed or the caller was interrupted: never leave the
            # training process running on its own
            if proc.poll() is None:
                proc.kill()
    return TrainingProcessRun(returncode, epochs, list(tail), time.perf_counter() - start)


def _records(
    lines: Iterable[str], log: TextIO, tail: deque[str], handlers: _LineHandlers
) -> Iterable[EpochRecord]:
    """Copy each line to the log and the tail, call the handlers, yield the parsed records."""
    for line in lines:
        log.write(line)
        tail.append(line.rstrip())
        if handlers.on_line is not None:
            handlers.on_line(line)
        record = handlers.parse_line(line)
        if record is None:
            continue
        if handlers.on_epoch is not None:
            handlers.on_epoch(record)
        yield record


def _stop_if_diverged(record: EpochRecord, label: str, log_path: Path) -> None:
    """Raise :class:`TrainingDivergedError` when the record's loss is NaN or infinite."""
    if not math.isfinite(record.loss):
        raise TrainingDivergedError(
            f"Training '{label}' diverged: validation loss is {record.loss} at "
            f"epoch {record.epoch}. Lower the learning rate or check the training "
            f"data. Log: {log_path}"
        )


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
        From :func:`mlip_finetune.fitting.mace.args.build_mace_train_args`; must contain
        ``--name``.
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
        if MULTIHEAD_MARKER in line:
            multihead = True

    run = run_training_process(
        "mace.cli.run_train",
        args,
        cwd=work_dir,
        log_path=log_path,
        label=label,
        parse_line=parse_epoch_line,
        on_epoch=on_epoch,
        on_line=watch,
    )
    model_path = work_dir / f"{name}.model"
    raise_if_failed(run, model_path, f"mace training '{label}'")
    return MaceTrainResult(
        model_path=str(model_path.resolve()),
        log_path=str(log_path.resolve()),
        epochs=run.epochs,
        args=args,
        wall_time_s=run.wall_time_s,
        multihead_active=multihead,
    )


def raise_if_failed(run: TrainingProcessRun, model_path: Path, what: str) -> None:
    """Raise :class:`TrainingError` if the process failed or wrote no model.

    Parameters
    ----------
    run
        From :func:`run_training_process`.
    model_path
        The model file the process should have written.
    what
        Start of the message, e.g. ``"mace training 'transfer'"``.

    Raises
    ------
    TrainingError
        Naming the exit code and whether the model exists; ends with the log's last lines.
    """
    if run.returncode != 0 or not model_path.is_file():
        raise TrainingError(
            f"{what} failed (exit code {run.returncode}, model file "
            f"{'present' if model_path.is_file() else 'missing'}). Last log lines:\n"
            + "\n".join(run.tail)
        )
