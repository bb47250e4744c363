"""Cluster submission through jobflow-remote: job routing, project set-up, status, results.

One material flow mixes three kinds of work (DESIGN.md): DFT (many CPU cores), training and
large ML evaluations (a GPU), and light bookkeeping (a core for seconds). Every job's kind
follows from its name (:func:`job_kind`, rules in :data:`ROUTES`), and :func:`route_flow`
sends each kind to a worker of a jobflow-remote project (:class:`WorkerRouting`, default
workers ``cpu``, ``gpu`` and ``small``). The routing is written into each job's jobflow
``manager_config`` with jobflow-remote's :func:`jobflow_remote.set_run_config` as *dynamic*
updates, so the DFT statics created at run time by a fan-out job also go to the DFT worker.

Outputs go to the project's JobStore (MongoDB through maggma ``MongoStore``, big arrays in a
``data`` GridFS store); :func:`material_status` summarises a material's stages from the
queue and :func:`material_reports` reads the report documents back.
"""

from __future__ import annotations

import re
from collections import defaultdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from jobflow import Flow, Job
    from jobflow_remote.config.base import Project
    from jobflow_remote.jobs.jobcontroller import JobController
    from pymatgen.core import Structure

    from mlip_finetune.foundation import FoundationModel

#: Key of this package's settings in a jobflow-remote project's ``metadata`` and in the
#: metadata of submitted flows.
METADATA_KEY = "mlip_finetune"


class RemoteSetupError(RuntimeError):
    """A jobflow-remote project, worker or queue is missing or inconsistent."""


class JobKind(StrEnum):
    """What a job needs from a compute node.

    ``dft``: many CPU cores for a DFT code (statics, relaxations, phonon displacements, EOS
    and elastic points, phase-transition scans).
    ``gpu``: a GPU for training or for large ML evaluations (foundation-model relaxations of
    the training-data supercells, ML phonons and properties in large supercells, the
    forgetting check, surrogate distillation).
    ``light``: one core for minutes (fan-outs, phonopy assembly, property errors, report).
    """

    DFT = "dft"
    GPU = "gpu"
    LIGHT = "light"


#: Routing rules ``(name substring, kind)`` for the job names of
#: :class:`~mlip_finetune.flows.material.MaterialFlowMaker`. A job takes the kind of the
#: LAST rule whose substring occurs in its name, :attr:`JobKind.LIGHT` if none does (the
#: semantics of successive ``set_run_config(name_filter=...)`` calls, which apply them).
#: Trailing spaces keep ``"dft static "`` (the statics ``"dft static 3/20"``) from matching
#: the fan-out job ``"dft statics"``.
ROUTES: tuple[tuple[str, JobKind], ...] = (
    # foundation-model relaxations of the training supercells
    ("training data", JobKind.GPU),
    # fine-tuning, also the data-efficiency runs "finetune lora frames<=2"
    ("finetune ", JobKind.GPU),
    ("distil surrogate", JobKind.GPU),
    ("ml phonons", JobKind.GPU),
    ("ml properties", JobKind.GPU),
    ("forgetting check", JobKind.GPU),
    # created at run time by the fan-outs "dft statics" and "dft phonon statics"
    ("dft static ", JobKind.DFT),
    ("dft phonon displacement ", JobKind.DFT),
    ("dft relax", JobKind.DFT),
    ("dft properties relax", JobKind.DFT),
    ("dft properties static", JobKind.DFT),
    # created at run time by the fan-out "dft property points"
    ("dft eos ", JobKind.DFT),
    ("dft elastic ", JobKind.DFT),
    # DFT phonons and mode scans in one job (paper preset)
    ("dft phase transitions", JobKind.DFT),
    # VASP through atomate2 (mlip_finetune.dft.vasp): the VASP job itself on a CPU node,
    # its conversion to our StaticDocument ("vasp static document 3/20") on the light worker
    ("vasp static", JobKind.DFT),
    ("vasp relax", JobKind.DFT),
    ("vasp phonon", JobKind.DFT),
    # atomate2's EOS and elastic flows (paper_eos_maker, paper_elastic_maker): the points
    # "vasp eos relax deformation 3" and, created at run time, "vasp elastic relax 2/6"
    ("vasp eos relax", JobKind.DFT),
    ("vasp elastic relax", JobKind.DFT),
    # the bulk relaxation of the VASP property suite (VaspPropertiesMaker) and its
    # phase-transition search (VASP phonons and mode scans in one job)
    ("vasp properties relax", JobKind.DFT),
    ("vasp phase transitions", JobKind.DFT),
    ("document", JobKind.LIGHT),
)


