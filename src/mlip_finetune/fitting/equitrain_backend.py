"""Old import path of the equitrain backend: re-exports :mod:`mlip_finetune.fitting.equitrain`."""

from __future__ import annotations

from mlip_finetune.fitting.equitrain import (
    CHECKPOINT_DIR,
    DATA_DIR,
    DIVERGED_MARKER,
    LOG_NAME,
    MODES,
    SPEC_NAME,
    EquitrainEpochParser,
    EquitrainMode,
    build_equitrain_export_args,
    build_equitrain_preprocess_args,
    build_equitrain_train_args,
    build_finetune_wrapper,
    last_checkpoint,
    run_equitrain_finetune,
)

__all__ = [
    "CHECKPOINT_DIR",
    "DATA_DIR",
    "DIVERGED_MARKER",
    "LOG_NAME",
    "MODES",
    "SPEC_NAME",
    "EquitrainEpochParser",
    "EquitrainMode",
    "build_equitrain_export_args",
    "build_equitrain_preprocess_args",
    "build_equitrain_train_args",
    "build_finetune_wrapper",
    "last_checkpoint",
    "run_equitrain_finetune",
]
