"""Which elements a model covers, checked before any job is built.

The element table of a MACE model is read from the model file itself (a torch pickle of the
whole model: ``torch.load(weights_only=False)`` and the model's ``atomic_numbers`` buffer),
without building an ASE calculator. The stand-in foundation's teacher, CHGNet, has its own
table (:data:`TEACHER_ATOMIC_NUMBERS`); elements it lacks are rejected before a stand-in is
built (:func:`check_teacher_elements`), and :func:`check_foundation_elements` applies the right
checks to any :class:`~mlip_finetune.foundation.resolve.FoundationModel`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from mlip_finetune.core.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mlip_finetune.foundation.resolve import FoundationModel

__all__ = [
    "TEACHER_ATOMIC_NUMBERS",
    "TEACHER_NAME",
    "InvalidModelFileError",
    "UnsupportedElementError",
    "check_foundation_elements",
    "check_model_elements",
    "check_teacher_elements",
    "model_elements",
]

#: The stand-in's teacher (:mod:`mlip_finetune.fitting.standin`).
TEACHER_NAME = "CHGNet"
#: Atomic numbers CHGNet 0.3.0 has parameters for: H to Pu (Z = 1–94), the rows of its atom
#: embedding (``CHGNet.atom_embedding``, ``Embedding(94, 64)``) and of its composition model
#: (``AtomRef.fc``, ``Linear(94, 1)``); a heavier element fails inside CHGNet with a torch
#: shape error. Kept as a constant because loading CHGNet takes seconds; a test checks it
#: against the model.
TEACHER_ATOMIC_NUMBERS: tuple[int, ...] = tuple(range(1, 95))


class UnsupportedElementError(InputError):
    """The structure contains elements the model (or the stand-in's teacher) lacks."""


class InvalidModelFileError(InputError):
    """A model file that does not exist or is not a loadable MACE model."""


def model_elements(model_path: str | Path) -> list[int]:
    """Return the atomic numbers a MACE model file was trained on.

    Reads the file with ``torch.load(weights_only=False)`` (MACE model files are torch
    pickles of the whole model) and returns its ``atomic_numbers``; no calculator is built.
    The result is cached per file path, size and modification time.

    Parameters
    ----------
    model_path
        MACE model file.

    Returns
    -------
    list of int
        Sorted atomic numbers.

    Raises
    ------
    InvalidModelFileError
        If the file does not exist, is not a torch file, or holds something other than a
        MACE model; the message names the file and what was found.
    """
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise InvalidModelFileError(f"The model file {path} does not exist.")
    stat = path.stat()
    return list(_model_elements(str(path.resolve()), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _model_elements(path: str, size: int, mtime_ns: int) -> tuple[int, ...]:  # noqa: ARG001
    """Load a model file once per (path, size, mtime) and return its atomic numbers."""
    import mace  # noqa: F401  (mace before e3nn, DESIGN.md)
    import torch

    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except (ImportError, AttributeError) as exc:
        raise InvalidModelFileError(
            f"The model file {path} is a torch file whose classes cannot be loaded here "
            f"({type(exc).__name__}: {exc}); was it saved with another version of mace-torch?"
        ) from exc
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InvalidModelFileError(
            f"The model file {path} is not a loadable MACE model: not a torch file "
            f"({type(exc).__name__}: {reason}). Pass a MACE model file (*.model, saved with "
            "torch.save(model))."
        ) from exc
    numbers = getattr(model, "atomic_numbers", None)
    if not isinstance(model, torch.nn.Module) or numbers is None:
        hint = (
            " (a state dict or training checkpoint? MACE's model file is the whole model, "
            "torch.save(model), as mace's run_train writes it)"
            if isinstance(model, dict)
            else ""
        )
        raise InvalidModelFileError(
            f"The model file {path} is a torch file holding a {type(model).__name__}, not a "
            f"MACE model{hint}."
        )
    return tuple(sorted(int(z) for z in torch.as_tensor(numbers).reshape(-1).tolist()))


def _symbols(atomic_numbers: Iterable[int]) -> str:
    """Return element symbols, e.g. ``"Og, Ts"``."""
    from pymatgen.core import Element

    return ", ".join(Element.from_Z(z).symbol for z in atomic_numbers)


def check_model_elements(model_path: str | Path, atomic_numbers: Iterable[int]) -> None:
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
    InvalidModelFileError
        See :func:`model_elements`.
    """
    missing = sorted(set(atomic_numbers) - set(model_elements(model_path)))
    if missing:
        raise UnsupportedElementError(
            f"The model {model_path} has no parameters for {_symbols(missing)}; choose a "
            "foundation model trained on these elements."
        )


def check_teacher_elements(atomic_numbers: Iterable[int]) -> None:
    """Raise if the stand-in's teacher (CHGNet) lacks any of the given elements.

    Parameters
    ----------
    atomic_numbers
        Atomic numbers of the material the stand-in is to cover.

    Raises
    ------
    UnsupportedElementError
        Naming the elements outside :data:`TEACHER_ATOMIC_NUMBERS`.
    """
    missing = sorted(set(atomic_numbers) - set(TEACHER_ATOMIC_NUMBERS))
    if missing:
        raise UnsupportedElementError(
            f"The stand-in foundation cannot cover {_symbols(missing)}: its teacher "
            f"{TEACHER_NAME} has parameters for H to Pu (Z = 1–94) only. Pass a MACE model "
            "trained on these elements with --foundation-model."
        )


def check_foundation_elements(foundation: FoundationModel, atomic_numbers: Iterable[int]) -> None:
    """Raise if a foundation model cannot compute a structure's elements.

    A stand-in is checked against its teacher's table, and against its own file once built
    (a dry run's placeholder stand-in has no file yet); any other model against its file.

    Parameters
    ----------
    foundation
        The resolved foundation model (or a stand-in placeholder).
    atomic_numbers
        Atomic numbers of the structure.

    Raises
    ------
    UnsupportedElementError
        Naming the missing elements.
    InvalidModelFileError
        If the model file (of a non-stand-in, or of a built stand-in) is not a MACE model.
    """
    numbers = sorted(set(atomic_numbers))
    if foundation.is_standin:
        check_teacher_elements(numbers)
        if not Path(foundation.path).is_file():
            return
    check_model_elements(foundation.path, numbers)