def job_kind(job: Job | str) -> JobKind:
    """Return the kind of work a job does, from its name (rules in :data:`ROUTES`).

    Parameters
    ----------
    job
        A jobflow Job or a job name, e.g. ``"dft static 3/20"``, ``"finetune lora"``.

    Returns
    -------
    JobKind
        The kind of the last matching rule; :attr:`JobKind.LIGHT` when no rule matches.

    Examples
    --------
    >>> job_kind("dft static 3/20"), job_kind("dft statics"), job_kind("finetune lora")
    (<JobKind.DFT: 'dft'>, <JobKind.LIGHT: 'light'>, <JobKind.GPU: 'gpu'>)
    """
    name = job if isinstance(job, str) else (job.name or "")
    kind = JobKind.LIGHT
    for pattern, rule_kind in ROUTES:
        if pattern in name:
            kind = rule_kind
    return kind


class WorkerRouting(BaseModel):
    """Which jobflow-remote worker runs each :class:`JobKind`.

    Read from the project's ``metadata: {mlip_finetune: {...}}`` by
    :func:`routing_for_project`; the example project is ``workflows/jfremote_project_slurm.yaml``.
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


def route_flow(
    flow: Flow | Job,
    routing: WorkerRouting | None = None,
    worker_resources: Mapping[str, dict[str, Any] | None] | None = None,
) -> Flow | Job:
    """Send every job of a flow, including jobs generated at run time, to its kind's worker.

    Applies :data:`ROUTES` with ``jobflow_remote.set_run_config(..., dynamic=True)``: first
    the light worker for every job, then each rule in order, so a job ends with the worker
    of :func:`job_kind`. The updates are also stored as jobflow ``config_updates`` and are
    replayed on the jobs a fan-out creates (e.g. ``"dft static i/N"``). Jobflow's
    ``pass_manager_config`` is switched off for the same jobs, because it would overwrite
    the generated jobs' worker with the generating job's one.

    Resources and exec_config are set explicitly per kind, because jobflow-remote gives a
    generated job its generator's ones when the job has none (a DFT static would otherwise
    ask for the small worker's partition).

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
    from jobflow_remote import set_run_config
    from jobflow_remote.config.base import ExecutionConfig

    routing = routing or WorkerRouting()
    worker_resources = worker_resources or {}
    flow.update_config({"_set": {"pass_manager_config": False}}, dict_mod=True, dynamic=True)

    def apply(name_filter: str | None, kind: JobKind) -> None:
        worker = routing.worker(kind)
        resources = routing.resources.get(kind) or worker_resources.get(worker)
        exec_config: str | ExecutionConfig | None = routing.exec_config.get(kind)
        if exec_config is None and routing.exec_config:
            # explicit "none", or generated jobs inherit their generator's exec_config
            exec_config = ExecutionConfig()
        set_run_config(
            flow,
            name_filter=name_filter,
            worker=worker,
            # never {}: jobflow-remote stores it as an empty QResources, which replaces
            # the worker's resources by nothing
            resources=dict(resources) if resources else None,
            exec_config=exec_config,
            dynamic=True,
        )

    apply(None, JobKind.LIGHT)
    for pattern, kind in ROUTES:
        apply(pattern, kind)
    return flow


# --- project and worker configuration ----------------------------------------------------


def mongo_store(
    database: str,
    collection_name: str,
    host: str = "127.0.0.1",
    port: int = 27017,
    *,
    store_type: str = "MongoStore",
    **kwargs: Any,
) -> dict[str, Any]:
    """Return the jobflow-remote/maggma description of a MongoDB collection.

    Parameters
    ----------
    database, collection_name, host, port
        Where the collection lives.
    store_type
        maggma store class: ``"MongoStore"`` (documents) or ``"GridFSStore"`` (files
        larger than MongoDB's 16 MB document limit).
    **kwargs
        Passed to the store (``username``, ``password``, ``auth_source``, ...).

    Returns
    -------
    dict
        ``{"type": store_type, "database": ..., "collection_name": ..., ...}``.
    """
    return {
        "type": store_type,
        "database": database,
        "collection_name": collection_name,
        "host": host,
        "port": int(port),
        **kwargs,
    }


