"""mace-torch training, run as an external program (STYLE.md, "Training code").

- :mod:`~mlip_finetune.fitting.mace.args`: :func:`build_mace_train_args` turns one
  :class:`~mlip_finetune.schemas.fitting.TrainSettings` into mace's command line;
- :mod:`~mlip_finetune.fitting.mace.run`: :func:`run_mace_train`, the only place that launches
  ``python -m mace.cli.run_train`` (always in a subprocess: mace changes torch's global dtype
  and logging, DESIGN.md known traps);
- :mod:`~mlip_finetune.fitting.mace.log`: per-epoch errors and the settings mace really used;
- :mod:`~mlip_finetune.fitting.mace.heads`: one head of a multi-head model, the architecture
  of a foundation.
"""

from __future__ import annotations

from mlip_finetune.fitting.errors import TrainingDivergedError, TrainingError
from mlip_finetune.fitting.mace.args import build_mace_train_args
from mlip_finetune.fitting.mace.heads import extract_head, foundation_architecture
from mlip_finetune.fitting.mace.log import parse_epoch_line, read_mace_log
from mlip_finetune.fitting.mace.run import (
    TrainingProcessRun,
    run_mace_train,
    run_training_process,
)
from mlip_finetune.schemas.fitting import EpochRecord, MaceTrainResult

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
