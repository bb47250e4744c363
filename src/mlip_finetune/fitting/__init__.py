"""Fine-tuning strategies (paper §3.1, §4.3–4.4) and their training backends."""

from mlip_finetune.fitting.strategies import (
    FineTuneStrategy,
    MaceTrainSettings,
    TrainSettings,
    default_settings,
)

__all__ = ["FineTuneStrategy", "MaceTrainSettings", "TrainSettings", "default_settings"]
