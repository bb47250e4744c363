"""``mlip-finetune standin build``: the offline CHGNet-distilled stand-in foundation."""

from __future__ import annotations

import time
from pathlib import Path  # noqa: TC003  (typer reads the annotations at run time)
from typing import Annotated

import typer

from mlip_finetune.cli.options import console, read_structure, readable_command, setup_logging


@readable_command
def standin_build(
    structure_file: Annotated[Path, typer.Argument(help="The material the stand-in must cover.")],
    force: Annotated[bool, typer.Option(help="Rebuild even if cached.")] = False,
) -> None:
    """Build (or show the cached) CHGNet-distilled stand-in foundation for a material.

    Also prints how closely its phonons track CHGNet's (MAE target 0.3 THz).
    """
    setup_logging(verbose=False)
    from mlip_finetune.fitting.standin import build_standin_foundation, read_standin_report

    structure = read_structure(structure_file)
    start = time.perf_counter()
    model = build_standin_foundation(structure, force=force)
    console.print(f"{model.description}\npath: {model.path}\nsha256: {model.sha256}")
    report = read_standin_report(model.path)
    if report is not None and report.teacher_phonons is not None:
        console.print(report.teacher_phonons.line(), markup=False)
    console.print(f"build/load time: {time.perf_counter() - start:.0f} s")
