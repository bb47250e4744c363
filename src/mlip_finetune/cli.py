"""Command line interface: ``mlip-finetune run | results | standin``."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from mlip_finetune import __version__

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pymatgen.core import Structure

    from mlip_finetune.foundation import FoundationModel

app = typer.Typer(
    help="Fine-tune a foundation MACE potential for one material's phonons "
    "(Grandel, Benner & George, arXiv 2604.01017).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
standin_app = typer.Typer(help="The offline CHGNet-distilled stand-in foundation.")
app.add_typer(standin_app, name="standin")
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


def _setup_logging(*, verbose: bool) -> None:
    handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in ("mlip_finetune", "jobflow"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


def _names(text: str | None) -> tuple[str, ...] | None:
    """Split a comma-separated option (None stays None)."""
    if text is None:
        return None
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _read_structure(path: Path) -> Structure:
    from pymatgen.core import Structure

    if not path.is_file():
        raise typer.BadParameter(f"structure file {path} does not exist")
    try:
        return Structure.from_file(path)
    except Exception as exc:
        raise typer.BadParameter(f"cannot read a crystal structure from {path}: {exc}") from exc


def _foundation(
    spec: str, structure: Structure, *, allow_standin_fallback: bool
) -> FoundationModel:
    from mlip_finetune.foundation import (
        STANDIN,
        FoundationModelUnavailableError,
        resolve_foundation_model,
    )

    if spec == STANDIN:
        return _build_standin(structure)
    try:
        return resolve_foundation_model(spec)
    except FoundationModelUnavailableError as exc:
        if not allow_standin_fallback:
            console.print(str(exc), style="bold red", markup=False)
            raise typer.Exit(code=2) from exc
        console.rule("[bold red]FOUNDATION MODEL UNAVAILABLE")
        console.print(str(exc), style="bold red", markup=False)
        console.print(
            "[bold red]Falling back to the CHGNet-distilled STAND-IN foundation. Results are "
            "NOT those of MACE-MP-0b3 and are labelled 'stand-in' everywhere.[/]"
        )
        console.rule()
        return _build_standin(structure)


def _build_standin(structure: Structure) -> FoundationModel:
    from mlip_finetune.standin import build_standin_foundation

    start = time.perf_counter()
    with console.status("building / loading the stand-in foundation (CHGNet → small MACE)"):
        model = build_standin_foundation(structure)
    console.print(
        f"stand-in foundation: {model.path} ({time.perf_counter() - start:.0f} s; "
        f"{model.description})"
    )
    return model


@app.command()
def run(  # noqa: PLR0917  (typer maps options to parameters)
    structure_file: Annotated[Path, typer.Argument(help="CIF, POSCAR or any pymatgen format.")],
    foundation_model: Annotated[
        str,
        typer.Option(
            "--foundation-model",
            "-f",
            help="mace-mp name (medium-0b3), a MACE model file, or 'standin'.",
        ),
    ] = "medium-0b3",
    preset: Annotated[
        str, typer.Option(help="paper | local | test (see mlip_finetune.flows.presets).")
    ] = "local",
    strategies: Annotated[
        str,
        typer.Option(
            help="Comma-separated fine-tuning strategies: transfer, multihead, lora_full "
            "(the paper's Equitrain), lora, freeze, scratch."
        ),
    ] = "transfer",
    replay_file: ReplayFileOption = None,
    data_efficiency: DataEfficiencyOption = False,
    curve_strategies: CurveStrategiesOption = None,
    distil: DistilOption = None,
    properties: PropertiesOption = False,
    forgetting: ForgettingOption = False,
    dft_engine: DFTEngineOption = "gpaw",
    workdir: Annotated[Path, typer.Option(help="Run directory (job folders, plots).")] = (
        DEFAULT_WORKDIR
    ),
    store: Annotated[
        Path | None, typer.Option(help="Results store directory (default WORKDIR/store).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    label: Annotated[str | None, typer.Option(help="Material label (default: file stem).")] = None,
    no_fallback: Annotated[
        bool, typer.Option("--no-fallback", help="Fail instead of using the stand-in.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole per-material pipeline locally and print the comparison table."""
    _setup_logging(verbose=verbose)
    from jobflow import run_locally

    from mlip_finetune.flows.presets import material_flow_maker
    from mlip_finetune.store import local_store

    structure = _read_structure(structure_file)
    label = label or structure_file.stem
    foundation = _foundation(foundation_model, structure, allow_standin_fallback=not no_fallback)
    workdir = workdir.resolve()
    run_dir = workdir / f"{label}_{time.strftime('%Y%m%d-%H%M%S')}"
    store_path = (store or workdir / "store").resolve()
    if replay_file is not None and not replay_file.is_file():
        raise typer.BadParameter(f"replay file {replay_file} does not exist")
    try:
        maker = material_flow_maker(
            preset,
            strategies=_names(strategies),
            device=device,
            report_dir=str(run_dir / "report"),
            replay_file=str(replay_file.resolve()) if replay_file else None,
            data_efficiency=data_efficiency,
            data_efficiency_strategies=_names(curve_strategies),
            distil=distil,
            properties=properties,
            forgetting=forgetting,
            dft_engine=dft_engine,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    flow = maker.make(structure, foundation, label=label)
    console.rule(f"[bold]{label}: {len(flow.jobs)} stages, preset {preset}")
    start = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    responses = run_locally(
        flow,
        store=local_store(store_path),
        create_folders=True,
        root_dir=run_dir,
        log=False,
        ensure_success=False,
    )
    report_uuid = flow.output.uuid
    if report_uuid not in responses:
        console.print(
            f"[bold red]The run did not finish; completed results are in the store {store_path}."
            f" Job folders: {run_dir}[/]"
        )
        raise typer.Exit(code=1)
    report = responses[report_uuid][max(responses[report_uuid])].output
    _print_report(report)
    console.print(f"total wall time: {time.perf_counter() - start:.0f} s")
    console.print(f"plots: {report.report_dir}")
    console.print(f"store: {store_path}   (mlip-finetune results --store {store_path})")


def _print_table(table: tuple) -> None:
    title, header, rows = table
    out = Table(title=title)
    for i, col in enumerate(header):
        out.add_column(col, justify="left" if i == 0 or col == "imaginary" else "right")
    for row in rows:
        out.add_row(*row)
    console.print(out)


def _print_report(report: dict | BaseModel) -> None:
    from mlip_finetune.report.tables import as_json_dict, report_tables

    data = as_json_dict(report)
    for table in report_tables(data):
        _print_table(table)
    if data.get("data_efficiency"):
        console.print(f"data-efficiency plot: {data['data_efficiency']['plot_path']}")
    if data.get("surrogate"):
        sur = data["surrogate"]
        console.print(
            f"surrogate of {sur['teacher_path']}: {sur['student_parameters']} vs "
            f"{sur['teacher_parameters']} parameters, {sur['speed_ratio']:.1f}× faster; "
            f"force MAE vs teacher {sur['student_vs_teacher']['force_mae']:.1f} meV/Å"
        )


def _reports(store_path: Path, material: str | None) -> list[dict]:
    from mlip_finetune.store import local_store

    if not store_path.exists():
        raise typer.BadParameter(f"no store at {store_path}")
    job_store = local_store(store_path)
    job_store.connect()
    criteria: dict = {"name": "material report"}
    if material:
        criteria["output.material_label"] = material
    docs = list(job_store.query(criteria, sort={"completed_at": 1}, load=True))
    job_store.close()
    return [
        doc["output"] | {"completed_at": doc.get("completed_at"), "_hosts": doc.get("hosts", [])}
        for doc in docs
    ]


def _run_phonons(store_path: Path, report: dict) -> list[dict]:
    """Phonon documents of the run a report belongs to: DFT first, then the models."""
    from mlip_finetune.store import local_store

    job_store = local_store(store_path)
    job_store.connect()
    criteria = {"name": {"$regex": "^(dft|ml) phonons"}}
    if report["_hosts"]:
        criteria["hosts"] = report["_hosts"][0]
    docs = list(job_store.query(criteria, load=True))
    job_store.close()
    outputs = [d["output"] for d in docs]
    return sorted(outputs, key=lambda p: p["label"] != "dft")


def _results_json(reports: list[dict]) -> list[dict]:
    """Per material and model: the machine-readable summary of `results --json`."""
    return [
        {
            "material": r["material_label"],
            "formula": r["formula"],
            "completed_at": r["completed_at"],
            "foundation": r["foundation_name"],
            "foundation_is_standin": r["foundation_is_standin"],
            "band_structure_plot": r["band_structure_plot"],
            "models": [
                {
                    "label": row["label"],
                    "kind": row["kind"],
                    "model_name": row["model_name"],
                    "model_path": row["model_path"],
                    "model_sha256": row["model_sha256"],
                    "phonon_mae_thz": row["phonon_mae_thz"],
                    "force_mae_mev_per_angstrom": row["force_mae_mev_per_angstrom"],
                    "energy_mae_mev_per_atom": row["energy_mae_mev_per_atom"],
                    "stress_mae_gpa": row["stress_mae_gpa"],
                    "max_frequency_thz": row["max_frequency_thz"],
                    "has_imaginary_modes": row["has_imaginary_modes"],
                    "phonon_property_errors_percent": row["phonon_property_errors"],
                }
                for row in r["rows"]
            ],
        }
        for r in reports
    ]


@app.command()
def results(
    store: Annotated[Path, typer.Option(help="Results store directory.")] = (
        DEFAULT_WORKDIR / "store"
    ),
    material: Annotated[str | None, typer.Option(help="Only this material label.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    stability: Annotated[
        bool,
        typer.Option(
            "--stability",
            help="Also the stability confusion matrix of every model over all materials "
            "(latest run of each).",
        ),
    ] = False,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            "-p",
            help="Read a jobflow-remote project's results store (MongoDB) instead of --store.",
        ),
    ] = None,
) -> None:
    """List what runs stored: per material and model, phonon/force/energy MAE vs DFT."""
    if project is not None:
        from mlip_finetune.remote import RemoteSetupError, material_reports

        try:
            reports = material_reports(project=project, material=material)
        except RemoteSetupError as exc:
            console.print(str(exc), style="bold red", markup=False)
            raise typer.Exit(code=2) from exc
    else:
        reports = _reports(store.resolve(), material)
    if as_json:
        typer.echo(json.dumps(_results_json(reports), indent=2, default=str))
        return
    if not reports:
        console.print(f"no material reports in {store}")
        return
    for stored in reports:
        _print_report(stored)
        console.print(f"completed {stored['completed_at']}; plots {stored['report_dir']}")
    if stability:
        from mlip_finetune.report.tables import stability_summary

        latest = {r["material_label"]: r for r in reports}
        _print_table(stability_summary(list(latest.values())))


