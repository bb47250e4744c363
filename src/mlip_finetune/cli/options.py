"""What the commands share: options, the console, logging, reading inputs, the foundation."""

from __future__ import annotations

import functools
import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from mlip_finetune.core.errors import MlipFinetuneError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pymatgen.core import Structure

    from mlip_finetune.foundation import FoundationModel

P = ParamSpec("P")
R = TypeVar("R")

# Wide enough for the comparison tables when output is not a terminal (logs, CI, pipes).
console = Console(width=None if sys.stdout.isatty() else 160)

DEFAULT_WORKDIR = Path("mlip_finetune_runs")


#: Options of the per-material pipeline shared by ``run`` and ``submit``.
ReplayFileOption = Annotated[
    Path | None,
    typer.Option(
        help="multihead: local replay file (extxyz with energies, forces, stresses); "
        "default: prototypes of the material's elements labelled by the foundation."
    ),
]
DataEfficiencyOption = Annotated[
    bool,
    typer.Option(
        "--data-efficiency", help="Also train on growing training subsets and plot the curve."
    ),
]
CurveStrategiesOption = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated strategies on the data-efficiency curve (implies "
        "--data-efficiency; default: every trained strategy)."
    ),
]
DistilOption = Annotated[
    str | None,
    typer.Option(help="Distil this strategy's model into a smaller, faster surrogate."),
]
PropertiesOption = Annotated[
    bool,
    typer.Option(
        "--properties",
        help="Also EOS, elastic tensor, Slack κ and phase-transition search, every model and DFT.",
    ),
]
ForgettingOption = Annotated[
    bool,
    typer.Option("--forgetting", help="Also errors vs the foundation off the material."),
]
DFTEngineOption = Annotated[
    str,
    typer.Option(
        "--dft-engine",
        help="gpaw (open engine, runs here) or vasp (atomate2, paper settings; on a cluster).",
    ),
]

#: Options of the cluster commands (``submit``, ``status``, ``rerun``).
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="jobflow-remote project (default: $JFREMOTE_PROJECT or the only project).",
    ),
]
MaterialOption = Annotated[str | None, typer.Option(help="Only this material label.")]


def setup_logging(*, verbose: bool) -> None:
    """Log this package's and jobflow's messages through the rich console.

    Parameters
    ----------
    verbose
        DEBUG instead of INFO for ``mlip_finetune`` and ``jobflow``.
    """
    handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in ("mlip_finetune", "jobflow"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


def split_names(text: str | None) -> tuple[str, ...] | None:
    """Split a comma-separated option (None stays None).

    Examples
    --------
    >>> split_names("transfer, lora,")
    ('transfer', 'lora')
    """
    if text is None:
        return None
    return tuple(s.strip() for s in text.split(",") if s.strip())


def fail(exc: Exception, code: int = 2) -> NoReturn:
    """Print an error readably (no traceback) and exit with ``code``.

    Raises
    ------
    typer.Exit
        Always.
    """
    console.print(str(exc), style="bold red", markup=False)
    raise typer.Exit(code=code) from exc


@contextmanager
def readable_errors(*, verbose: bool = False) -> Iterator[None]:
    """Turn any :class:`~mlip_finetune.core.errors.MlipFinetuneError` into a one-line exit.

    Parameters
    ----------
    verbose
        Also print the traceback (``-v``).

    Yields
    ------
    None

    Raises
    ------
    typer.Exit
        Code 2, after printing the error's message in red (:func:`fail`).
    """
    try:
        yield
    except MlipFinetuneError as exc:
        if verbose:
            console.print_exception(show_locals=False)
        fail(exc)


def readable_command(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so that a project error exits 2 with one line (:func:`readable_errors`).

    The command's ``verbose`` argument, if it has one and it is set, adds the traceback.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with readable_errors(verbose=bool(kwargs.get("verbose"))):
            return command(*args, **kwargs)

    return wrapper


def read_structure(path: Path) -> Structure:
    """Read a crystal structure from a file and check it at the door.

    Reading is :func:`~mlip_finetune.core.validation.read_structure_file` (any pymatgen
    format, and ASE's), the checks :func:`~mlip_finetune.core.validation.validate_structure`.

    Raises
    ------
    mlip_finetune.core.validation.StructureError
        If the file does not exist, holds no readable structure, or the structure is
        non-periodic, disordered or has atoms too close.
    """
    from mlip_finetune.core.validation import read_structure_file, validate_structure

    return validate_structure(read_structure_file(path))


def resolve_foundation(
    spec: str, structure: Structure, *, allow_standin_fallback: bool, dry_run: bool = False
) -> FoundationModel:
    """Resolve the foundation model of a command, or build the stand-in.

    Parameters
    ----------
    spec
        mace-mp name, a model file, or ``"standin"``.
    structure
        The material (the stand-in must cover its elements).
    allow_standin_fallback
        Fall back to the stand-in (loudly) when the model cannot be had.
    dry_run
        Do not build a stand-in: return :func:`standin_placeholder` instead.

    Returns
    -------
    FoundationModel

    Raises
    ------
    typer.Exit
        Code 2, if the model is unavailable and no fallback is allowed.
    mlip_finetune.foundation.UnsupportedElementError
        If the stand-in's teacher lacks an element (before anything is built).
    """
    from mlip_finetune.foundation import (
        STANDIN,
        FoundationModelUnavailableError,
        resolve_foundation_model,
    )

    if spec == STANDIN:
        return standin_placeholder(structure) if dry_run else build_standin(structure)
    try:
        return resolve_foundation_model(spec)
    except FoundationModelUnavailableError as exc:
        if not allow_standin_fallback:
            fail(exc)
        console.rule("[bold red]FOUNDATION MODEL UNAVAILABLE")
        console.print(str(exc), style="bold red", markup=False)
        console.print(
            "[bold red]Falling back to the CHGNet-distilled STAND-IN foundation. Results are "
            "NOT those of MACE-MP-0b3 and are labelled 'stand-in' everywhere.[/]"
        )
        console.rule()
        return standin_placeholder(structure) if dry_run else build_standin(structure)


def standin_placeholder(structure: Structure) -> FoundationModel:
    """Return the stand-in foundation of a material without building it (``--dry-run``).

    The cached stand-in if there is one; otherwise a placeholder pointing at where it would
    be cached (:func:`~mlip_finetune.fitting.standin.standin_model_path`), with no SHA-256.
    The door checks a placeholder against the teacher's element table only.

    Raises
    ------
    mlip_finetune.foundation.UnsupportedElementError
        If the teacher (CHGNet) lacks an element of the material.
    """
    from mlip_finetune.fitting.standin import standin_model_path
    from mlip_finetune.foundation import STANDIN, FoundationModel
    from mlip_finetune.foundation.elements import check_teacher_elements

    check_teacher_elements(el.Z for el in structure.composition.elements)
    path = standin_model_path(structure)
    built = path.is_file()
    return FoundationModel(
        name=STANDIN,
        path=str(path),
        sha256="0" * 64,
        is_standin=True,
        description=f"STAND-IN ({'cached' if built else 'not built yet'}; dry run)",
    )


def build_standin(structure: Structure) -> FoundationModel:
    """Build (or load the cached) stand-in foundation for a material, with a spinner."""
    from mlip_finetune.fitting.standin import build_standin_foundation

    start = time.perf_counter()
    with console.status("building / loading the stand-in foundation (CHGNet → small MACE)"):
        model = build_standin_foundation(structure)
    console.print(
        f"stand-in foundation: {model.path} ({time.perf_counter() - start:.0f} s; "
        f"{model.description})"
    )
    return model