def local_worker(
    work_dir: str | Path,
    *,
    scheduler: str = "shell",
    resources: dict[str, Any] | None = None,
    pre_run: str | None = None,
    max_jobs: int | None = None,
    execution_cmd: str | None = None,
) -> dict[str, Any]:
    """Return a jobflow-remote worker on the machine running the runner.

    Parameters
    ----------
    work_dir
        Directory of the job folders (shared with the compute nodes for ``slurm``).
    scheduler
        qtoolkit scheduler: ``"shell"`` (run directly) or ``"slurm"`` (``sbatch``).
    resources
        Default qtoolkit resources (``partition``, ``ntasks``, ``cpus_per_task``,
        ``gres``, ``time``, ...).
    pre_run
        Shell lines run before each job (``module load ...``, ``source venv/bin/activate``).
    max_jobs
        Maximum number of jobs of this worker queued or running at once.
    execution_cmd
        Command executing a job, with ``{}`` for its folder; default ``jf -fe execution
        run {}`` (needs ``jf`` on the node's PATH).

    Returns
    -------
    dict
        A ``LocalWorker`` configuration (``type: local``).
    """
    worker: dict[str, Any] = {
        "type": "local",
        "scheduler_type": scheduler,
        "work_dir": str(Path(work_dir).resolve()),
    }
    optional = {
        "resources": resources,
        "pre_run": pre_run,
        "max_jobs": max_jobs,
        "execution_cmd": execution_cmd,
    }
    worker.update({key: value for key, value in optional.items() if value is not None})
    return worker


