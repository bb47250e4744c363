"""Local commands: ``run`` the pipeline here, list ``results``, regenerate a ``report``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mlip_finetune.cli.options import (
    DEFAULT_WORKDIR,
    CurveStrategiesOption,
    DataEfficiencyOption,
    DFTEngineOption,
    DistilOption,
    ForgettingOption,
    PropertiesOption,
    ReplayFileOption,
    console,
    fail,
    read_structure,
    readable_command,
    readable_errors,
    resolve_foundation,
    setup_logging,
    split_names,
)

if TYPE_CHECKING:
    from jobflow import Flow, JobStore
    from pydantic import BaseModel
    from pymatgen.core import Structure

    from mlip_finetune.flows.material import MaterialFlowMaker
    from mlip_finetune.foundation import FoundationModel


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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Build and check the whole flow, print its jobs by stage with the DFT "
            "calculations they will run, and exit: no stand-in build, no DFT, no training.",
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole per-material pipeline locally and print the comparison table.

    Every input is checked before anything runs (the structure, the foundation's and the DFT
    engine's elements, the preset's DFT cell sizes: :mod:`mlip_finetune.flows.validation`);
    a bad one exits with code 2 and a one-line message (the traceback with ``-v``).
    """
    setup_logging(verbose=verbose)
    from mlip_finetune.core.resume import run_locally_resumable
    from mlip_finetune.core.store import local_store
    from mlip_finetune.flows.presets import material_flow_maker

    start = time.perf_counter()
    with readable_errors(verbose=verbose):
        structure = read_structure(structure_file)
        label = label or structure_file.stem
        foundation = resolve_foundation(
            foundation_model, structure, allow_standin_fallback=not no_fallback, dry_run=dry_run
        )
        workdir = workdir.resolve()
        run_dir = workdir / f"{label}_{time.strftime('%Y%m%d-%H%M%S')}"
        store_path = (store or workdir / "store").resolve()
        if replay_file is not None and not replay_file.is_file():
            raise typer.BadParameter(f"replay file {replay_file} does not exist")
        try:
            maker = material_flow_maker(
                preset,
                strategies=split_names(strategies),
                device=device,
                report_dir=str(run_dir / "report"),
                replay_file=str(replay_file.resolve()) if replay_file else None,
                data_efficiency=data_efficiency,
                data_efficiency_strategies=split_names(curve_strategies),
                distil=distil,
                properties=properties,
                forgetting=forgetting,
                dft_engine=dft_engine,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        flow = maker.make(structure, foundation, label=label)
        if dry_run:
            _print_dry_run(flow, structure, maker, foundation, f"{label}, preset {preset}")
            console.print(f"dry run: nothing computed ({time.perf_counter() - start:.1f} s)")
            return
    console.rule(f"[bold]{label}: {len(flow.jobs)} stages, preset {preset}")
    start = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    # a rerun after a kill reuses every finished job whose inputs are unchanged
    responses, reuse = run_locally_resumable(
        flow, store=local_store(store_path), root_dir=run_dir, create_folders=True
    )
    console.print(reuse.line(), soft_wrap=True)  # one line, for scripts too
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


def _print_dry_run(
    flow: Flow,
    structure: Structure,
    maker: MaterialFlowMaker,
    foundation: FoundationModel,
    title: str,
) -> None:
    """Print a built flow's jobs by stage and the DFT calculations each stage will run."""
    from mlip_finetune.flows.validation import dft_workload, jobs_by_stage
    from mlip_finetune.schemas.jobs import Stage

    workload = dft_workload(structure, maker)
    stages = jobs_by_stage(flow)
    table = Table(title=f"dry run {title}: {sum(map(len, stages.values()))} jobs")
    for col in ("stage", "jobs", "DFT calculations at run time"):
        table.add_column(col)
    for stage, names in stages.items():
        dft = "; ".join(b.text for b in workload.by_stage(Stage(stage)))
        table.add_row(stage, ", ".join(names), dft)
    console.print(table)
    n_dft = sum(b.n_calculations for b in workload.batches)
    console.print(
        f"{workload.unit_cell.composition.reduced_formula}: {len(workload.unit_cell)} atoms in "
        f"the primitive cell; {n_dft} DFT calculations, the largest {workload.max_atoms} atoms "
        f"(phonon supercell {workload.phonon_matrix}); foundation {foundation.display_name}: "
        f"{foundation.path}"
    )


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
        vs_teacher = sur["student_vs_teacher"]["force_mae_mev_per_angstrom"]
        console.print(
            f"surrogate of {sur['teacher_path']}: {sur['student_parameters']} vs "
            f"{sur['teacher_parameters']} parameters, {sur['speed_ratio']:.1f}× faster; "
            f"force MAE vs teacher {vs_teacher:.1f} meV/Å"
        )


def _local_store(store_path: Path) -> JobStore:
    """Return the embedded store of local runs at ``store_path`` (which must exist)."""
    from mlip_finetune.core.store import local_store

    if not store_path.exists():
        raise typer.BadParameter(f"no store at {store_path}")
    return local_store(store_path)


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


def _stored_reports(store: Path, material: str | None, project: str | None) -> list[dict]:
    """Return the reports of a local store, or of a jobflow-remote project's store."""
    from mlip_finetune.report.queries import read_material_reports

    if project is None:
        return read_material_reports(_local_store(store.resolve()), material)
    from mlip_finetune.remote import RemoteSetupError, material_reports

    try:
        return material_reports(project=project, material=material)
    except RemoteSetupError as exc:
        fail(exc)


@readable_command
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
    reports = _stored_reports(store, material, project)
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


@readable_command
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
    from mlip_finetune.report.queries import read_material_reports, read_run_phonons
    from mlip_finetune.report.tables import write_report_files

    store_path = store.resolve()
    reports = read_material_reports(_local_store(store_path), material)
    if not reports:
        console.print(f"no report for material {material!r} in {store_path}", style="bold red")
        raise typer.Exit(code=1)
    latest = reports[-1]
    out_dir = (out or Path(f"report_{material}")).resolve()
    files = write_report_files(latest, read_run_phonons(_local_store(store_path), latest), out_dir)
    _print_report(latest)
    for name, path in files.items():
        console.print(f"{name}: {path}")
