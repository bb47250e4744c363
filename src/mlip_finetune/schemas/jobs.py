"""What a job is, for routing and status: its kind of work and its pipeline stage.

Every Maker of this package tags the jobs it builds with :func:`tag_job` (jobflow job
``metadata["mlip_finetune"] = {"kind": ..., "stage": ...}``); fan-out jobs tag the jobs they
create at run time the same way. :mod:`mlip_finetune.remote` routes a job to a worker from
its kind and summarises a material's progress by stage, reading only this tag
(:func:`job_tag`), never the job's name.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from jobflow import Flow, Job

#: Key of this package's tag in a jobflow job's ``metadata`` (and in a jobflow-remote
#: project's metadata and in the metadata of submitted flows).
METADATA_KEY = "mlip_finetune"


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


class Stage(StrEnum):
    """Stage of the per-material pipeline a job belongs to, in pipeline order."""

    DATA = "data"
    DFT_STATICS = "dft statics"
    FINETUNE = "finetune"
    DATA_EFFICIENCY = "data efficiency"
    SURROGATE = "surrogate"
    DFT_PHONONS = "dft phonons"
    ML_PHONONS = "ml phonons"
    PROPERTIES = "properties"
    FORGETTING = "forgetting"
    REPORT = "report"
    OTHER = "other"


#: Stages in the order of status tables (``finetune <strategy>`` rows sit at ``finetune``).
STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class JobTag(BaseModel):
    """The tag of one job: its kind of work, its stage and an optional detail."""

    model_config = ConfigDict(frozen=True)

    kind: JobKind = Field(description="What the job needs from a node (routing).")
    stage: Stage = Field(description="Pipeline stage (status tables).")
    detail: str | None = Field(
        default=None,
        description="Qualifier shown with the stage, e.g. the strategy of a finetune job.",
    )

    @property
    def stage_name(self) -> str:
        """Stage as shown in status tables, e.g. ``"finetune lora"``."""
        return f"{self.stage.value} {self.detail}" if self.detail else self.stage.value


def tag_metadata(kind: JobKind, stage: Stage, detail: str | None = None) -> dict[str, Any]:
    """Return the job ``metadata`` that carries a tag.

    Used as ``@job(metadata=tag_metadata(...))`` on job functions and job methods of Makers,
    so every job they create carries its tag from the start (jobflow copies it per job), and
    by :func:`tag_job`.

    Parameters
    ----------
    kind, stage, detail
        The tag (:class:`JobTag`).

    Returns
    -------
    dict
        ``{"mlip_finetune": {"kind": ..., "stage": ..., "detail": ...}}``.
    """
    return {METADATA_KEY: JobTag(kind=kind, stage=stage, detail=detail).model_dump(mode="json")}


def tag_job(job: Job | Flow, kind: JobKind, stage: Stage, detail: str | None = None) -> Job | Flow:
    """Tag a job (or every job of a flow) with its kind and stage, in place.

    Parameters
    ----------
    job
        A jobflow Job or Flow; a Flow's jobs are tagged one by one (nested flows too).
    kind, stage, detail
        The tag (:class:`JobTag`).

    Returns
    -------
    Job or Flow
        The same object.
    """
    metadata = tag_metadata(kind, stage, detail)
    jobs = [j for j, _ in job.iterflow()] if hasattr(job, "iterflow") else [job]
    for j in jobs:
        j.metadata = {**(j.metadata or {}), METADATA_KEY: dict(metadata[METADATA_KEY])}
    return job


def job_tag(job: Job | dict[str, Any]) -> JobTag | None:
    """Return the tag of a job, or None for a job this package did not tag.

    Parameters
    ----------
    job
        A jobflow Job, or a job's ``metadata`` dict (as stored by jobflow-remote).

    Returns
    -------
    JobTag or None
    """
    metadata = job if isinstance(job, dict) else (job.metadata or {})
    raw = metadata.get(METADATA_KEY)
    if not isinstance(raw, dict) or "kind" not in raw:
        return None
    return JobTag.model_validate(raw)
