"""State of submitted material flows, stage by stage; rerun what failed; read the reports.

A job's stage is read from its tag (:func:`mlip_finetune.schemas.jobs.job_tag`, stored by
jobflow-remote with the job's metadata), never from its name.
"""

from __future__ import annotations

from collections import defaultdict
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlip_finetune.remote.project import RemoteSetupError, job_controller, load_project
from mlip_finetune.report.queries import read_material_reports
from mlip_finetune.schemas.jobs import METADATA_KEY, STAGE_ORDER, Stage, job_tag

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


class StageState(StrEnum):
    """Summary state of a stage's jobs."""

    DONE = "done"
    RUNNING = "running"
    WAITING = "waiting"
    FAILED = "failed"
    STOPPED = "stopped"


_ACTIVE = {
    "CHECKED_OUT",
    "UPLOADED",
    "SUBMITTED",
    "RUNNING",
    "RUN_FINISHED",
    "DOWNLOADED",
    "BATCH_SUBMITTED",
    "BATCH_RUNNING",
}
_FAILED = {"FAILED", "REMOTE_ERROR"}


def stage_state(states: Iterable[Any]) -> StageState:
    """Summarise the jobflow-remote states of a stage's jobs.

    Any FAILED or REMOTE_ERROR job makes the stage failed; all COMPLETED make it done; any
    job between checkout and download makes it running; a stopped or paused job, stopped;
    otherwise it is waiting (READY/WAITING).

    Parameters
    ----------
    states
        ``jobflow_remote.jobs.state.JobState`` members or their values.

    Returns
    -------
    StageState
    """
    values = {getattr(s, "value", s) for s in states}
    if values & _FAILED:
        return StageState.FAILED
    if values and values <= {"COMPLETED"}:
        return StageState.DONE
    if values & _ACTIVE:
        return StageState.RUNNING
    if values & {"PAUSED", "STOPPED", "USER_STOPPED"}:
        return StageState.STOPPED
    return StageState.WAITING


class StageStatus(BaseModel):
    """State of one stage of a material flow."""

    stage: str = Field(description="Stage name (JobTag.stage_name, e.g. 'finetune lora').")
    state: StageState = Field(description="Summary state.")
    n_jobs: int = Field(description="Jobs of the stage known so far (fan-outs add more).")
    n_completed: int = Field(description="COMPLETED jobs.")
    n_failed: int = Field(description="FAILED or REMOTE_ERROR jobs.")
    workers: list[str] = Field(description="Workers the stage's jobs are routed to.")
    failed_db_ids: list[str] = Field(default_factory=list, description="Queue ids to rerun.")


class MaterialStatus(BaseModel):
    """State of one submitted material flow, stage by stage."""

    material: str = Field(description="Material label (flow metadata) or the flow name.")
    flow_uuid: str = Field(description="UUID of the flow.")
    flow_name: str = Field(description="Flow name.")
    flow_state: str = Field(description="jobflow-remote FlowState value.")
    stages: list[StageStatus] = Field(description="Stages in pipeline order.")


def _stage_of(metadata: dict | None) -> tuple[Stage, str]:
    """Stage and stage name of a job from its stored metadata (untagged: ``other``)."""
    tag = job_tag(metadata or {})
    if tag is None:
        return Stage.OTHER, Stage.OTHER.value
    return tag.stage, tag.stage_name


def _flow_query(material: str | None) -> dict[str, Any] | None:
    return {f"{METADATA_KEY}.material": material} if material else None


def _stage_status(name: str, members: list) -> StageStatus:
    failed = [i for i in members if i.state.value in _FAILED]
    return StageStatus(
        stage=name,
        state=stage_state(i.state for i in members),
        n_jobs=len(members),
        n_completed=sum(i.state.value == "COMPLETED" for i in members),
        n_failed=len(failed),
        workers=sorted({i.worker for i in members}),
        failed_db_ids=[i.db_id for i in failed],
    )


