"""Provenance of results: file hashes (SHA-256) and the versions of the packages used."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 digest of a file.

    Parameters
    ----------
    path
        File to hash.

    Returns
    -------
    str
        64-character lowercase hex digest.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions(
    names: tuple[str, ...] = (
        "mlip-finetune",
        "mace-torch",
        "torch",
        "e3nn",
        "ase",
        "pymatgen",
        "phonopy",
        "symfc",
        "hiphive",
        "jobflow",
        "gpaw",
        "chgnet",
    ),
) -> dict[str, str]:
    """Return installed versions of the packages that determine a result.

    Parameters
    ----------
    names
        Distribution names to look up.

    Returns
    -------
    dict of str to str
        ``{distribution: version}``; packages that are not installed are omitted.
    """
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
