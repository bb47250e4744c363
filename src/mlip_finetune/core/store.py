"""The results store: embedded and file-backed by default, MongoDB at scale.

The default store needs no server: maggma's ``MontyStore`` (montydb on SQLite) for job
outputs plus an additional ``data`` store for large arrays (DESIGN.md, "Stores").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobflow import JobStore


def local_store(path: str | Path) -> JobStore:
    """Return a file-backed jobflow JobStore rooted at ``path``.

    Parameters
    ----------
    path
        Directory of the montydb database (created if missing). Reusing the same directory
        keeps all earlier results: the store accumulates runs.

    Returns
    -------
    jobflow.JobStore
        ``docs_store`` = MontyStore ``outputs``; ``additional_stores={"data": MontyStore}``.
    """
    from jobflow import JobStore
    from maggma.stores import MontyStore

    path = Path(path).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)

    def store(name: str) -> MontyStore:
        return MontyStore(
            name, database_path=str(path), database_name="mlip_finetune", storage="sqlite"
        )

    return JobStore(store("outputs"), additional_stores={"data": store("data")})
