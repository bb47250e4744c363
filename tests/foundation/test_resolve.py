"""Tests of :mod:`mlip_finetune.foundation.resolve`: names, paths and hashes of foundations."""

from __future__ import annotations

import shutil

import pytest

import mlip_finetune.foundation as package
from mlip_finetune.core.provenance import sha256_file
from mlip_finetune.foundation import resolve
from mlip_finetune.foundation.resolve import (
    DEFAULT_FOUNDATION,
    STANDIN,
    FoundationModel,
    FoundationModelUnavailableError,
    expected_cache_path,
    mace_mp_names,
    resolve_foundation_model,
)


def test_resolve_path(random_mace_si):
    model = resolve_foundation_model(str(random_mace_si))
    assert model.path == str(random_mace_si.resolve())
    assert model.sha256 == sha256_file(random_mace_si)
    assert len(model.sha256) == 64
    assert not model.is_standin


def test_named_model_is_taken_from_mace_cache(tmp_path, monkeypatch, random_mace_si):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = expected_cache_path("medium-0b3")
    assert cached == tmp_path / "mace" / "macemp0b3mediummodel"
    cached.parent.mkdir(parents=True)
    shutil.copy(random_mace_si, cached)
    model = resolve_foundation_model("medium-0b3")
    assert model.name == "medium-0b3"
    assert model.path == str(cached)
    assert model.sha256 == sha256_file(random_mace_si)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(FoundationModelUnavailableError, match="neither an existing file"):
        resolve_foundation_model("no-such-model")


def test_offline_download_failure_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    import mace.calculators.foundations_models as fm

    def offline(model):
        raise OSError("Name or service not known")

    monkeypatch.setattr(fm, "download_mace_mp_checkpoint", offline)
    with pytest.raises(FoundationModelUnavailableError) as err:
        resolve_foundation_model("medium-0b3")
    assert str(tmp_path / "mace" / "macemp0b3mediummodel") in str(err.value)
    assert "standin" in str(err.value)


def test_mace_mp_names_include_the_paper_default():
    names = mace_mp_names()
    assert DEFAULT_FOUNDATION == "medium-0b3"
    assert DEFAULT_FOUNDATION in names
    assert names == sorted(names)


def test_display_name_labels_stand_ins():
    standin = FoundationModel(name=STANDIN, path="/m", sha256="0" * 64, is_standin=True)
    assert standin.display_name == "standin (stand-in, not MACE-MP)"
    assert FoundationModel(name="medium-0b3", path="/m", sha256="0" * 64).display_name == (
        "medium-0b3"
    )


def test_package_reexports_the_public_names():
    for name in ("DEFAULT_FOUNDATION", "STANDIN", "FoundationModel", "resolve_foundation_model"):
        assert getattr(package, name) is getattr(resolve, name)
