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
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from mlip_finetune.core.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

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


class UnknownEngineError(InputError):
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
        Total energy extrapolated to zero smearing, σ → 0 (eV), the engine's own zero.
    free_energy
        Force-consistent (Mermin) free energy F = E - TS (eV), the engine's own zero; forces
        and stress are its derivatives, so it is the training energy. Equal to ``energy`` for
        gapped systems.
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
    ecut
        Plane-wave cutoff the engine used (eV), when it decides one per structure.
    spin_polarised
        Whether the calculation was collinear spin-polarised.
    magnetic_moment
        Total magnetic moment of the cell (μ_B); None when not spin-polarised.
    magnetic_moments
        Magnetic moment of each site (μ_B, the engine's atomic partition: GPAW's PAW-sphere
        moments, VASP's OUTCAR ``magnetization (x)``); None when not spin-polarised.
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
    ecut: float | None = None
    spin_polarised: bool = False
    magnetic_moment: float | None = None
    magnetic_moments: list[float] | None = None


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


class DFTElementError(InputError):
    """The DFT engine has no PAW setup (GPAW) or POTCAR (VASP) for an element."""


def gpaw_setup_name(xc: str) -> str:
    """Return the name of the PAW setups GPAW loads for a functional (``"PBE"`` for PBE0).

    Parameters
    ----------
    xc
        GPAW functional name.

    Returns
    -------
    str
        ``gpaw.xc.XC(xc).get_setup_name()``, or ``xc`` itself if GPAW does not know it.
    """
    import warnings

    from gpaw.xc import XC

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # libxc's build warning
            return str(XC(xc).get_setup_name())
    except Exception:  # noqa: BLE001  (an unknown functional fails when GPAW runs, not here)
        return xc


def gpaw_setup_file(symbol: str, xc: str = "PBE") -> Path | None:
    """Return the PAW setup file GPAW would load for an element, or None if there is none.

    GPAW searches ``gpaw.setup_paths`` in order: ``$GPAW_SETUP_PATH`` (``os.pathsep``
    separated), then ``~/.gpaw/rc.py``'s additions, then the ``gpaw-data`` package's
    ``setups`` directory, for ``<symbol>.<setup name>`` or ``<symbol>.<setup name>.gz``
    (``gpaw.setup_data.search_for_file``).

    Parameters
    ----------
    symbol
        Element symbol.
    xc
        Functional; its setup name is :func:`gpaw_setup_name`.

    Returns
    -------
    pathlib.Path or None
        The first matching file.
    """
    import gpaw

    name = f"{symbol}.{gpaw_setup_name(xc)}"
    for directory in gpaw.setup_paths:
        for candidate in (Path(directory) / name, Path(directory) / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _gpaw_missing(symbols: Iterable[str], record: Mapping[str, Any]) -> dict[str, str]:
    """Elements without a GPAW PAW setup for the record's functional, and why."""
    import importlib.util

    setups = (record.get("engine_kwargs") or {}).get("setups")
    if importlib.util.find_spec("gpaw") is None or setups not in {None, "paw"}:
        return {}  # not installed here, or the user's own setups: GPAW reports at run time
    import gpaw

    xc = str(record.get("xc") or "PBE")
    paths = ", ".join(str(p) for p in gpaw.setup_paths) or "no setup path"
    return {
        symbol: f"no PAW setup {symbol}.{gpaw_setup_name(xc)}[.gz] in {paths}"
        for symbol in symbols
        if gpaw_setup_file(symbol, xc) is None
    }


def _vasp_missing(symbols: Iterable[str], record: Mapping[str, Any]) -> dict[str, str]:
    """Elements without a POTCAR in atomate2's set (or in ``PMG_VASP_PSP_DIR``), and why."""
    from atomate2.vasp.sets.base import _BASE_VASP_SET
    from monty.os.path import zpath
    from pymatgen.core import SETTINGS
    from pymatgen.io.vasp.inputs import PotcarSingle

    mapping = _BASE_VASP_SET["POTCAR"]
    functional = str(record.get("potcar_functional") or "PBE_54")
    psp_dir = SETTINGS.get("PMG_VASP_PSP_DIR")
    subdir = SETTINGS.get("PMG_VASP_PSP_SUB_DIRS", {}).get(
        functional, PotcarSingle.functional_dir.get(functional, functional)
    )
    missing = {}
    for symbol in symbols:
        potcar = mapping.get(symbol)
        if potcar is None:
            missing[symbol] = "no POTCAR symbol in atomate2's input set (pymatgen's MP mapping)"
            continue
        if psp_dir is None:
            continue  # POTCARs are only needed where the inputs are written
        candidates = [
            Path(psp_dir) / subdir / f"POTCAR.{potcar}",
            Path(psp_dir) / subdir / potcar / "POTCAR",
        ]
        if not any(Path(zpath(str(c))).is_file() for c in candidates):
            missing[symbol] = f"no POTCAR {potcar} ({functional}) in PMG_VASP_PSP_DIR={psp_dir}"
    return missing


#: The element check of every DFT code: ``(element symbols, settings record) → {symbol: why
#: the code cannot compute it}``. The settings record is the static Maker's
#: ``settings_record()`` (GPAW: :class:`~mlip_finetune.dft.settings.DFTSettings` as a dict,
#: whose ``xc`` picks the setups; VASP: ``potcar_functional``). A new code adds its line.
ELEMENT_CHECKS: dict[DFTCode, Callable[[Iterable[str], Mapping[str, Any]], dict[str, str]]] = {
    DFTCode.GPAW: _gpaw_missing,
    DFTCode.VASP: _vasp_missing,
}


def check_engine_elements(
    code: DFTCode | str, symbols: Iterable[str], settings_record: Mapping[str, Any] | None = None
) -> None:
    """Raise if a DFT code cannot compute every element (checked on this machine).

    GPAW needs a PAW setup file per element for the functional (:func:`gpaw_setup_file`);
    VASP a POTCAR symbol in atomate2's input set and, when ``PMG_VASP_PSP_DIR`` is configured
    here, the POTCAR file. A code without an entry in :data:`ELEMENT_CHECKS` is not checked.

    Parameters
    ----------
    code
        A :class:`DFTCode` or its value.
    symbols
        Element symbols of the structure.
    settings_record
        The static Maker's ``settings_record()``; None uses the defaults (PBE, ``PBE_54``).

    Raises
    ------
    DFTElementError
        Naming each missing element and why, and what to do.
    """
    try:
        check = ELEMENT_CHECKS[DFTCode(code)]
    except (ValueError, KeyError):
        return
    missing = check(sorted(set(symbols)), settings_record or {})
    if missing:
        reasons = "; ".join(f"{symbol}: {why}" for symbol, why in missing.items())
        raise DFTElementError(
            f"The DFT engine {DFTCode(code).value} cannot compute {', '.join(missing)} ({reasons})."
            " Install the missing PAW datasets (GPAW: gpaw-data or $GPAW_SETUP_PATH; VASP: "
            "POTCARs in PMG_VASP_PSP_DIR) or choose another --dft-engine."
        )
