"""jobflow-remote projects: workers, MongoDB stores, the routing in the project metadata.

A project (``<name>.yaml`` in jobflow-remote's projects folder) names the workers, the queue
database and the JobStore (MongoDB through maggma ``MongoStore``, big arrays in a ``data``
GridFS store). This package's :class:`~mlip_finetune.remote.kinds.WorkerRouting` lives in
the project's ``metadata: {mlip_finetune: {...}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlip_finetune.remote.kinds import WorkerRouting
from mlip_finetune.schemas.jobs import METADATA_KEY, JobKind

if TYPE_CHECKING:
    from jobflow_remote.config.base import Project
    from jobflow_remote.jobs.jobcontroller import JobController


class RemoteSetupError(RuntimeError):
    """A jobflow-remote project, worker or queue is missing or inconsistent."""


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
    check_routing(routing, project)
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
    check_routing(routing, project)
    return routing


def check_routing(routing: WorkerRouting, project: Project) -> None:
    """Check that a project has every worker and exec_config a routing names.

    Raises
    ------
    RemoteSetupError
        Naming the missing workers (per kind) or exec_configs.
    """
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
