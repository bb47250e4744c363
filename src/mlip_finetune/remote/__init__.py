"""Cluster submission through jobflow-remote: job routing, project set-up, status, results.

One material flow mixes three kinds of work (DESIGN.md): DFT (many CPU cores), training and
large ML evaluations (a GPU), and light bookkeeping (a core for seconds). Every job carries
its kind in its tag (:mod:`mlip_finetune.schemas.jobs`), and :func:`route_flow` sends each
kind to a worker of a jobflow-remote project (:class:`WorkerRouting`, default workers
``cpu``, ``gpu`` and ``small``), also the jobs fan-outs create at run time.

- :mod:`~mlip_finetune.remote.kinds`: :func:`job_kind`, :class:`WorkerRouting`,
  :func:`route_flow`.
- :mod:`~mlip_finetune.remote.project`: project, workers and stores
  (:func:`project_config`, :func:`write_project`, :func:`load_project`).
- :mod:`~mlip_finetune.remote.submit`: :func:`submit_routed`, :func:`submit_material`.
- :mod:`~mlip_finetune.remote.status`: :func:`material_status` (stages from the job tags),
  :func:`rerun_failed`, :func:`material_reports` (the report documents from MongoDB).
"""

from __future__ import annotations

from mlip_finetune.remote.kinds import (
    ROUTING_KEY,
    WorkerRouting,
    job_kind,
    route_by_tag,
    route_flow,
    routed_jobs,
    routing_table,
)
from mlip_finetune.remote.project import (
    RemoteSetupError,
    check_routing,
    job_controller,
    load_project,
    local_worker,
    mongo_store,
    project_config,
    routing_for_project,
    write_project,
)
from mlip_finetune.remote.status import (
    MaterialStatus,
    StageState,
    StageStatus,
    material_reports,
    material_status,
    rerun_failed,
    stage_state,
)
from mlip_finetune.remote.submit import Submission, submit_material, submit_routed
from mlip_finetune.schemas.jobs import METADATA_KEY, STAGE_ORDER, JobKind

__all__ = [
    "METADATA_KEY",
    "ROUTING_KEY",
    "STAGE_ORDER",
    "JobKind",
    "MaterialStatus",
    "RemoteSetupError",
    "StageState",
    "StageStatus",
    "Submission",
    "WorkerRouting",
    "check_routing",
    "job_controller",
    "job_kind",
    "load_project",
    "local_worker",
    "material_reports",
    "material_status",
    "mongo_store",
    "project_config",
    "rerun_failed",
    "route_by_tag",
    "route_flow",
    "routed_jobs",
    "routing_for_project",
    "routing_table",
    "stage_state",
    "submit_material",
    "submit_routed",
    "write_project",
]
