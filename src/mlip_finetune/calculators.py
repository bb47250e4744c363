"""ASE calculators for MACE model files, loaded once per process and path.

mace must be imported before e3nn under torch 2.13 (DESIGN.md, known traps); every MACE load
in this package goes through :func:`mace_calculator` so that order holds.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator


class ModelFileNotFoundError(FileNotFoundError):
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


@functools.lru_cache(maxsize=8)
def _cached(path: str, device: str, default_dtype: str) -> Calculator:
    import mace  # noqa: F401  (import order: mace before e3nn)
    from mace.calculators import MACECalculator

    return MACECalculator(model_paths=path, device=device, default_dtype=default_dtype)


def mace_calculator(
    model_path: str | Path, device: str = "auto", default_dtype: str = "float64"
) -> Calculator:
    """Return an ASE calculator for a plain MACE model file.

    The calculator is cached per (path, device, dtype) in this process, so loops over
    structures never reload the model.

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
    return _cached(str(path), resolve_device(device), default_dtype)