@app.command()
def report(
    material: Annotated[str, typer.Argument(help="Material label (as in `results`).")],
    store: Annotated[Path, typer.Option(help="Results store directory.")] = (
        DEFAULT_WORKDIR / "store"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: ./report_MATERIAL).")
    ] = None,
) -> None:
    """Regenerate a material's report (tables, report.md/json, all plots) from the store."""
    from mlip_finetune.report.tables import write_report_files

    store_path = store.resolve()
    reports = _reports(store_path, material)
    if not reports:
        console.print(f"no report for material {material!r} in {store_path}", style="bold red")
        raise typer.Exit(code=1)
    latest = reports[-1]
    out_dir = (out or Path(f"report_{material}")).resolve()
    files = write_report_files(latest, _run_phonons(store_path, latest), out_dir)
    _print_report(latest)
    for name, path in files.items():
        console.print(f"{name}: {path}")


@standin_app.command("build")
def standin_build(
    structure_file: Annotated[Path, typer.Argument(help="The material the stand-in must cover.")],
    force: Annotated[bool, typer.Option(help="Rebuild even if cached.")] = False,
) -> None:
    """Build (or show the cached) CHGNet-distilled stand-in foundation for a material."""
    _setup_logging(verbose=False)
    from mlip_finetune.standin import build_standin_foundation

    structure = _read_structure(structure_file)
    start = time.perf_counter()
    model = build_standin_foundation(structure, force=force)
    console.print(f"{model.description}\npath: {model.path}\nsha256: {model.sha256}")
    console.print(f"build/load time: {time.perf_counter() - start:.0f} s")


# Cluster commands (jobflow-remote); imported last because they reuse this module's helpers.
from mlip_finetune.cli_remote import rerun, status, submit  # noqa: E402

app.command()(submit)
app.command()(status)
app.command()(rerun)