def project_config(
    name: str,
    workers: dict[str, dict[str, Any]],
    *,
    database: str,
    host: str = "127.0.0.1",
    port: int = 27017,
    base_dir: str | Path | None = None,
    routing: WorkerRouting | None = None,
    runner: dict[str, Any] | None = None,
    exec_config: dict[str, dict[str, Any]] | None = None,
    store_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a validated jobflow-remote project with a MongoDB queue and results store.

    Queue: collections ``jobs``, ``flows``, ``auxiliary``, ``batches`` of ``database``.
    JobStore: ``outputs`` (MongoStore) plus the additional store ``data`` (GridFS
    ``outputs_data``) for large arrays. The routing is stored in the project's ``metadata``
    under ``mlip_finetune``.

    Parameters
    ----------
    name
        Project name (``JFREMOTE_PROJECT``; file ``<name>.yaml``).
    workers
        Worker name → configuration (:func:`local_worker`, or a remote worker as in
        ``workflows/jfremote_project_slurm.yaml``).
    database, host, port
        MongoDB server of queue and outputs.
    base_dir
        Directory of the project's logs and temporary files; default jobflow-remote's
        (``~/.jfremote/<name>``).
    routing
        Workers per job kind; default :class:`WorkerRouting`.
    runner
        jobflow-remote ``RunnerOptions`` (``delay_checkout``, ... in s).
    exec_config
        Named execution configurations (``modules``, ``export``, ``pre_run``).
    store_kwargs
        Extra arguments of every store (``username``, ``password``, ``auth_source``).

    Returns
    -------
    dict
        The project as a plain dict (write it with :func:`write_project`).

    Raises
    ------
    RemoteSetupError
        If jobflow-remote rejects the configuration, or the routing names a worker the
        project does not define.
    """
    from jobflow_remote.config.base import Project

    routing = routing or WorkerRouting()
    extra = dict(store_kwargs or {})
    config: dict[str, Any] = {
        "name": name,
        "workers": workers,
        "queue": {"store": mongo_store(database, "jobs", host, port, **extra)},
        "jobstore": {
            "docs_store": mongo_store(database, "outputs", host, port, **extra),
            "additional_stores": {
                "data": mongo_store(
                    database, "outputs_data", host, port, store_type="GridFSStore", **extra
                )
            },
        },
        "metadata": {METADATA_KEY: routing.model_dump(mode="json")},
    }
    if base_dir is not None:
        config["base_dir"] = str(Path(base_dir).resolve())
    if runner:
        config["runner"] = runner
    if exec_config:
        config["exec_config"] = exec_config
    try:
        project = Project.model_validate(config)
    except ValueError as exc:
        raise RemoteSetupError(f"invalid jobflow-remote project {name!r}: {exc}") from exc
    _check_routing(routing, project)
    return config


def write_project(config: dict[str, Any], folder: str | Path | None = None) -> Path:
    """Write a project configuration as ``<folder>/<name>.yaml`` (overwriting it).

    Parameters
    ----------
    config
        A project (:func:`project_config`).
    folder
        jobflow-remote projects folder; default the current one (``JFREMOTE_PROJECTS_FOLDER``,
        else ``~/.jfremote``).

    Returns
    -------
    Path
        The file written.
    """
    from jobflow_remote import SETTINGS
    from monty.serialization import dumpfn

    folder = Path(folder or SETTINGS.projects_folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{config['name']}.yaml"
    dumpfn(config, path)
    return path


def load_project(name: str | None = None) -> Project:
    """Return a jobflow-remote project by name (None: ``JFREMOTE_PROJECT`` or the only one).

    Raises
    ------
    RemoteSetupError
        If no project of that name can be read, naming the projects folder.
    """
    from jobflow_remote import SETTINGS, ConfigManager
    from jobflow_remote.config.base import ConfigError

    try:
        return ConfigManager().get_project(name)
    except ConfigError as exc:
        raise RemoteSetupError(
            f"jobflow-remote project {name or '(default)'} not found or unreadable in "
            f"{SETTINGS.projects_folder}: {exc}. Create one (see "
            "workflows/jfremote_project_slurm.yaml) or set JFREMOTE_PROJECT."
        ) from exc


def routing_for_project(project: Project) -> WorkerRouting:
    """Return the routing stored in a project's ``metadata.mlip_finetune`` (default if absent).

    Raises
    ------
    RemoteSetupError
        If the stored routing is malformed or names a worker the project lacks.
    """
    data = (project.metadata or {}).get(METADATA_KEY) or {}
    try:
        routing = WorkerRouting.model_validate(data)
    except ValueError as exc:
        raise RemoteSetupError(
            f"metadata.{METADATA_KEY} of project {project.name!r} is not a routing: {exc}"
        ) from exc
    _check_routing(routing, project)
    return routing


def _check_routing(routing: WorkerRouting, project: Project) -> None:
    missing = {
        kind.value: routing.worker(kind)
        for kind in JobKind
        if routing.worker(kind) not in project.workers
    }
    if missing:
        raise RemoteSetupError(
            f"project {project.name!r} has no worker for job kinds {missing} "
            f"(its workers: {sorted(project.workers)}); add the workers or set "
            f"metadata.{METADATA_KEY}.<kind>: <worker> in the project."
        )
    unknown = set(routing.exec_config.values()) - set(project.exec_config)
    if unknown:
        raise RemoteSetupError(
            f"project {project.name!r} has no exec_config {sorted(unknown)} "
            f"(defined: {sorted(project.exec_config)})"
        )


def job_controller(project: Project) -> JobController:
    """Return the project's JobController, initialising an empty queue database once.

    Raises
    ------
    RemoteSetupError
        If the queue database cannot be reached, or holds flows but no job counter
        (a damaged queue that ``jf admin reset`` would wipe).
    """
    from jobflow_remote import JobController

    try:
        controller = JobController.from_project(project)
        initialised = controller.auxiliary.find_one({"next_id": {"$exists": True}})
    except Exception as exc:
        raise RemoteSetupError(
            f"cannot reach the queue database of project {project.name!r}: {exc}"
        ) from exc
    if initialised is None:
        if controller.flows.count_documents({}):
            raise RemoteSetupError(
                f"the queue of project {project.name!r} holds flows but no job counter; "
                "inspect it before running `jf admin reset`."
            )
        controller.reset(max_limit=0)
    return controller


# --- submission ------------------------------------------------------------------------


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
        Any jobflow Flow (modified in place by :func:`route_flow`).
    project
        jobflow-remote project name; None: ``JFREMOTE_PROJECT`` or the only project.
    routing
        Workers per job kind; default the project's (:func:`routing_for_project`).
    priority
        jobflow-remote priority of every job (higher runs first).
    metadata
        Stored in the flow's metadata under ``mlip_finetune`` (``material`` is used by
        :func:`material_status` and ``mlip-finetune status --material``).

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
    _check_routing(routing, project_obj)
    route_flow(flow, routing, {name: w.resources for name, w in project_obj.workers.items()})
    flow.metadata = {**(flow.metadata or {}), METADATA_KEY: dict(metadata or {})}
    job_controller(project_obj)
    try:
        db_ids = submit_flow(
            flow, worker=routing.light, project=project_obj.name, priority=priority
        )
    except ConfigError as exc:
        raise RemoteSetupError(str(exc)) from exc
    jobs = [(j.name, job_kind(j), routing.worker(job_kind(j))) for j, _ in flow.iterflow()]
    return Submission(
        project=project_obj.name,
        flow_uuid=flow.uuid,
        material=(metadata or {}).get("material"),
        db_ids=list(db_ids),
        jobs=jobs,
    )


def submit_material(
    structure: Structure,
    foundation: FoundationModel,
    *,
    preset: str = "paper",
    strategies: Sequence[str] = ("transfer",),
    label: str | None = None,
    device: str = "auto",
    report_dir: str | None = None,
    project: str | None = None,
    routing: WorkerRouting | None = None,
    priority: int = 0,
    options: dict | None = None,
) -> Submission:
    """Build one material's flow from a preset and submit it with routing.

    The flow is :func:`~mlip_finetune.flows.presets.material_flow_maker`'s, labelled in the
    flow metadata so that :func:`material_status` can select it.

    Parameters
    ----------
    structure
        The material.
    foundation
        Resolved foundation model; its file must be readable at the same path on every
        worker (a shared filesystem), since no job downloads anything.
    preset, strategies, device, report_dir
        As for :func:`~mlip_finetune.flows.presets.material_flow_maker`.
    label
        Material label; default the reduced formula.
    project, routing, priority
        As for :func:`submit_routed`.
    options
        Further keywords of ``material_flow_maker`` (``replay_file``, ``data_efficiency``,
        ``distil``, ``properties``, ``forgetting``, ``dft_engine``); stored in the flow
        metadata too.

    Returns
    -------
    Submission

    Raises
    ------
    ValueError
        On an unknown preset or strategy, or a foundation lacking an element (at build time).
    RemoteSetupError
        As :func:`submit_routed`.
    """
    from mlip_finetune.flows.presets import material_flow_maker

    options = dict(options or {})
    maker = material_flow_maker(
        preset, strategies=tuple(strategies), device=device, report_dir=report_dir, **options
    )
    label = label or structure.composition.reduced_formula
    flow = maker.make(structure, foundation, label=label)
    metadata = {
        "material": label,
        "preset": str(preset),
        "strategies": [str(s) for s in strategies],
        "foundation": foundation.display_name,
        "foundation_sha256": foundation.sha256,
        "options": options,
    }
    return submit_routed(
        flow, project=project, routing=routing, priority=priority, metadata=metadata
    )


# --- status --------------------------------------------------------------------------------


class StageState(StrEnum):
    """Summary state of a stage's jobs."""

    DONE = "done"
    RUNNING = "running"
    WAITING = "waiting"
    FAILED = "failed"
    STOPPED = "stopped"


_STAGE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(training data|frame structures)$"), "data"),
    (re.compile(r"^dft statics?( \d+/\d+)?$"), "dft statics"),
    (re.compile(r"^finetune (?P<strategy>\S+)$"), "finetune {strategy}"),
    (re.compile(r"^(finetune \S+ frames<=\d+|data efficiency curve)$"), "data efficiency"),
    (re.compile(r"^distil surrogate$"), "surrogate"),
    (
        re.compile(
            r"^(dft relax|phonon displacements|dft phonon statics|dft phonons"
            r"|dft phonon displacement \d+/\d+)$"
        ),
        "dft phonons",
    ),
    (re.compile(r"^ml phonons\b"), "ml phonons"),
    (
        re.compile(
            r"^(ml properties \S+|dft properties( relax| static)?|dft property points"
            r"|dft (eos|elastic) \d+/\d+|dft phase transitions|property errors)$"
        ),
        "properties",
    ),
    (re.compile(r"^forgetting check$"), "forgetting"),
    (re.compile(r"^material report$"), "report"),
)
#: Stage order in status tables (``finetune <strategy>`` stages sit between these).
STAGE_ORDER = (
    "data",
    "dft statics",
    "finetune",
    "data efficiency",
    "surrogate",
    "dft phonons",
    "ml phonons",
    "properties",
    "forgetting",
    "report",
    "other",
)


