"""GPAW (plane-wave PAW) as an open DFT engine: the engine, its worker, server and cache.

:mod:`~mlip_finetune.dft.gpaw.engine` translates :class:`~mlip_finetune.dft.settings.DFTSettings`
and runs :mod:`~mlip_finetune.dft.gpaw.worker` in processes of its own under ``mpirun``
(through :mod:`~mlip_finetune.dft.gpaw.server`, or one-shot), reusing identical finished
calculations through :mod:`~mlip_finetune.dft.gpaw.cache` when that is on. Names are
imported lazily, so that the worker starts without importing jobflow or pymatgen.
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
