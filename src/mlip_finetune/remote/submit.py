"""Submission: route a flow's jobs to the project's workers and add it to the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlip_finetune.remote.kinds import WorkerRouting, route_flow, routed_jobs
from mlip_finetune.remote.project import (
    RemoteSetupError,
    check_routing,
    job_controller,
    load_project,
    routing_for_project,
)
from mlip_finetune.schemas.jobs import METADATA_KEY, JobKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from jobflow import Flow

    from mlip_finetune.foundation import FoundationModel


class Submission(BaseModel):
    """What was submitted: one flow, its job ids in the queue and where each job goes."""

    project: str = Field(description="jobflow-remote project name.")
    flow_uuid: str = Field(description="UUID of the submitted flow.")
    material: str | None = Field(default=None, description="Material label, if any.")
    db_ids: list[str] = Field(description="Queue ids of the jobs (jf job info <id>).")
    jobs: list[tuple[str, JobKind, str]] = Field(
        description="(job name, kind, worker) of every job known at submission; fan-out "
        "jobs add theirs at run time with the same routing."
    )


def submit_routed(
    flow: Flow,
    *,
    project: str | None = None,
    routing: WorkerRouting | None = None,
    priority: int = 0,
    metadata: dict[str, Any] | None = None,
) -> Submission:
    """Route a flow's jobs to the project's workers and add it to the queue.

    Parameters
    ----------
    flow
        Any jobflow Flow of tagged jobs (modified in place by
        :func:`~mlip_finetune.remote.kinds.route_flow`).
    project
        jobflow-remote project name; None: ``JFREMOTE_PROJECT`` or the only project.
    routing
        Workers per job kind; default the project's (:func:`routing_for_project`).
    priority
        jobflow-remote priority of every job (higher runs first).
    metadata
        Stored in the flow's metadata under ``mlip_finetune`` (``material`` is used by
        :func:`~mlip_finetune.remote.status.material_status` and ``mlip-finetune status
        --material``).

    Returns
    -------
    Submission

    Raises
    ------
    RemoteSetupError
        On a missing project, worker or store, or an unreachable queue.
    """
    from jobflow_remote import submit_flow
    from jobflow_remote.config.base import ConfigError

    project_obj = load_project(project)
    routing = routing or routing_for_project(project_obj)
    check_routing(routing, project_obj)
    route_flow(flow, routing, {name: w.resources for name, w in project_obj.workers.items()})
    flow.metadata = {**(flow.metadata or {}), METADATA_KEY: dict(metadata or {})}
    job_controller(project_obj)
    try:
        db_ids = submit_flow(
            flow, worker=routing.light, project=project_obj.name, priority=priority
        )
    except ConfigError as exc:
        raise RemoteSetupError(str(exc)) from exc
    return Submission(
        project=project_obj.name,
        flow_uuid=flow.uuid,
        material=(metadata or {}).get("material"),
        db_ids=list(db_ids),
        jobs=routed_jobs(flow, routing),
    )


def submit_material(
    flow: Flow,
    foundation: FoundationModel,
    *,
    label: str,
    preset: str = "paper",
    strategies: Sequence[str] = ("transfer",),
    options: dict | None = None,
    project: str | None = None,
    routing: WorkerRouting | None = None,
    priority: int = 0,
) -> Submission:
    """Submit one material's flow with routing, labelled for :func:`material_status`.

    The flow is built by the caller (``mlip-finetune submit``,
    ``workflows/submit_materials.py``) with
    :func:`~mlip_finetune.flows.presets.material_flow_maker`; this function records how in
    the flow metadata.

    Parameters
    ----------
    flow
        The material's flow (``material_flow_maker(preset, ...).make(structure, foundation,
        label=label)``).
    foundation
        The resolved foundation model of the flow; its file must be readable at the same
        path on every worker (a shared filesystem), since no job downloads anything.
    label
        Material label (flow metadata ``material``).
    preset, strategies, options
        What the flow was built with (the preset, the fine-tuning strategies and the further
        keywords of ``material_flow_maker``); stored in the flow metadata.
    project, routing, priority
        As for :func:`submit_routed`.

    Returns
    -------
    Submission

    Raises
    ------
    RemoteSetupError
        As :func:`submit_routed`.
    """
    metadata = {
        "material": label,
        "preset": str(preset),
        "strategies": [str(s) for s in strategies],
        "foundation": foundation.display_name,
        "foundation_sha256": foundation.sha256,
        "options": dict(options or {}),
    }
    return submit_routed(
        flow, project=project, routing=routing, priority=priority, metadata=metadata
    )
