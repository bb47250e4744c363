"""Old import path of :mod:`mlip_finetune.core.calculators` (re-exports only)."""

from mlip_finetune.core.calculators import (
    ModelFileNotFoundError,
    mace_calculator,
    resolve_device,
)

__all__ = ["ModelFileNotFoundError", "mace_calculator", "resolve_device"]
