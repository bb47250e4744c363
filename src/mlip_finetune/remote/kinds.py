"""Job kinds and routing: each job goes to the jobflow-remote worker of its kind.

A job's kind is read from its tag (:func:`mlip_finetune.schemas.jobs.job_tag`), never from
its name. :func:`route_flow` writes the worker, resources and exec_config of each job's kind
into the job's jobflow ``manager_config``, for the jobs a flow has at submission and for
those its fan-outs create at run time (see :func:`route_flow`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from mlip_finetune.schemas.jobs import JobKind, job_tag

if TYPE_CHECKING:
    from jobflow import Flow, Job

#: Key of the routing table (kind → manager_config entries) in a routed job's metadata.
ROUTING_KEY = "mlip_finetune_routing"


def job_kind(job: Job | Mapping[str, Any]) -> JobKind:
    """Return the kind of work a job does, from its tag.

    Parameters
    ----------
    job
        A jobflow Job, or a job's ``metadata`` dict (as jobflow-remote stores it, e.g.
        ``JobInfo.metadata``).

    Returns
    -------
    JobKind
        The tag's kind; :attr:`JobKind.LIGHT` for a job without a tag (jobflow's own
        ``store_inputs`` carries its fan-out's tag).

    Raises
    ------
    TypeError
        If given a job name: names carry no kind.
    """
    if isinstance(job, str):
        raise TypeError(f"job_kind reads a job's tag; got the name {job!r}, not a Job")
    tag = job_tag(dict(job) if isinstance(job, Mapping) else job)
    return tag.kind if tag is not None else JobKind.LIGHT


class WorkerRouting(BaseModel):
    """Which jobflow-remote worker runs each :class:`JobKind`.

    Read from the project's ``metadata: {mlip_finetune: {...}}`` by
    :func:`~mlip_finetune.remote.project.routing_for_project`; the example project is
    ``workflows/jfremote_project_slurm.yaml``.
    """

    model_config = ConfigDict(extra="forbid")

    dft: str = Field(default="cpu", description="Worker of DFT jobs (CPU partition).")
    gpu: str = Field(default="gpu", description="Worker of training and large ML evaluations.")
    light: str = Field(default="small", description="Worker of light jobs (one core).")
    resources: dict[JobKind, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-kind qtoolkit resources (partition, ntasks, gres, time, ...) that "
        "replace the worker's own; kinds not listed use their worker's resources.",
    )
    exec_config: dict[JobKind, str] = Field(
        default_factory=dict,
        description="Per-kind name of an exec_config of the project (modules, exports, "
        "pre_run run before the job).",
    )

    def worker(self, kind: JobKind | str) -> str:
        """Return the worker name of a kind.

        Raises
        ------
        ValueError
            If ``kind`` is not a :class:`JobKind` value.
        """
        return getattr(self, JobKind(kind).value)


def routing_table(
    routing: WorkerRouting, worker_resources: Mapping[str, dict[str, Any] | None] | None = None
) -> dict[str, dict[str, Any]]:
    """Return the ``manager_config`` entries of each kind: worker, resources, exec_config.

    Resources: the routing's override of the kind, else its worker's own (explicit, since
    jobflow-remote gives a job created at run time its generator's resources when it has
    none); no entry when neither is set (never ``{}``: jobflow-remote would store an empty
    QResources, replacing the worker's resources by nothing). exec_config: the kind's named
    one; when the routing names exec_configs for other kinds only, an explicit empty one
    (else a job created at run time would get its generator's).

    Parameters
    ----------
    routing
        Workers per kind.
    worker_resources
        Default qtoolkit resources of each worker (the project's ``workers.<name>.resources``).

    Returns
    -------
    dict
        Kind value → ``{"worker": ..., "resources": ..., "exec_config": ...}`` (plain data,
        stored in every routed job's metadata under :data:`ROUTING_KEY`).
    """
    from jobflow_remote.config.base import ExecutionConfig

    worker_resources = worker_resources or {}
    table: dict[str, dict[str, Any]] = {}
    for kind in JobKind:
        worker = routing.worker(kind)
        entry: dict[str, Any] = {"worker": worker}
        resources = routing.resources.get(kind) or worker_resources.get(worker)
        if resources:
            entry["resources"] = dict(resources)
        exec_config = routing.exec_config.get(kind)
        if exec_config is not None:
            entry["exec_config"] = exec_config
        elif routing.exec_config:
            entry["exec_config"] = ExecutionConfig().model_dump(mode="json")
        table[kind.value] = entry
    return table


def route_by_tag(job: Job | Flow) -> bool:
    """Set a job's ``manager_config`` from its kind and the routing table in its metadata.

    The ``callback_filter`` of the dynamic metadata update :func:`route_flow` registers:
    jobflow calls it on every job of the flow at once and, replaying the update, on every
    job created at run time (after the table itself has been replayed onto the job). It
    never lets the (empty) update through.

    Parameters
    ----------
    job
        A jobflow Job (a Flow is left alone).

    Returns
    -------
    bool
        Always False.
    """
    if not hasattr(job, "function"):
        return False
    table = (job.metadata or {}).get(ROUTING_KEY)
    if table:
        entry = copy.deepcopy(table[job_kind(job).value])
        job.config.manager_config = {**job.config.manager_config, **entry}
    return False


def route_flow(
    flow: Flow | Job,
    routing: WorkerRouting | None = None,
    worker_resources: Mapping[str, dict[str, Any] | None] | None = None,
) -> Flow | Job:
    """Send every job of a flow, including jobs created at run time, to its kind's worker.

    Stores the kind → worker table (:func:`routing_table`) in every job's metadata and sets
    each job's ``manager_config`` from its tag (:func:`route_by_tag`), both as *dynamic*
    jobflow metadata updates: jobflow replays them, in that order, on the jobs a fan-out
    creates (``"dft static i/N"``, jobflow's ``store_inputs``, which carries the fan-out's
    tag, and jobs of third-party fan-outs tagged through
    :func:`~mlip_finetune.dft.vasp.jobs.tag_vasp_flow`), so those are routed from their
    own tags too. Jobflow's ``pass_manager_config`` is switched off for the same jobs,
    because it would overwrite the created jobs' worker with the generating job's one.

    Parameters
    ----------
    flow
        Flow or job, modified in place.
    routing
        Workers per kind; default :class:`WorkerRouting` (``cpu``, ``gpu``, ``small``).
    worker_resources
        Default qtoolkit resources of each worker (the project's ``workers.<name>.resources``);
        used for kinds without an override in ``routing.resources``. A kind whose worker has
        neither gets no resources (jobflow-remote then uses the worker's, or, for a job
        created at run time, its generator's).

    Returns
    -------
    Flow or Job
        The same object.
    """
    table = routing_table(routing or WorkerRouting(), worker_resources)
    flow.update_config({"_set": {"pass_manager_config": False}}, dict_mod=True, dynamic=True)
    flow.update_metadata({ROUTING_KEY: table}, dynamic=True)
    flow.update_metadata({}, dynamic=True, callback_filter=route_by_tag)
    return flow


def routed_jobs(flow: Flow, routing: WorkerRouting) -> list[tuple[str, JobKind, str]]:
    """Return ``(name, kind, worker)`` of every job a flow has now (fan-outs add more).

    Parameters
    ----------
    flow
        Any jobflow Flow (routed or not).
    routing
        Workers per kind.

    Returns
    -------
    list of tuple
        In the flow's job order.
    """
    return [(j.name, job_kind(j), routing.worker(job_kind(j))) for j, _ in flow.iterflow()]