def stage_of(name: str) -> str:
    """Return the stage of a material-flow job name.

    Parameters
    ----------
    name
        Job name, e.g. ``"dft phonon displacement 2/3"``.

    Returns
    -------
    str
        One of :data:`STAGE_ORDER` (``"finetune <strategy>"`` for each strategy), ``"other"``
        for a name no stage claims.
    """
    for pattern, stage in _STAGE_RULES:
        match = pattern.match(name)
        if match:
            return stage.format(**match.groupdict())
    return "other"


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
    if values & {"FAILED", "REMOTE_ERROR"}:
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

    stage: str = Field(description="Stage name (stage_of).")
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


def _stage_sort_key(stage: str) -> tuple[int, str]:
    head = "finetune" if stage.startswith("finetune ") else stage
    return (STAGE_ORDER.index(head) if head in STAGE_ORDER else len(STAGE_ORDER), stage)


def _flow_query(material: str | None) -> dict[str, Any] | None:
    return {f"{METADATA_KEY}.material": material} if material else None


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
        itself counts towards the fan-out's stage.

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
    statuses = []
    for flow in flows:
        infos = by_flow[flow.flow_id]
        first_names: dict[str, str] = {}
        for info in sorted(infos, key=lambda i: i.index):
            first_names.setdefault(info.uuid, info.name)
        stages: dict[str, list] = defaultdict(list)
        for info in infos:
            # a fan-out's store_inputs job shares the fan-out's uuid with a higher index
            stages[stage_of(first_names[info.uuid])].append(info)
        stage_list = []
        for stage in sorted(stages, key=_stage_sort_key):
            members = stages[stage]
            failed = [i for i in members if i.state.value in ("FAILED", "REMOTE_ERROR")]
            stage_list.append(
                StageStatus(
                    stage=stage,
                    state=stage_state(i.state for i in members),
                    n_jobs=len(members),
                    n_completed=sum(i.state.value == "COMPLETED" for i in members),
                    n_failed=len(failed),
                    workers=sorted({i.worker for i in members}),
                    failed_db_ids=[i.db_id for i in failed],
                )
            )
        meta = (flow.flow_metadata or {}).get(METADATA_KEY) or {}
        statuses.append(
            MaterialStatus(
                material=meta.get("material") or flow.name,
                flow_uuid=flow.flow_id,
                flow_name=flow.name,
                flow_state=flow.state.value,
                stages=stage_list,
            )
        )
    return statuses


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


# --- results ---------------------------------------------------------------------------------


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
        Each a :class:`~mlip_finetune.schemas.report.MaterialReportDocument` as a dict plus
        ``completed_at`` and ``_hosts`` (the report job's flow uuids), oldest first: the
        shape ``mlip-finetune results`` reads from a local store.

    Raises
    ------
    RemoteSetupError
        If the project or its store is unavailable.
    """
    project_obj = load_project(project)
    store = project_obj.get_jobstore()
    criteria: dict[str, Any] = {"name": "material report"}
    if material:
        criteria["output.material_label"] = material
    try:
        store.connect()
        try:
            docs = list(store.query(criteria, sort={"completed_at": 1}, load=True))
        finally:
            store.close()
    except Exception as exc:
        raise RemoteSetupError(
            f"cannot read the results store of project {project_obj.name!r}: {exc}"
        ) from exc
    return [
        doc["output"] | {"completed_at": doc.get("completed_at"), "_hosts": doc.get("hosts", [])}
        for doc in docs
    ]
