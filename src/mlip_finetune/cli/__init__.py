"""Command line interface: ``mlip-finetune run | results | report | submit | status | rerun``.

The typer ``app`` (entry point ``mlip-finetune = "mlip_finetune.cli:app"``) registers the
commands of :mod:`~mlip_finetune.cli.local` (this machine), :mod:`~mlip_finetune.cli.remote`
(a jobflow-remote project) and :mod:`~mlip_finetune.cli.standin` (``standin build``);
what they share is in :mod:`~mlip_finetune.cli.options`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mlip_finetune import __version__
from mlip_finetune.cli.local import report, results, run
from mlip_finetune.cli.options import console
from mlip_finetune.cli.remote import rerun, status, submit
from mlip_finetune.cli.standin import standin_build

app = typer.Typer(
    help="Fine-tune a foundation MACE potential for one material's phonons "
    "(Grandel, Benner & George, arXiv 2604.01017).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
standin_app = typer.Typer(help="The offline CHGNet-distilled stand-in foundation.")
app.add_typer(standin_app, name="standin")


def _version(value: bool) -> None:
    if value:
        console.print(f"mlip-finetune {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Fine-tune foundation MLIPs for phonon and thermal properties."""


for command in (run, results, report, submit, status, rerun):
    app.command()(command)
standin_app.command("build")(standin_build)

__all__ = ["app", "console", "standin_app"]
