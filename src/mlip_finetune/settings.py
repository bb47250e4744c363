"""Old import path of :mod:`mlip_finetune.core.settings` (re-exports only)."""

from mlip_finetune.core.settings import MLIPFinetuneSettings, get_settings

__all__ = ["MLIPFinetuneSettings", "get_settings"]