def _flow_status(flow: Any, infos: list) -> MaterialStatus:
    """One flow's status from its jobs' JobInfo (the tag is in ``JobInfo.metadata``)."""
    stages: dict[str, list] = defaultdict(list)
    order: dict[str, Stage] = {}
    for info in infos:
        stage, name = _stage_of(info.metadata)
        stages[name].append(info)
        order[name] = stage
    names = sorted(stages, key=lambda name: (STAGE_ORDER.index(order[name]), name))
    meta = (flow.flow_metadata or {}).get(METADATA_KEY) or {}
    return MaterialStatus(
        material=meta.get("material") or flow.name,
        flow_uuid=flow.flow_id,
        flow_name=flow.name,
        flow_state=flow.state.value,
        stages=[_stage_status(name, stages[name]) for name in names],
    )


def material_status(
    project: str | None = None,
    material: str | None = None,
    flow_ids: Sequence[str] | None = None,
) -> list[MaterialStatus]:
    """Return the stage-by-stage state of submitted material flows, from the queue.

    Parameters
    ----------
    project
        jobflow-remote project name (None: the default project).
    material
        Only flows submitted with this material label.
    flow_ids
        Only these flows.

    Returns
    -------
    list of MaterialStatus
        Oldest flow first. The ``store_inputs`` job jobflow adds when a fan-out replaces
        itself carries the fan-out's tag, so it counts towards the fan-out's stage.

    Raises
    ------
    RemoteSetupError
        If the project or its queue is unavailable.
    """
    controller = job_controller(load_project(project))
    flows = controller.get_flows_info(
        flow_ids=list(flow_ids) if flow_ids else None,
        metadata=_flow_query(material),
        sort=[("created_on", 1)],
    )
    if not flows:
        return []
    jobs = controller.get_jobs_info(flow_ids=[f.flow_id for f in flows])
    by_flow: dict[str, list] = defaultdict(list)
    flow_uuids = {f.flow_id for f in flows}
    for info in jobs:
        for host in info.hosts or []:
            if host in flow_uuids:
                by_flow[host].append(info)
                break
    return [_flow_status(flow, by_flow[flow.flow_id]) for flow in flows]


def rerun_failed(
    project: str | None = None,
    material: str | None = None,
    flow_ids: Sequence[str] | None = None,
) -> list[str]:
    """Put failed jobs back in the queue; finished jobs are kept and not run again.

    FAILED jobs are rerun (``JobController.rerun_jobs``: back to READY, their waiting
    children follow); REMOTE_ERROR jobs (submission or transfer problems) are retried
    (``retry_jobs``). Fix the cause first (a missing file, a module, a time limit): the
    job runs with its stored inputs.

    Parameters
    ----------
    project, material, flow_ids
        As for :func:`material_status`.

    Returns
    -------
    list of str
        Queue ids of the jobs put back.

    Raises
    ------
    RemoteSetupError
        If the project or its queue is unavailable.
    """
    from jobflow_remote.jobs.state import JobState

    controller = job_controller(load_project(project))
    if material and not flow_ids:
        flows = controller.get_flows_info(metadata=_flow_query(material))
        flow_ids = [f.flow_id for f in flows]
        if not flow_ids:
            return []
    selection = {"flow_ids": list(flow_ids) if flow_ids else None, "raise_on_error": False}
    rerun = controller.rerun_jobs(states=JobState.FAILED, **selection)
    retried = controller.retry_jobs(states=JobState.REMOTE_ERROR, **selection)
    return [*rerun, *retried]


def material_reports(project: str | None = None, material: str | None = None) -> list[dict]:
    """Return the material report documents from a project's results store.

    Parameters
    ----------
    project
        jobflow-remote project name (None: the default project).
    material
        Only reports of this material label.

    Returns
    -------
    list of dict
        As :func:`mlip_finetune.report.queries.read_material_reports` (the shape
        ``mlip-finetune results`` reads from a local store), oldest first.

    Raises
    ------
    RemoteSetupError
        If the project or its store is unavailable.
    """
    project_obj = load_project(project)
    store = project_obj.get_jobstore()
    try:
        return read_material_reports(store, material)
    except Exception as exc:
        raise RemoteSetupError(
            f"cannot read the results store of project {project_obj.name!r}: {exc}"
        ) from exc
