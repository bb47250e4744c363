"""GPAW (plane-wave PAW) as an open DFT engine: the engine and its worker process.

:mod:`~mlip_finetune.dft.gpaw.engine` translates :class:`~mlip_finetune.dft.settings.DFTSettings`
and launches :mod:`~mlip_finetune.dft.gpaw.worker` (``python -m mlip_finetune.dft.gpaw.worker``)
in a subprocess. Names are imported lazily, so that the worker starts without importing
jobflow or pymatgen.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlip_finetune.dft.gpaw.engine import GPAWEngine, gpaw_parameters, run_gpaw_worker

_EXPORTS = {
    "GPAWEngine": "engine",
    "gpaw_parameters": "engine",
    "run_gpaw_worker": "engine",
}

__all__ = ["GPAWEngine", "gpaw_parameters", "run_gpaw_worker"]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
