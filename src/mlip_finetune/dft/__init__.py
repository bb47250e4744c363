"""Reference DFT: settings, engines (GPAW locally, VASP through atomate2) and jobflow Makers.

- :mod:`~mlip_finetune.dft.settings`: :class:`DFTSettings`, the k-point rule.
- :mod:`~mlip_finetune.dft.engines`: :class:`DFTCode`, the :class:`DFTEngine` interface and
  its registry :data:`ENGINES`.
- :mod:`~mlip_finetune.dft.jobs`: :class:`DFTStaticMaker`, :class:`DFTRelaxMaker`,
  :class:`ReferenceStaticsMaker` (the fan-out over many frames).
- :mod:`~mlip_finetune.dft.calculator`: one DFT static per ASE call.
- :mod:`~mlip_finetune.dft.gpaw`: the GPAW engine and its worker process.
- :mod:`~mlip_finetune.dft.vasp`: VASP with the paper's settings, through atomate2.

Names are imported lazily, so that the GPAW worker process (``python -m
mlip_finetune.dft.gpaw.worker``) starts without importing jobflow or pymatgen.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlip_finetune.dft.engines import (
        ENGINES,
        DFTCalculationError,
        DFTCode,
        DFTEngine,
        StaticResult,
        UnknownEngineError,
        get_engine,
    )
    from mlip_finetune.dft.jobs import (
        DFTRelaxMaker,
        DFTStaticMaker,
        ReferenceStaticsMaker,
        RelaxMaker,
        StaticMaker,
    )
    from mlip_finetune.dft.settings import DFTSettings, kpoint_mesh

_EXPORTS = {
    "DFTSettings": "settings",
    "kpoint_mesh": "settings",
    "ENGINES": "engines",
    "DFTCalculationError": "engines",
    "DFTCode": "engines",
    "DFTEngine": "engines",
    "StaticResult": "engines",
    "UnknownEngineError": "engines",
    "get_engine": "engines",
    "DFTRelaxMaker": "jobs",
    "DFTStaticMaker": "jobs",
    "ReferenceStaticsMaker": "jobs",
    "RelaxMaker": "jobs",
    "StaticMaker": "jobs",
}

__all__ = [
    "ENGINES",
    "DFTCalculationError",
    "DFTCode",
    "DFTEngine",
    "DFTRelaxMaker",
    "DFTSettings",
    "DFTStaticMaker",
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
