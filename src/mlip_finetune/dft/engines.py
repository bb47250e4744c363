"""DFT codes, the engine interface, results and the engine registry.

:class:`DFTCode` names every DFT code the package can label data with. Codes that run as an
open :class:`DFTEngine` (GPAW) are registered in :data:`ENGINES`; VASP runs through atomate2
(:mod:`mlip_finetune.dft.vasp`) and has no engine entry. A new engine (Quantum ESPRESSO,
CP2K, ...) is one :class:`DFTCode` member, one :class:`DFTEngine` subclass and one line in
:data:`ENGINES`; everything above this module (jobs, flows) only sees the interface.
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    import numpy as np
    from pymatgen.core import Structure

    from mlip_finetune.dft.settings import DFTSettings


class DFTCode(StrEnum):
    """A DFT code reference data can be computed with.

    ``gpaw``: GPAW, plane-wave PAW, run locally as an open :class:`DFTEngine`.
    ``vasp``: VASP through atomate2 and custodian (cluster only; no :class:`DFTEngine`).
    """

    GPAW = "gpaw"
    VASP = "vasp"


#: Number of log lines quoted in a :class:`DFTCalculationError` message.
LOG_TAIL_LINES = 30


class DFTCalculationError(RuntimeError):
    """A DFT calculation failed, did not converge or wrote no result.

    Parameters
    ----------
    engine
        Engine name, e.g. ``"gpaw"``.
    directory
        Directory the calculation ran in.
    reason
        What went wrong, one sentence.
    log_tail
        Last lines of the engine's log (and of its stderr), quoted in the message.
    """

    def __init__(self, engine: str, directory: str | Path, reason: str, log_tail: str = "") -> None:
        self.engine = engine
        self.directory = Path(directory)
        self.reason = reason
        self.log_tail = log_tail
        message = f"{engine} calculation in {self.directory} failed: {reason}"
        if log_tail.strip():
            message += f"\n--- last lines of the {engine} log ---\n{log_tail.rstrip()}"
        super().__init__(message)


class UnknownEngineError(ValueError):
    """The requested DFT engine is not in :data:`ENGINES`."""


def tail(path: str | Path, n_lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a text file, or ``""`` when it does not exist.

    Parameters
    ----------
    path
        Text file, e.g. an engine log.
    n_lines
        Number of lines to return.

    Returns
    -------
    str
        Up to ``n_lines`` final lines joined by newlines.
    """
    path = Path(path)
    if not path.is_file():
        return ""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-n_lines:])


@dataclass(frozen=True)
class StaticResult:
    """Result of one DFT calculation, in ASE units and sign conventions.

    Attributes
    ----------
    structure
        Structure the final energy, forces and stress belong to (Å); the input structure for
        a static, the relaxed one for a relaxation.
    energy
        Total energy extrapolated to zero smearing (eV), the engine's own zero.
    free_energy
        Force-consistent (Mermin) free energy (eV); forces are its derivatives. Equal to
        ``energy`` for gapped systems.
    forces
        Forces, shape (n_atoms, 3), eV/Å.
    stress
        Stress tensor, shape (3, 3), eV/Å³, ASE sign convention (tensile > 0).
    kpoints
        k-point mesh used, length 3.
    converged
        Whether the SCF converged.
    wall_time
        Wall time of the whole engine run including start-up (s).
    directory
        Directory holding the engine's input, output and log files.
    n_steps
        Number of ionic steps (0 for a static).
    relax_converged
        Whether a relaxation reached its force threshold (None for a static).
    """

    structure: Structure
    energy: float
    free_energy: float
    forces: np.ndarray
    stress: np.ndarray
    kpoints: list[int]
    converged: bool
    wall_time: float
    directory: Path
    n_steps: int = 0
    relax_converged: bool | None = None


class DFTEngine(abc.ABC):
    """A DFT code that computes statics and relaxations of periodic structures.

    Implementations launch their program in the given directory (the only place that does)
    and raise :class:`DFTCalculationError` when it fails or does not converge.
    """

    #: Registry key and the ``engine`` field of documents.
    name: ClassVar[str]

    @abc.abstractmethod
    def run_static(
        self, structure: Structure, settings: DFTSettings, directory: str | Path
    ) -> StaticResult:
        """Compute energy, forces and stress of one structure.

        Parameters
        ----------
        structure
            Periodic structure (Å).
        settings
            Level of theory and numerical settings.
        directory
            Existing directory for the engine's files.

        Returns
        -------
        StaticResult
            Energy (eV), forces (eV/Å), stress (eV/Å³, ASE convention).

        Raises
        ------
        DFTCalculationError
            If the calculation fails, does not converge or writes no result.
        """

    @abc.abstractmethod
    def relax(
        self,
        structure: Structure,
        settings: DFTSettings,
        directory: str | Path,
        *,
        fmax: float,
        relax_cell: bool,
        max_steps: int,
        optimizer: Literal["BFGS", "FIRE"] = "BFGS",
    ) -> StaticResult:
        """Relax atomic positions (and the cell) to a force threshold.

        Parameters
        ----------
        structure
            Starting structure (Å).
        settings
            Level of theory and numerical settings.
        directory
            Existing directory for the engine's files.
        fmax
            Force threshold (eV/Å); with ``relax_cell`` it also bounds the stress, as
            stress * volume / atom count (eV).
        relax_cell
            Relax the cell shape and volume as well as the positions.
        max_steps
            Maximum number of ionic steps.
        optimizer
            Geometry optimiser (ASE names).

        Returns
        -------
        StaticResult
            Result at the final geometry, with ``n_steps`` and ``relax_converged`` set.

        Raises
        ------
        DFTCalculationError
            If an SCF cycle fails or the engine writes no result.
        """


#: Known engines: code → ``"module:Class"``, imported on first use so that registering an
#: engine costs nothing until it runs. Add a new engine with one line here. Keys are
#: :class:`DFTCode` members, which equal their string values (``ENGINES["gpaw"]`` works).
ENGINES: dict[DFTCode, str] = {
    DFTCode.GPAW: "mlip_finetune.dft.gpaw.engine:GPAWEngine",
}


def get_engine(name: DFTCode | str) -> DFTEngine:
    """Return an instance of a registered DFT engine.

    Parameters
    ----------
    name
        Engine name or :class:`DFTCode`, a key of :data:`ENGINES`, e.g. ``"gpaw"``.

    Returns
    -------
    DFTEngine
        A fresh engine instance.

    Raises
    ------
    UnknownEngineError
        If ``name`` is not registered; the message lists the known engines.
    """
    try:
        target = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise UnknownEngineError(f"Unknown DFT engine {name!r}; known engines: {known}.") from None
    module_name, class_name = target.split(":")
    engine_class: type[DFTEngine] = getattr(importlib.import_module(module_name), class_name)
    return engine_class()
