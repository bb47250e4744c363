"""The command line: bad input fails readably; `run` works end to end on the tiny case."""

import json

import pytest
from typer.testing import CliRunner

from mlip_finetune.cli import app

runner = CliRunner(env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert "mlip-finetune 0.1.0" in result.output


def test_missing_structure_file(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.cif")])
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_unreadable_structure_file(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a crystal\n")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code != 0
    assert "cannot read a crystal structure" in result.output


def test_unavailable_foundation_without_fallback(tmp_path, monkeypatch, si_primitive):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    import mace.calculators.foundations_models as fm

    def offline(model):
        raise OSError("offline")

    monkeypatch.setattr(fm, "download_mace_mp_checkpoint", offline)
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(app, ["run", str(cif), "--no-fallback"])
    assert result.exit_code == 2
    assert "macemp0b3mediummodel" in result.output.replace("\n", "")


def test_results_on_empty_store(tmp_path):
    (tmp_path / "store").mkdir()
    result = runner.invoke(app, ["results", "--store", str(tmp_path / "store"), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == []


@pytest.mark.slow
@pytest.mark.dft
def test_run_test_preset(tmp_path, monkeypatch, si_primitive, tiny_standin):
    monkeypatch.chdir(tmp_path)
    cif = tmp_path / "Si2.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(
        app,
        ["run", str(cif), "--foundation-model", tiny_standin.path, "--preset", "test"],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Si2 (Si): models vs DFT" in out
    assert "phonon MAE (THz)" in out
    assert "store:" in out
    listed = runner.invoke(
        app, ["results", "--store", str(tmp_path / "mlip_finetune_runs" / "store"), "--json"]
    )
    (material,) = json.loads(listed.output)
    assert material["material"] == "Si2"
    assert [m["label"] for m in material["models"]] == ["foundation", "transfer"]
    assert "delta_dos" in material["models"][1]["phonon_property_errors_percent"]


def test_unavailable_foundation_falls_back_loudly(
    tmp_path, monkeypatch, capsys, si_primitive, random_mace_si
):
    import mace.calculators.foundations_models as fm

    import mlip_finetune.cli
    import mlip_finetune.standin
    from mlip_finetune.cli import _foundation
    from mlip_finetune.foundation import FoundationModel

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def offline(model):
        raise OSError("[Errno -2] Name or service not known")

    standin = FoundationModel(
        name="standin", path=str(random_mace_si), sha256="0" * 64, is_standin=True
    )
    monkeypatch.setattr(fm, "download_mace_mp_checkpoint", offline)
    monkeypatch.setattr(
        mlip_finetune.standin, "build_standin_foundation", lambda _structure: standin
    )
    monkeypatch.setattr(mlip_finetune.cli.console, "width", 300)
    model = _foundation("medium-0b3", si_primitive, allow_standin_fallback=True)
    assert model is standin
    out = capsys.readouterr().out
    assert "FOUNDATION MODEL UNAVAILABLE" in out
    assert "STAND-IN" in out
    assert "[Errno -2]" in out  # the reason is printed verbatim, not eaten as markup
