"""Old import path of the stand-in foundation: re-exports :mod:`mlip_finetune.fitting.standin`."""

from __future__ import annotations

from mlip_finetune.fitting.standin import (
    StandinReport,
    StandinSettings,
    build_standin_foundation,
    chgnet_calculator,
    label_with_chgnet,
    standin_structures,
)

__all__ = [
    "StandinReport",
    "StandinSettings",
    "build_standin_foundation",
    "chgnet_calculator",
    "label_with_chgnet",
    "standin_structures",
]
