"""Old import path of the mace backend: re-exports :mod:`mlip_finetune.fitting.mace`."""

from __future__ import annotations

from mlip_finetune.fitting.mace import (
    EpochRecord,
    MaceTrainResult,
    TrainingDivergedError,
    TrainingError,
    TrainingProcessRun,
    build_mace_train_args,
    extract_head,
    foundation_architecture,
    parse_epoch_line,
    read_mace_log,
    run_mace_train,
    run_training_process,
)

__all__ = [
    "EpochRecord",
    "MaceTrainResult",
    "TrainingDivergedError",
    "TrainingError",
    "TrainingProcessRun",
    "build_mace_train_args",
    "extract_head",
    "foundation_architecture",
    "parse_epoch_line",
    "read_mace_log",
    "run_mace_train",
    "run_training_process",
]
