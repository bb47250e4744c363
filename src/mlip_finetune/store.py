"""Old import path of :mod:`mlip_finetune.core.store` (re-exports only)."""

from mlip_finetune.core.store import local_store

__all__ = ["local_store"]
