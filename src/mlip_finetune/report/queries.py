"""Read what runs stored back from any JobStore: the embedded local store or MongoDB.

One implementation for ``mlip-finetune results`` and ``report`` (local store,
:func:`mlip_finetune.core.store.local_store`) and for the cluster path
(:func:`mlip_finetune.remote.material_reports`, a jobflow-remote project's MongoDB store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobflow import JobStore

#: Name of the job whose output is a material's report (``MaterialReportDocument``).
REPORT_JOB_NAME = "material report"


def _query(store: JobStore, criteria: dict[str, Any], **kwargs: Any) -> list[dict]:
    store.connect()
    try:
        return list(store.query(criteria, load=True, **kwargs))
    finally:
        store.close()


def read_material_reports(store: JobStore, material: str | None = None) -> list[dict]:
    """Return the material report documents of a store, oldest first.

    Parameters
    ----------
    store
        A jobflow JobStore (connected and closed here); large arrays are loaded from its
        additional stores.
    material
        Only reports of this material label.

    Returns
    -------
    list of dict
        Each a :class:`~mlip_finetune.schemas.report.MaterialReportDocument` as a dict plus
        ``completed_at`` and ``_hosts`` (the report job's flow uuids).
    """
    criteria: dict[str, Any] = {"name": REPORT_JOB_NAME}
    if material:
        criteria["output.material_label"] = material
    docs = _query(store, criteria, sort={"completed_at": 1})
    return [
        _current_fields(doc["output"])
        | {"completed_at": doc.get("completed_at"), "_hosts": doc.get("hosts", [])}
        for doc in docs
    ]


def _current_fields(output: dict) -> dict:
    """Return a stored report with today's field names (older names are read by alias)."""
    from monty.json import jsanitize

    from mlip_finetune.schemas.report import MaterialReportDocument

    document = MaterialReportDocument.model_validate(output)
    return jsanitize(document, strict=True, enum_values=True)


def read_run_phonons(store: JobStore, report: dict) -> list[dict]:
    """Return the phonon documents of the run a report belongs to: DFT first, then models.

    Parameters
    ----------
    store
        A jobflow JobStore (connected and closed here).
    report
        A report as returned by :func:`read_material_reports` (its ``_hosts`` select the
        run; without hosts, every phonon document of the store).

    Returns
    -------
    list of dict
        The outputs of the ``"dft phonons"`` and ``"ml phonons <model>"`` jobs.
    """
    criteria: dict[str, Any] = {"name": {"$regex": "^(dft|ml) phonons"}}
    if report["_hosts"]:
        criteria["hosts"] = report["_hosts"][0]
    outputs = [d["output"] for d in _query(store, criteria)]
    return sorted(outputs, key=lambda p: p["label"] != "dft")
