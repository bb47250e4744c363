"""Tests of :mod:`mlip_finetune.core.calculators`: MACE calculators cached by file content."""

from __future__ import annotations

import os
import shutil

import pytest

import mlip_finetune.calculators as old_path
from mlip_finetune.core import calculators
from mlip_finetune.core.calculators import (
    ModelFileNotFoundError,
    content_sha256,
    mace_calculator,
    resolve_device,
)
from mlip_finetune.core.provenance import sha256_file
from tests.conftest import build_random_mace


def test_resolve_device_passes_explicit_devices_through():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda:1") == "cuda:1"
    assert resolve_device("auto") in {"cpu", "cuda"}


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileNotFoundError, match="MACE model file not found"):
        mace_calculator(tmp_path / "absent.model", device="cpu")
    assert issubclass(ModelFileNotFoundError, FileNotFoundError)


def test_calculator_is_loaded_once_per_content(random_mace_si, tmp_path):
    first = mace_calculator(random_mace_si, device="cpu")
    assert mace_calculator(str(random_mace_si), device="cpu") is first
    assert mace_calculator(random_mace_si, device="cpu", default_dtype="float32") is not first
    copy = shutil.copy(random_mace_si, tmp_path / "copy.model")
    assert mace_calculator(copy, device="cpu") is first  # same bytes, same model


def test_replaced_file_at_the_same_path_is_reloaded(tmp_path, si_primitive):
    path = tmp_path / "model.model"
    build_random_mace(path, [14], [-5.4], seed=0)
    first = mace_calculator(path, device="cpu")
    atoms = si_primitive.to_ase_atoms()
    atoms.calc = first
    energy_first = atoms.get_potential_energy()

    build_random_mace(path, [14], [-5.4], seed=1)  # a re-run writes a new model there
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # coarse clocks
    second = mace_calculator(path, device="cpu")
    assert second is not first
    atoms = si_primitive.to_ase_atoms()
    atoms.calc = second
    assert atoms.get_potential_energy() != pytest.approx(energy_first, abs=1e-9)


def test_file_is_hashed_once_per_modification(random_mace_si, monkeypatch):
    calculators.clear_cache()
    calls = []

    def counting(path):
        calls.append(path)
        return sha256_file(path)

    monkeypatch.setattr(calculators, "sha256_file", counting)
    path = random_mace_si.resolve()
    assert content_sha256(path) == sha256_file(path)
    assert content_sha256(path) == sha256_file(path)
    assert len(calls) == 1


def test_old_import_path_reexports():
    assert old_path.mace_calculator is mace_calculator
    assert old_path.resolve_device is resolve_device
    assert old_path.ModelFileNotFoundError is ModelFileNotFoundError
