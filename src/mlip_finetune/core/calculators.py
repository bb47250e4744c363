"""ASE calculators for MACE model files, loaded once per process and file content.

mace must be imported before e3nn under torch 2.13 (DESIGN.md, known traps); every MACE load
in this package goes through :func:`mace_calculator` so that order holds.

The in-process cache is keyed by the file's SHA-256 (with device and dtype), not by its
path: a model file replaced at the same path (a re-run fine-tuning, a re-staged foundation)
is loaded afresh instead of being served stale. Each path is hashed once per modification
time and size, so repeated calls stay cheap.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from mlip_finetune.core.errors import InputError
from mlip_finetune.core.provenance import sha256_file

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

#: Calculators kept in memory at once (least recently used ones are dropped).
CACHE_SIZE: int = 8

#: ``(path, mtime_ns, size_bytes)`` → SHA-256 of the file's content.
_FILE_HASHES: dict[tuple[str, int, int], str] = {}
#: ``(sha256, device, dtype)`` → calculator, in least-recently-used order.
_CALCULATORS: OrderedDict[tuple[str, str, str], Calculator] = OrderedDict()


class ModelFileNotFoundError(InputError, FileNotFoundError):
    """A MACE model file that a job needs is not on disk."""


def resolve_device(device: str = "auto") -> str:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is visible, else ``"cpu"``.

    Parameters
    ----------
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (or ``"cuda:N"``).

    Returns
    -------
    str
        A torch device string.
    """
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def content_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, hashing it only when its mtime or size changed.

    Parameters
    ----------
    path
        Absolute path of an existing file.

    Returns
    -------
    str
        64-character lowercase hex digest of the file's content now.
    """
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = sha256_file(path)
    return _FILE_HASHES[key]


def _load(path: str, device: str, default_dtype: str) -> Calculator:
    import mace  # noqa: F401  (import order: mace before e3nn)
    from mace.calculators import MACECalculator

    return MACECalculator(model_paths=path, device=device, default_dtype=default_dtype)


def clear_cache() -> None:
    """Forget every cached calculator and file hash (tests, long-lived processes)."""
    _CALCULATORS.clear()
    _FILE_HASHES.clear()


def mace_calculator(
    model_path: str | Path, device: str = "auto", default_dtype: str = "float64"
) -> Calculator:
    """Return an ASE calculator for a plain MACE model file.

    The calculator is cached per (file SHA-256, device, dtype) in this process, so loops
    over structures never reload the model, and a file replaced at the same path is
    reloaded.

    Parameters
    ----------
    model_path
        Path to a ``.model`` file (a pickled MACE ``torch.nn.Module``).
    device
        Torch device, ``"auto"`` picks CUDA when present.
    default_dtype
        ``"float64"`` (default, needed for finite-displacement phonons) or ``"float32"``.

    Returns
    -------
    ase.calculators.calculator.Calculator
        ``mace.calculators.MACECalculator`` computing energy (eV), forces (eV/Å) and
        stress (eV/Å³).

    Raises
    ------
    ModelFileNotFoundError
        If ``model_path`` does not exist.
    """
    path = Path(model_path).expanduser().resolve()
    if not path.is_file():
        raise ModelFileNotFoundError(f"MACE model file not found: {path}")
    key = (content_sha256(path), resolve_device(device), default_dtype)
    if key in _CALCULATORS:
        _CALCULATORS.move_to_end(key)
        return _CALCULATORS[key]
    calculator = _load(str(path), key[1], default_dtype)
    _CALCULATORS[key] = calculator
    if len(_CALCULATORS) > CACHE_SIZE:
        _CALCULATORS.popitem(last=False)
    return calculator
