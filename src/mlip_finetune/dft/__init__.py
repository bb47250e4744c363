"""Reference DFT: settings, engines (GPAW locally) and jobflow Makers.

Names are imported lazily, so that the GPAW worker process (``python -m
mlip_finetune.dft._gpaw_worker``) starts without importing jobflow or pymatgen.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlip_finetune.dft.engines import (
        ENGINES,
        DFTCalculationError,
        DFTEngine,
        StaticResult,
        UnknownEngineError,
        get_engine,
    )
    from mlip_finetune.dft.jobs import ReferenceStaticsMaker, RelaxMaker, StaticMaker
    from mlip_finetune.dft.settings import DFTSettings, kpoint_mesh

_EXPORTS = {
    "DFTSettings": "settings",
    "kpoint_mesh": "settings",
    "ENGINES": "engines",
    "DFTCalculationError": "engines",
    "DFTEngine": "engines",
    "StaticResult": "engines",
    "UnknownEngineError": "engines",
    "get_engine": "engines",
    "ReferenceStaticsMaker": "jobs",
    "RelaxMaker": "jobs",
    "StaticMaker": "jobs",
}

__all__ = [
    "ENGINES",
    "DFTCalculationError",
    "DFTEngine",
    "DFTSettings",
    "ReferenceStaticsMaker",
    "RelaxMaker",
    "StaticMaker",
    "StaticResult",
    "UnknownEngineError",
    "get_engine",
    "kpoint_mesh",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
