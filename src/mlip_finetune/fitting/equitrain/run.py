"""Launching equitrain: :func:`run_equitrain_finetune` is the one place that starts it.

One call runs the driver (:mod:`mlip_finetune.fitting.equitrain.driver`) in a subprocess:
preprocess → train with the wrapper → export, with the three argument lists of
:mod:`~mlip_finetune.fitting.equitrain.args` written to ``equitrain_run.json``. A call with
the same ``work_dir`` after a kill resumes from equitrain's newest checkpoint.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mlip_finetune.fitting.equitrain.args import (
    build_equitrain_export_args,
    build_equitrain_preprocess_args,
    build_equitrain_train_args,
)
from mlip_finetune.fitting.equitrain.parse import EquitrainEpochParser
from mlip_finetune.fitting.equitrain.wrapper import EquitrainMode, check_mode
from mlip_finetune.fitting.mace.heads import foundation_architecture
from mlip_finetune.fitting.mace.run import raise_if_failed, run_training_process
from mlip_finetune.schemas.fitting import EpochRecord, MaceTrainResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlip_finetune.schemas.fitting import TrainSettings

logger = logging.getLogger(__name__)

#: Log of the driver process (appended to by a resumed run).
LOG_NAME = "equitrain_train.log"
#: Subfolders of ``work_dir``: HDF5 data, checkpoints.
DATA_DIR = "equitrain_data"
CHECKPOINT_DIR = "equitrain_checkpoints"
#: The driver's instructions: mode, E0s and the three equitrain argument lists.
SPEC_NAME = "equitrain_run.json"
#: The module run as ``python -m`` in the subprocess.
DRIVER_MODULE = "mlip_finetune.fitting.equitrain.driver"


def last_checkpoint(checkpoint_dir: str | Path) -> tuple[Path, int] | None:
    """Find the newest equitrain checkpoint of a run.

    Uses equitrain's own lookup (``equitrain.backends.torch_checkpoint._find_last_checkpoint``,
    the one behind ``--load-last-checkpoint``), so the resume decision and equitrain agree.

    Parameters
    ----------
    checkpoint_dir
        equitrain's ``--output-dir``.

    Returns
    -------
    tuple of (pathlib.Path, int) or None
        The checkpoint folder and its epoch; None when there is none.
    """
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    from equitrain.backends.torch_checkpoint import _find_last_checkpoint

    path, epoch = _find_last_checkpoint(checkpoint_dir, "val")
    return None if path is None else (Path(path), int(epoch))


def _drop_incomplete_checkpoints(checkpoint_dir: Path) -> None:
    """Delete checkpoint folders a kill interrupted (equitrain writes ``args.json`` last)."""
    for path in checkpoint_dir.glob("best_val_epochs@*"):
        if path.is_dir() and not (path / "args.json").is_file():
            logger.warning("Deleting incomplete equitrain checkpoint %s", path)
            shutil.rmtree(path)


def _device_env(device: str) -> dict[str, str]:
    """Environment that makes accelerate (inside equitrain) use ``device``."""
    if device == "cpu":
        return {"ACCELERATE_USE_CPU": "true"}
    if device == "cuda":
        return {}
    if device.startswith("cuda:"):
        return {"CUDA_VISIBLE_DEVICES": device.split(":", 1)[1]}
    raise ValueError(f"Unsupported device {device!r}; use 'cpu', 'cuda' or 'cuda:N'.")


class _RunPaths(NamedTuple):
    """The files and folders of one run in ``work_dir``."""

    work_dir: Path
    data_dir: Path
    checkpoint_dir: Path
    model_path: Path
    log_path: Path
    spec_path: Path

    @classmethod
    def of(cls, work_dir: str | Path, name: str) -> _RunPaths:
        work_dir = Path(work_dir).resolve()
        return cls(
            work_dir=work_dir,
            data_dir=work_dir / DATA_DIR,
            checkpoint_dir=work_dir / CHECKPOINT_DIR,
            model_path=work_dir / f"{name}.model",
            log_path=work_dir / LOG_NAME,
            spec_path=work_dir / SPEC_NAME,
        )


def _existing_inputs(
    foundation_model: str | Path, train_file: str | Path, valid_file: str | Path
) -> Path:
    """Return the resolved foundation file; refuse missing model or data files."""
    foundation_model = Path(foundation_model).expanduser().resolve()
    if not foundation_model.is_file():
        raise FileNotFoundError(
            f"Foundation model file not found: {foundation_model}. equitrain fine-tuning "
            "starts from an existing MACE model file."
        )
    for path in (train_file, valid_file):
        if not Path(path).is_file():
            raise FileNotFoundError(f"Training data file not found: {path}")
    return foundation_model


def _prepare_work_dir(paths: _RunPaths) -> tuple[Path, int] | None:
    """Clear what must be rebuilt and return the checkpoint to resume from (or None)."""
    paths.work_dir.mkdir(parents=True, exist_ok=True)
    # equitrain skips conversion when an HDF5 file exists: always rebuild from the given data.
    shutil.rmtree(paths.data_dir, ignore_errors=True)
    paths.model_path.unlink(missing_ok=True)
    _drop_incomplete_checkpoints(paths.checkpoint_dir)
    return last_checkpoint(paths.checkpoint_dir)


class _DriverSpec(NamedTuple):
    """What the driver is told besides the argument lists: the wrapper and the E0s."""

    mode: EquitrainMode
    lora_rank: int | None
    lora_alpha: float | None
    e0s: dict[int, float]


def _write_spec(
    paths: _RunPaths,
    driver: _DriverSpec,
    settings: TrainSettings,
    *,
    train_file: str | Path,
    valid_file: str | Path,
    foundation_model: Path,
    train_args: list[str],
) -> None:
    """Write the driver's instructions (``equitrain_run.json``)."""
    spec = {
        "mode": driver.mode,
        "lora_rank": driver.lora_rank,
        "lora_alpha": driver.lora_alpha,
        "e0s": {str(z): float(e) for z, e in driver.e0s.items()},
        "preprocess": build_equitrain_preprocess_args(
            train_file=Path(train_file).resolve(),
            valid_file=Path(valid_file).resolve(),
            output_dir=paths.data_dir,
            e0s=driver.e0s,
            r_max=float(foundation_architecture(foundation_model)["r_max"]),
            seed=settings.seed,
            dtype=settings.default_dtype,
        ),
        "train": train_args,
        "export": build_equitrain_export_args(
            foundation_model=foundation_model,
            checkpoint_dir=paths.checkpoint_dir,
            model_path=paths.model_path,
        ),
    }
    paths.spec_path.write_text(json.dumps(spec, indent=2))


