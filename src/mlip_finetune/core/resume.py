"""Resumable local runs: a rerun reuses every finished job whose inputs are unchanged.

jobflow's :func:`~jobflow.managers.local.run_locally` runs every job of a Flow; a new Flow
has new job uuids, so after a kill (Ctrl-C, SIGKILL, a power cut) the next run computes
every DFT static and every training again although the store holds their outputs.
:func:`run_locally_resumable` is the same loop (folders, ``stop_children``,
``stop_jobflow``, ``replace``/``detour``/``addition``, ``on_missing_references``) with one
step added before each job:

1. resolve the job's input references from the store (what :meth:`jobflow.Job.run` does
   first anyway);
2. compute the job's **key** (:func:`job_key`): the SHA-256 of its function's import path,
   the Maker it is bound to (``as_dict()``) and its resolved arguments;
3. if the reuse index (a ``reuse_index`` collection next to the outputs) maps that key to a
   stored output, copy that output document to the new job's uuid and index (blob
   references into the ``data`` store stay valid: the blobs are shared, not copied) and
   skip the job; otherwise run it with :meth:`jobflow.Job.run` and, once its output is in
   the store, add its key to the index.

What is reused, and what is not:

* A job is recorded only after its output is stored, so a job killed midway has no record
  and runs again; anything downstream of a recomputed job sees new inputs (a new model
  path, other numbers) and runs again too.
* Jobs whose response creates jobs or stops the flow (``replace``, ``detour``,
  ``addition``, ``stop_children``, ``stop_jobflow``: the DFT fan-outs) are never recorded:
  they rerun, which is cheap (they only build jobs), and the jobs they create are then
  themselves reused by key. jobflow's bookkeeping jobs that do not resolve their
  references (``store_inputs``, which stores a replaced job's output) run as well.
* The key holds inputs, not code: a change of a job's source or of a library that changes
  its result is not detected (``@version`` entries of serialised objects are left out, so
  an upgrade alone does not discard a store's work). Use a fresh store after such changes.
* Outputs refer to files by absolute path, most of all the trained models in the job
  folders of the run that made them. A reused output keeps pointing there: deleting an
  old run's folder invalidates its outputs for reuse. A stored output is reused only if
  every absolute path it names under a key ending in ``path`` or ``_dir`` still exists
  (:func:`missing_paths`); otherwise the job runs again.
* Jobs with the same key anywhere in the store are the same computation: a second
  material or run with identical inputs reuses them too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import secrets
import time
import types
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobflow import Flow, Job, JobStore, Response
    from maggma.core import Store

logger = logging.getLogger(__name__)

#: Collection of the reuse index, in the database of the outputs.
INDEX_COLLECTION = "reuse_index"

#: Output keys whose absolute string values must be existing files or folders for reuse.
_PATH_KEY = re.compile(r"(path|_dir)$")

#: The " i/N" suffix of the jobs a fan-out creates ("dft static 3/22").
_STEP_SUFFIX = re.compile(r" \d+/\d+$")


def _strip_versions(obj: Any) -> Any:
    """Return a jsanitized object without its ``@version`` entries (recursively)."""
    if isinstance(obj, dict):
        return {k: _strip_versions(v) for k, v in obj.items() if k != "@version"}
    if isinstance(obj, list):
        return [_strip_versions(v) for v in obj]
    return obj


def job_function_path(job: Job) -> str:
    """Return ``module:qualname`` of the function a job runs.

    Parameters
    ----------
    job
        A jobflow Job (from ``@job`` on a function or on a Maker's method).

    Returns
    -------
    str
        e.g. ``"mlip_finetune.dft.jobs:dft_static"`` or
        ``"mlip_finetune.evaluation.jobs.phonons:MLPhononMaker.make"``.
    """
    function = getattr(job.function, "original", job.function)
    return f"{function.__module__}:{function.__qualname__}"


def job_key(job: Job) -> str | None:
    """Return the reuse key of a job whose input references are resolved.

    Parameters
    ----------
    job
        Job after :meth:`jobflow.Job.resolve_args`; a job whose arguments still hold
        references gets a key that names them (their uuids), so it matches nothing.

    Returns
    -------
    str or None
        Hex SHA-256 of the canonical JSON (sorted keys, ``@version`` entries removed) of
        the function's import path, the bound Maker's ``as_dict()`` (for ``@job`` methods)
        and the positional and keyword arguments; None when an argument cannot be
        serialised (such a job is never reused).
    """
    from monty.json import jsanitize

    bound = getattr(job.function, "__self__", None)
    if isinstance(bound, types.ModuleType):
        bound = None
    payload = {
        "function": job_function_path(job),
        "maker": bound,
        "args": list(job.function_args),
        "kwargs": job.function_kwargs,
    }
    try:
        clean = jsanitize(payload, strict=True, enum_values=True, allow_bson=True)
    except (AttributeError, TypeError, ValueError):
        return None
    text = json.dumps(_strip_versions(clean), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def missing_paths(output: Any) -> list[str]:
    """Return the absolute paths an output document names that no longer exist.

    Parameters
    ----------
    output
        A stored output (dicts and lists, as in the store).

    Returns
    -------
    list of str
        Absolute string values under keys ending in ``path`` or ``_dir`` (``model_path``,
        ``plot_path``, ``report_dir``, …), at any depth, that are not existing files or
        folders; empty when the output can be reused.
    """
    missing = []
    if isinstance(output, dict):
        for key, value in output.items():
            if isinstance(value, str) and _PATH_KEY.search(str(key)):
                if Path(value).is_absolute() and not Path(value).exists():
                    missing.append(value)
            else:
                missing += missing_paths(value)
    elif isinstance(output, list):
        for value in output:
            missing += missing_paths(value)
    return missing


def reuse_index_store(store: JobStore) -> Store:
    """Return the reuse index of a job store: collection ``reuse_index`` next to its outputs.

    Parameters
    ----------
    store
        A job store whose ``docs_store`` is a maggma ``MontyStore`` (the embedded store of
        :func:`mlip_finetune.core.store.local_store`).

    Returns
    -------
    maggma.stores.MontyStore
        Same database path, database name and storage as the outputs; not yet connected.

    Raises
    ------
    TypeError
        If the outputs are held by another kind of store; pass ``index_store`` to
        :func:`run_locally_resumable` then.
    """
    from maggma.stores import MontyStore

    docs = store.docs_store
    if not isinstance(docs, MontyStore):
        raise TypeError(
            f"No default reuse index for a {type(docs).__name__}; pass index_store= "
            "(any maggma Store that persists as long as the outputs do)."
        )
    return MontyStore(
        INDEX_COLLECTION,
        database_path=docs.database_path,
        database_name=docs.database_name,
        storage=docs.storage,
        storage_kwargs=docs.storage_kwargs,
    )


def _completed_at() -> str:
    """Return the time now as :meth:`jobflow.Job.run` stamps ``completed_at`` (local, naive)."""
    return datetime.now().astimezone().replace(tzinfo=None).isoformat()


def _group(name: str) -> str:
    """Return a job name without the " i/N" step of a fan-out."""
    return _STEP_SUFFIX.sub("", name)


@dataclass
class ReuseSummary:
    """What a resumable run took from the store and what it computed.

    Parameters
    ----------
    reused
        Names of the jobs whose outputs were copied from earlier runs, in run order.
    computed
        Names of the jobs that ran (fan-outs, which always rerun, included).
    failed
        Names of the jobs that raised.
    saved_s
        Wall time (s) the reused jobs had taken when they were computed.
    """

    reused: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    saved_s: float = 0.0

    @property
    def n_jobs(self) -> int:
        """Number of jobs reused, computed or failed."""
        return len(self.reused) + len(self.computed) + len(self.failed)

    def groups(self) -> dict[str, tuple[int, int]]:
        """Return ``{job group: (reused, total)}`` in first-seen order.

        Returns
        -------
        dict of str to (int, int)
            Groups are job names without a fan-out's " i/N" step (``"dft static"``).
        """
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for names, reused in ((self.reused, 1), (self.computed, 0), (self.failed, 0)):
            for name in names:
                counts[_group(name)][0] += reused
                counts[_group(name)][1] += 1
        return {name: (reused, total) for name, (reused, total) in counts.items()}

    def line(self) -> str:
        """Return the one-line account printed after a run.

        Returns
        -------
        str
            e.g. ``"reused 27 of 41 jobs from the store (dft static 22/22, …), computed
            14 (…); the reused jobs had taken 512 s"``.
        """
        groups = self.groups()
        reused = ", ".join(f"{g} {r}/{t}" for g, (r, t) in groups.items() if r)
        computed = ", ".join(
            f"{g} ×{t - r}" if t - r > 1 else g for g, (r, t) in groups.items() if t > r
        )
        text = f"reused {len(self.reused)} of {self.n_jobs} jobs from the store"
        text += f" ({reused})" if reused else ""
        text += f", computed {self.n_jobs - len(self.reused)}"
        text += f" ({computed})" if computed else ""
        if self.reused:
            text += f"; the reused jobs had taken {self.saved_s:.0f} s"
        return text


def _is_dynamic(response: Response) -> bool:
    """Return True for a response that creates jobs or stops any (never reused)."""
    return bool(
        response.replace is not None
        or response.detour is not None
        or response.addition is not None
        or response.stop_children
        or response.stop_jobflow
        or response.stored_data is not None
    )


class _ResumableRun:
    """State of one :func:`run_locally_resumable` call (the closure of ``run_locally``)."""

    def __init__(
        self,
        store: JobStore,
        index: Store,
        root_dir: Path,
        *,
        create_folders: bool,
        raise_immediately: bool,
    ) -> None:
        self.store = store
        self.index = index
        self.root_dir = root_dir
        self.create_folders = create_folders
        self.raise_immediately = raise_immediately
        self.responses: dict[str, dict[int, Response]] = defaultdict(dict)
        self.stopped_parents: set[str] = set()
        self.errored: set[str] = set()
        self.stop_jobflow = False
        self.summary = ReuseSummary()

    def run(self, flow: Flow) -> bool:
        """Run or reuse every job of a flow; True when all succeeded (``run_locally._run``)."""
        encountered_bad_response = False
        for job, parents in flow.iterflow():
            response, jobflow_stopped = self._run_job(job, parents)
            encountered_bad_response = encountered_bad_response or response is None
            if jobflow_stopped:
                return False
        return not encountered_bad_response

    def _skipped(self, job: Job, parents: list[str]) -> tuple[None, bool] | None:
        """Return run_locally's result for a job it would not run, else None."""
        from jobflow.core.reference import OnMissing

        if self.stop_jobflow:
            return None, True
        if set(parents) & self.stopped_parents:
            logger.info("%s is a child of a job with stop_children=True, skipping...", job.name)
            self.stopped_parents.add(job.uuid)
            return None, False
        if set(parents) & self.errored and job.config.on_missing_references == OnMissing.ERROR:
            self.errored.add(job.uuid)
            return None, False
        return None

    def _run_job(self, job: Job, parents: list[str]) -> tuple[Response | None, bool]:
        """Reuse or run one job and follow its response (``run_locally._run_job``)."""
        skipped = self._skipped(job, parents)
        if skipped is not None:
            return skipped
        try:
            response = self._reuse_or_run(job)
        except Exception:
            if self.raise_immediately:
                raise
            logger.exception("%s failed with exception:", job.name)
            self.errored.add(job.uuid)
            self.summary.failed.append(job.name)
            return None, False
        self.responses[job.uuid][job.index] = response
        if response.stored_data is not None:
            logger.warning("Response.stored_data is not supported with local manager.")
        if response.stop_children:
            self.stopped_parents.add(job.uuid)
        if response.stop_jobflow:
            self.stop_jobflow = True
            return None, True
        # replace first, then detour, then addition: all of them, even after a failure
        finished = [
            self.run(new)
            for new in (response.replace, response.detour, response.addition)
            if new is not None
        ]
        return (response if all(finished) else None), False

    def _key(self, job: Job) -> str | None:
        """Resolve a job's references in place and return its key (None: never reused)."""
        if not job.config.resolve_references:
            return None
        job.resolve_args(store=self.store, wrap_resolved=job.config.resolve_references == "both")
        return job_key(job)

    def _reuse_or_run(self, job: Job) -> Response:
        """Return a reused job's response, or run the job."""
        key = self._key(job)
        response = self._reuse(job, key) if key is not None else None
        return response if response is not None else self._compute(job, key)

    def _reuse(self, job: Job, key: str) -> Response | None:
        """Copy the stored output of ``key`` to ``job``; None when there is none to reuse."""
        from jobflow import Response
        from monty.json import MontyDecoder

        record = self.index.query_one({"key": key})
        if record is None:
            return None
        doc = self.store.docs_store.query_one({"uuid": record["uuid"], "index": record["index"]})
        if doc is None:
            logger.info("%s: its earlier output left the store, running it again", job.name)
            return None
        missing = missing_paths(doc.get("output"))
        if missing:
            logger.info("%s: %s no longer exists, running it again", job.name, missing[0])
            return None
        doc = {k: v for k, v in doc.items() if k != "_id"}
        doc.update(
            uuid=job.uuid,
            index=job.index,
            name=job.name,
            metadata=job.metadata,
            hosts=job.hosts,
            completed_at=_completed_at(),
        )
        self.store.docs_store.update(doc, key=["uuid", "index"])
        logger.info("Reused job - %s (%s) from job %s", job.name, job.uuid, record["uuid"])
        stored = self.store.query_one(
            {"uuid": job.uuid, "index": job.index}, properties=["output"], load=True
        )
        self.summary.reused.append(job.name)
        self.summary.saved_s += float(record.get("wall_time_s", 0.0))
        job_dir = record.get("job_dir")
        # deserialised as a reference to it resolves (a report document, not its dict)
        output = MontyDecoder().process_decoded(stored["output"])
        return Response(output=output, job_dir=Path(job_dir) if job_dir else None)

    def _job_dir(self) -> Path:
        """Return a new job folder under the root (``run_locally``'s naming), or the root."""
        from jobflow import SETTINGS

        if not self.create_folders:
            return self.root_dir
        time_now = datetime.now(tz=UTC).strftime(SETTINGS.DIRECTORY_FORMAT)
        job_dir = self.root_dir / f"job_{time_now}-{10000 + secrets.randbelow(90000)}"
        job_dir.mkdir()
        return job_dir

    def _compute(self, job: Job, key: str | None) -> Response:
        """Run a job in its folder and record its key once its output is stored."""
        job_dir = self._job_dir()
        start = time.perf_counter()
        with contextlib.chdir(job_dir):
            response = job.run(store=self.store)
        response.job_dir = job_dir
        if job_function_path(job) != "jobflow.core.job:store_inputs":
            self.summary.computed.append(job.name)
        if key is not None and not _is_dynamic(response):
            record = {
                "key": key,
                "uuid": job.uuid,
                "index": job.index,
                "name": job.name,
                "function": job_function_path(job),
                "job_dir": str(job_dir),
                "wall_time_s": time.perf_counter() - start,
                "completed_at": _completed_at(),
            }
            self.index.update(record, key="key")
        return response


def run_locally_resumable(
    flow: Flow | Job | list[Job],
    store: JobStore,
    *,
    root_dir: str | Path | None = None,
    create_folders: bool = True,
    index_store: Store | None = None,
    ensure_success: bool = False,
    allow_external_references: bool = False,
    raise_immediately: bool = False,
) -> tuple[dict[str, dict[int, Response]], ReuseSummary]:
    """Run a Flow like :func:`jobflow.run_locally`, reusing the store's finished jobs.

    Parameters
    ----------
    flow
        A job, a flow or a list of jobs.
    store
        The job store: earlier runs' outputs are read from it and new ones written to it.
    root_dir
        Folder of the job folders (created if missing); None is the working directory.
    create_folders
        Run each computed job in a new folder ``job_<time>-<random>`` (reused jobs get
        none).
    index_store
        The reuse index (key → uuid and index of the job that computed it); None is
        :func:`reuse_index_store` of ``store``. It must persist as long as ``store``.
    ensure_success
        Raise if the flow did not finish.
    allow_external_references
        Allow references to jobs outside the flow (as in ``run_locally``).
    raise_immediately
        Raise a job's exception at once instead of running on.

    Returns
    -------
    tuple of (dict, ReuseSummary)
        ``{uuid: {index: Response}}`` as ``run_locally`` returns (a reused job's response
        holds its stored output, blobs loaded and deserialised, and the folder it was
        computed in), and what was reused and computed.

    Raises
    ------
    RuntimeError
        If ``ensure_success`` and the flow did not finish.
    """
    from jobflow.core.flow import get_flow

    root_dir = Path.cwd() if root_dir is None else Path(root_dir).resolve()
    root_dir.mkdir(parents=True, exist_ok=True)
    index = index_store if index_store is not None else reuse_index_store(store)
    store.connect()
    index.connect()
    flow = get_flow(flow, allow_external_references=allow_external_references)
    runner = _ResumableRun(
        store,
        index,
        root_dir,
        create_folders=create_folders,
        raise_immediately=raise_immediately,
    )
    logger.info("Started executing jobs locally (reusing finished jobs of the store)")
    finished_successfully = runner.run(flow)
    logger.info("Finished executing jobs locally: %s", runner.summary.line())
    if index_store is None:
        index.close()
    if ensure_success and not finished_successfully:
        raise RuntimeError("Flow did not finish running successfully")
    return dict(runner.responses), runner.summary
