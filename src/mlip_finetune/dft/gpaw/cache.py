"""Reuse of identical GPAW calculations across runs, keyed by the worker's whole input.

A run's store already reuses the jobs it finished (:mod:`mlip_finetune.core.resume`). This
cache reaches further: any GPAW calculation whose worker input (``gpaw_in.json``: atoms to
the last bit, every calculator keyword, the relaxation options) and GPAW version equal
those of a calculation finished earlier, in any run directory and any store, gets that
calculation's files instead of a new GPAW process. It is off unless
``MLIP_FINETUNE_DFT_CACHE_DIR`` (:class:`~mlip_finetune.core.settings.MLIPFinetuneSettings`)
names a directory. The test suite sets it for the whole session, so that the same Si
statics, computed by several end-to-end tests from the same tiny foundation, run once.

What is reused is what GPAW wrote: ``gpaw_out.json``, ``gpaw.txt``, stdout, stderr and a
relaxation's trajectory and log. Only calculations that finished cleanly (exit code 0, SCF
converged) are stored, so a failure is always computed again. The number of MPI ranks is
not part of the key: GPAW's results on 1 and 2 ranks differ only in the rounding of their
parallel sums.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mlip_finetune.core.settings import get_settings

#: Bumped when the worker's input or output format changes, so old entries are not reused.
CACHE_FORMAT = 1

#: Metadata file of an entry: the key's inputs and the original wall time (s).
META_FILE = "cache.json"


@functools.cache
def _gpaw_version() -> str:
    try:
        return version("gpaw")
    except PackageNotFoundError:  # pragma: no cover - GPAW is what runs these
        return "unknown"


def cache_dir() -> Path | None:
    """Return the cache directory from ``MLIP_FINETUNE_DFT_CACHE_DIR``, or None (off)."""
    return get_settings().dft_cache_dir


def cache_key(spec: dict[str, Any]) -> str:
    """Return the SHA-256 key of a worker input.

    Parameters
    ----------
    spec
        The worker input (what :func:`~mlip_finetune.dft.gpaw.engine.run_gpaw_worker`
        writes to ``gpaw_in.json``), JSON-serialisable.

    Returns
    -------
    str
        Hex digest of the input (keys sorted, floats by ``repr``: exact), the GPAW version
        and :data:`CACHE_FORMAT`.
    """
    text = json.dumps(
        {"spec": spec, "gpaw": _gpaw_version(), "format": CACHE_FORMAT}, sort_keys=True
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def restore(root: Path, key: str, directory: Path, files: tuple[str, ...]) -> float | None:
    """Copy a cached calculation's files into ``directory``.

    Parameters
    ----------
    root
        Cache directory.
    key
        :func:`cache_key` of the calculation.
    directory
        The calculation directory (exists).
    files
        Names of the files a calculation writes; those the entry has are copied.

    Returns
    -------
    float or None
        Wall time (s) of the original calculation, or None if the entry is missing or
        unreadable (then nothing was copied that matters: the caller computes).
    """
    entry = root / key
    try:
        meta = json.loads((entry / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for name in files:
        source = entry / name
        if source.is_file():
            shutil.copyfile(source, directory / name)
    return float(meta["wall_time"])


def store(root: Path, key: str, directory: Path, files: tuple[str, ...], wall_time: float) -> None:
    """Add a finished calculation's files to the cache (atomically; first writer wins).

    Parameters
    ----------
    root
        Cache directory; created if missing.
    key
        :func:`cache_key` of the calculation.
    directory
        The calculation directory.
    files
        Names of the files a calculation writes; those present are stored.
    wall_time
        Wall time of the calculation (s), returned by :func:`restore` on a hit.
    """
    root.mkdir(parents=True, exist_ok=True)
    if (root / key).exists():
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=root))
    for name in files:
        source = directory / name
        if source.is_file():
            shutil.copyfile(source, staging / name)
    meta = {"wall_time": wall_time, "gpaw": _gpaw_version(), "format": CACHE_FORMAT}
    (staging / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    try:
        staging.rename(root / key)
    except OSError:  # another process stored the same calculation first
        shutil.rmtree(staging, ignore_errors=True)