def run_equitrain_finetune(
    mode: EquitrainMode | str,
    settings: TrainSettings,
    *,
    name: str,
    train_file: str | Path,
    valid_file: str | Path,
    foundation_model: str | Path,
    work_dir: str | Path,
    device: str,
    e0s: dict[int, float],
    lora_rank: int | None = None,
    lora_alpha: float | None = None,
    label: str = "lora_full",
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> MaceTrainResult:
    """Fine-tune a foundation MACE with equitrain's delta (paper "Equitrain") or LoRA wrapper.

    Paper §4.4: the foundation weights ω0 stay frozen and an additive update is trained,
    ω = ω0 + Δω, with AdamW's weight decay acting on Δω only (an L²-SP penalty λ‖Δω‖²);
    ``"delta"`` is the full-rank form the paper uses, ``"lora"`` the low-rank ΔW = (α/r)·B·A.
    Runs preprocess → train → export in one subprocess (see :mod:`mlip_finetune.fitting.equitrain`).
    Calling it again with the same ``work_dir`` after the process was killed resumes from
    equitrain's newest checkpoint; a finished run is re-evaluated and exported again.

    Parameters
    ----------
    mode
        :class:`~mlip_finetune.fitting.equitrain.wrapper.EquitrainMode`: ``"delta"`` or
        ``"lora"``.
    settings
        Hyper-parameters, see
        :func:`~mlip_finetune.fitting.equitrain.args.build_equitrain_train_args` for the
        fields used.
    name
        Model name: the merged model is written to ``work_dir/<name>.model``.
    train_file, valid_file
        Extended-XYZ files from :func:`mlip_finetune.fitting.dataset.write_extxyz`, energies
        on the foundation's energy zero.
    foundation_model
        Foundation MACE model file.
    work_dir
        Holds ``equitrain_data/`` (HDF5), ``equitrain_checkpoints/``, the log
        ``equitrain_train.log``, the driver's ``equitrain_run.json`` and the model.
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    e0s
        ``{Z: E0}`` isolated-atom energies (eV) of the model; normally the foundation's
        (:func:`mlip_finetune.fitting.e0s.model_e0s`).
    lora_rank, lora_alpha
        ``"lora"`` only: rank r of every adapted matrix and α (None: scale 1).
    label
        Name in progress and error messages (the strategy).
    on_epoch
        Called with each :class:`EpochRecord` as training proceeds. Epoch 0 (or the
        resumed-from epoch) is the evaluation before training; energy MAE in meV/atom, force
        MAE in meV/Å, stress MAE in GPa (over the nine components), loss = equitrain's
        weighted Huber validation loss.

    Returns
    -------
    MaceTrainResult
        ``model_path`` (plain MACE model, loadable by ``mace.calculators.MACECalculator``),
        ``log_path``, ``epochs`` of this call, ``args`` = the exact argument list of
        equitrain's training (preprocess and export lists are in ``equitrain_run.json``),
        ``wall_time_s``, ``multihead_active=False``.

    Raises
    ------
    FileNotFoundError
        If the foundation model or a data file does not exist.
    ValueError
        For an unknown mode, a LoRA without rank, a rank with the delta, or settings
        equitrain cannot run (loss, scheduler).
    TrainingDivergedError
        At the first non-finite prediction (the process is stopped), naming label and epoch.
    TrainingError
        If the process fails or writes no model; the message ends with the log's last lines.
    """
    from mlip_finetune.core.calculators import resolve_device

    mode = check_mode(mode, lora_rank)
    foundation_model = _existing_inputs(foundation_model, train_file, valid_file)
    device = resolve_device(device)
    env = _device_env(device)
    paths = _RunPaths.of(work_dir, name)
    resume = _prepare_work_dir(paths)
    resume_epoch = None if resume is None else resume[1]
    train_args = build_equitrain_train_args(
        settings,
        train_file=paths.data_dir / "train.h5",
        valid_file=paths.data_dir / "valid.h5",
        foundation_model=foundation_model,
        output_dir=paths.checkpoint_dir,
        device=device,
        resume_from_epoch=resume_epoch,
    )
    _write_spec(
        paths,
        _DriverSpec(mode, lora_rank, lora_alpha, e0s),
        settings,
        train_file=train_file,
        valid_file=valid_file,
        foundation_model=foundation_model,
        train_args=train_args,
    )
    start = 0 if resume_epoch is None else resume_epoch
    with paths.log_path.open("a") as log:
        log.write(
            f"=== mlip-finetune: equitrain {mode} '{label}' on {device}, "
            + ("new run" if resume is None else f"resuming from {resume[0].name}")
            + f", epochs {start + 1}..{settings.max_num_epochs} ===\n"
        )
    logger.info("equitrain %s '%s': log %s", mode, label, paths.log_path)
    run = run_training_process(
        DRIVER_MODULE,
        [str(paths.spec_path)],
        cwd=paths.work_dir,
        log_path=paths.log_path,
        label=label,
        parse_line=EquitrainEpochParser(first_epoch=start),
        on_epoch=on_epoch,
        env=env,
        append_log=True,
    )
    raise_if_failed(run, paths.model_path, f"equitrain training '{label}'")
    return MaceTrainResult(
        model_path=str(paths.model_path),
        log_path=str(paths.log_path),
        epochs=run.epochs,
        args=train_args,
        wall_time_s=run.wall_time_s,
        multihead_active=False,
    )
