"""Cluster commands: ``submit | status | rerun`` (and ``results -p``, in :mod:`.local`).

They talk to a jobflow-remote project (``workflows/jfremote_project_slurm.yaml``); the jobs
themselves are run by jobflow-remote's runner (``jf -p PROJECT runner start``).
"""

from __future__ import annotations

import json
from pathlib import Path  # noqa: TC003  (typer reads the annotations at run time)
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mlip_finetune.cli.options import (
    CurveStrategiesOption,
    DataEfficiencyOption,
    DFTEngineOption,
    DistilOption,
    ForgettingOption,
    MaterialOption,
    ProjectOption,
    PropertiesOption,
    ReplayFileOption,
    console,
    fail,
    read_structure,
    readable_command,
    resolve_foundation,
    setup_logging,
    split_names,
)
from mlip_finetune.core.errors import MlipFinetuneError

if TYPE_CHECKING:
    from mlip_finetune.remote import MaterialStatus, Submission, WorkerRouting

_STATE_STYLE = {
    "done": "green",
    "running": "cyan",
    "waiting": "dim",
    "failed": "bold red",
    "stopped": "yellow",
}


@readable_command
def submit(  # noqa: PLR0917  (typer maps options to parameters)
    structure_file: Annotated[Path, typer.Argument(help="CIF, POSCAR or any pymatgen format.")],
    foundation_model: Annotated[
        str,
        typer.Option(
            "--foundation-model",
            "-f",
            help="mace-mp name (resolved here, then read by path on the workers), a MACE "
            "model file on a filesystem the workers share, or 'standin'.",
        ),
    ] = "medium-0b3",
    preset: Annotated[
        str, typer.Option(help="paper | local | test (see mlip_finetune.flows.presets).")
    ] = "paper",
    strategies: Annotated[
        str, typer.Option(help="Comma-separated fine-tuning strategies.")
    ] = "transfer",
    replay_file: ReplayFileOption = None,
    data_efficiency: DataEfficiencyOption = False,
    curve_strategies: CurveStrategiesOption = None,
    distil: DistilOption = None,
    properties: PropertiesOption = False,
    forgetting: ForgettingOption = False,
    dft_engine: DFTEngineOption = "gpaw",
    project: ProjectOption = None,
    label: Annotated[str | None, typer.Option(help="Material label (default: file stem).")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda (on the GPU worker).")] = "auto",
    report_dir: Annotated[
        str | None,
        typer.Option(help="Plot directory on the workers (default: the report job's folder)."),
    ] = None,
    priority: Annotated[int, typer.Option(help="Queue priority (higher runs first).")] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the routing, submit nothing.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Submit one material's pipeline to a jobflow-remote project, each job to its worker.

    DFT jobs go to the project's DFT worker, training and large ML evaluations to the GPU
    worker, light jobs to the small worker (project metadata ``mlip_finetune``).
    """
    setup_logging(verbose=verbose)
    from mlip_finetune.flows.presets import material_flow_maker
    from mlip_finetune.remote import (
        RemoteSetupError,
        load_project,
        routed_jobs,
        routing_for_project,
        submit_material,
    )

    structure = read_structure(structure_file)
    label = label or structure_file.stem
    names = split_names(strategies)
    options = {
        # the workers read the replay file by this path (a shared filesystem)
        "replay_file": str(replay_file.resolve()) if replay_file else None,
        "data_efficiency": data_efficiency,
        "data_efficiency_strategies": split_names(curve_strategies),
        "distil": distil,
        "properties": properties,
        "forgetting": forgetting,
        "dft_engine": dft_engine,
    }
    try:
        routing = routing_for_project(load_project(project))
    except RemoteSetupError as exc:
        fail(exc)
    foundation = resolve_foundation(
        foundation_model, structure, allow_standin_fallback=False, dry_run=dry_run
    )
    submission = None
    try:
        maker = material_flow_maker(
            preset, strategies=names, device=device, report_dir=report_dir, **options
        )
        flow = maker.make(structure, foundation, label=label)
        if dry_run:
            jobs = routed_jobs(flow, routing)
        else:
            submission = submit_material(
                flow,
                foundation,
                label=label,
                preset=preset,
                strategies=names,
                options=options,
                project=project,
                routing=routing,
                priority=priority,
            )
            jobs = submission.jobs
    except RemoteSetupError as exc:
        fail(exc)
    except MlipFinetuneError:
        raise  # one line, exit 2 (readable_command)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _print_routing(f"{label}: {len(jobs)} jobs, preset {preset}", jobs, routing)
    if submission is None:
        console.print("dry run: nothing submitted")
        return
    _print_submission(submission, label)


def _print_routing(title: str, jobs: list, routing: WorkerRouting) -> None:
    table = Table(title=title)
    for col in ("job", "kind", "worker"):
        table.add_column(col)
    for name, kind, worker in jobs:
        table.add_row(name, kind.value, worker)
    console.print(table)
    console.print(
        f"fan-out jobs add 'dft static i/N' and 'dft phonon displacement i/N' at run time "
        f"(kind dft, worker {routing.dft})"
    )


def _print_submission(submission: Submission, label: str) -> None:
    console.print(
        f"submitted flow {submission.flow_uuid} to project {submission.project} "
        f"(queue ids {submission.db_ids[0]}–{submission.db_ids[-1]})"
    )
    console.print(
        f"run it: jf -p {submission.project} runner start    "
        f"follow it: mlip-finetune status -p {submission.project} --material {label}"
    )


def _print_status(status: MaterialStatus) -> None:
    table = Table(
        title=f"{status.material}: flow {status.flow_state} ({status.flow_name}, "
        f"{status.flow_uuid})"
    )
    for col in ("stage", "state", "jobs done", "workers", "failed ids"):
        table.add_column(col, justify="right" if col == "jobs done" else "left")
    for stage in status.stages:
        state = stage.state.value
        table.add_row(
            stage.stage,
            f"[{_STATE_STYLE[state]}]{state}[/]",
            f"{stage.n_completed}/{stage.n_jobs}",
            ", ".join(stage.workers),
            ", ".join(stage.failed_db_ids),
        )
    console.print(table)


def status(
    project: ProjectOption = None,
    material: MaterialOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show each submitted material's stages: done, running, waiting or failed."""
    from mlip_finetune.remote import RemoteSetupError, StageState, material_status

    try:
        statuses = material_status(project=project, material=material)
    except RemoteSetupError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in statuses], indent=2))
        return
    if not statuses:
        console.print("no submitted materials" + (f" labelled {material}" if material else ""))
        return
    for st in statuses:
        _print_status(st)
    if any(stage.state is StageState.FAILED for st in statuses for stage in st.stages):
        console.print(
            "failed jobs keep their finished siblings; fix the cause (see `jf job info ID`), "
            "then: mlip-finetune rerun" + (f" -p {project}" if project else "")
        )


def rerun(project: ProjectOption = None, material: MaterialOption = None) -> None:
    """Queue failed jobs again (after fixing the cause); finished jobs are not rerun."""
    from mlip_finetune.remote import RemoteSetupError, rerun_failed

    try:
        ids = rerun_failed(project=project, material=material)
    except RemoteSetupError as exc:
        fail(exc)
    if not ids:
        console.print("no failed jobs")
        return
    console.print(f"queued again: {', '.join(ids)} (the runner picks them up)")
