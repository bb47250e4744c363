"""Tests of :mod:`mlip_finetune.core.provenance`: file hashes and package versions."""

from __future__ import annotations

import hashlib
from importlib import metadata

import pytest

import mlip_finetune.utils as old_path
from mlip_finetune.core.provenance import package_versions, sha256_file


def test_sha256_file_matches_hashlib_across_chunks(tmp_path):
    path = tmp_path / "blob.bin"
    content = bytes(range(256)) * 9000  # > one 1 MiB read chunk
    path.write_bytes(content)
    assert sha256_file(path) == hashlib.sha256(content).hexdigest()
    assert sha256_file(str(path)) == sha256_file(path)
    assert len(sha256_file(path)) == 64


def test_sha256_file_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "absent")


def test_package_versions_omits_missing_packages():
    versions = package_versions(("jobflow", "no-such-distribution-xyz"))
    assert versions == {"jobflow": metadata.version("jobflow")}
    assert {"mace-torch", "torch", "ase", "pymatgen"} <= set(package_versions())


def test_old_import_path_reexports():
    assert old_path.sha256_file is sha256_file
    assert old_path.package_versions is package_versions
