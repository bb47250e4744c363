"""Which elements a MACE model file covers, checked before any job is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class UnsupportedElementError(ValueError):
    """The structure contains elements the MACE model was not trained on."""


def model_elements(model_path: str | Path) -> list[int]:
    """Return the atomic numbers a MACE model file was trained on.

    Parameters
    ----------
    model_path
        MACE model file.

    Returns
    -------
    list of int
        Sorted atomic numbers.
    """
    from mlip_finetune.core.calculators import mace_calculator

    calc = mace_calculator(model_path, device="cpu")
    return sorted(int(z) for z in calc.models[0].atomic_numbers)


def check_model_elements(model_path: str | Path, atomic_numbers: list[int]) -> None:
    """Raise if the model lacks any of the given elements.

    Parameters
    ----------
    model_path
        MACE model file.
    atomic_numbers
        Atomic numbers of the structure to be computed.

    Raises
    ------
    UnsupportedElementError
        Naming the missing elements and the model.
    """
    from pymatgen.core import Element

    missing = sorted(set(atomic_numbers) - set(model_elements(model_path)))
    if missing:
        symbols = ", ".join(Element.from_Z(z).symbol for z in missing)
        raise UnsupportedElementError(
            f"The model {model_path} has no parameters for {symbols}; choose a foundation model "
            "trained on these elements."
        )
