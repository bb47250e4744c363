"""What the commands share: options, the console, logging, reading inputs, the foundation."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlip_finetune.foundation import FoundationModel

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


def read_structure(path: Path) -> Structure:
    """Read a crystal structure from any pymatgen format.

    Raises
    ------
    typer.BadParameter
        If the file does not exist or holds no readable structure.
    """
    from pymatgen.core import Structure

    if not path.is_file():
        raise typer.BadParameter(f"structure file {path} does not exist")
    try:
        return Structure.from_file(path)
    except Exception as exc:
        raise typer.BadParameter(f"cannot read a crystal structure from {path}: {exc}") from exc


def resolve_foundation(
    spec: str, structure: Structure, *, allow_standin_fallback: bool
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

    Returns
    -------
    FoundationModel

    Raises
    ------
    typer.Exit
        Code 2, if the model is unavailable and no fallback is allowed.
    """
    from mlip_finetune.foundation import (
        STANDIN,
        FoundationModelUnavailableError,
        resolve_foundation_model,
    )

    if spec == STANDIN:
        return build_standin(structure)
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
        return build_standin(structure)


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
