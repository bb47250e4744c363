"""Tests of :mod:`mlip_finetune.core.settings`: settings read from the environment."""

from __future__ import annotations

from pathlib import Path

import mlip_finetune.settings as old_path
from mlip_finetune.core.settings import MLIPFinetuneSettings, get_settings


def test_defaults(monkeypatch):
    for field in ("CACHE_DIR", "FOUNDATION_MODEL", "DEVICE", "STORE_PATH"):
        monkeypatch.delenv(f"MLIP_FINETUNE_{field}", raising=False)
    settings = get_settings()
    assert settings.cache_dir == Path.home() / ".cache" / "mlip_finetune"
    assert settings.foundation_model == "medium-0b3"
    assert settings.device == "auto"
    assert settings.store_path == Path("mlip_finetune_runs") / "store"


def test_environment_is_read_at_each_call(monkeypatch, tmp_path):
    monkeypatch.setenv("MLIP_FINETUNE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("MLIP_FINETUNE_DEVICE", "cpu")
    settings = get_settings()
    assert settings.cache_dir == tmp_path
    assert settings.device == "cpu"
    monkeypatch.setenv("MLIP_FINETUNE_DEVICE", "cuda")
    assert get_settings().device == "cuda"


def test_every_field_is_documented():
    assert all(field.description for field in MLIPFinetuneSettings.model_fields.values())


def test_old_import_path_reexports():
    assert old_path.get_settings is get_settings
    assert old_path.MLIPFinetuneSettings is MLIPFinetuneSettings
