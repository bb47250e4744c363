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
    """All of `run` in one go: two strategies, a surrogate, properties, forgetting; then
    `results --stability` and `report` regenerate everything from the store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("mlip_finetune.cli.console.width", 250)
    cif = tmp_path / "Si2.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(
        app,
        [
            "run",
            str(cif),
            "--foundation-model",
            tiny_standin.path,
            "--preset",
            "test",
            "--strategies",
            "transfer,lora_full",
            "--distil",
            "transfer",
            "--properties",
            "--forgetting",
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Si2 (Si): models vs DFT" in out
    assert "phonon MAE (THz)" in out
    assert "properties vs DFT" in out
    assert "forgetting: errors vs the foundation" in out
    assert "surrogate of" in out
    assert "store:" in out
    store = tmp_path / "mlip_finetune_runs" / "store"
    listed = runner.invoke(app, ["results", "--store", str(store), "--json"])
    (material,) = json.loads(listed.output)
    assert material["material"] == "Si2"
    labels = [m["label"] for m in material["models"]]
    assert labels == ["foundation", "transfer", "lora_full", "surrogate"]
    assert "delta_dos" in material["models"][1]["phonon_property_errors_percent"]
    stability = runner.invoke(app, ["results", "--store", str(store), "--stability"])
    assert stability.exit_code == 0, stability.output
    assert "dynamical stability vs DFT over 1 materials" in stability.output

    regenerated = runner.invoke(
        app, ["report", "Si2", "--store", str(store), "--out", str(tmp_path / "rep")]
    )
    assert regenerated.exit_code == 0, regenerated.output
    files = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"report.md", "report.json", "Si2_bands.png", "Si2_eos.png"} <= files
    # one band-structure PNG per model, each against DFT
    assert sum(name.startswith("Si2_") and "bands" in name for name in files) >= 5
    markdown = (tmp_path / "rep" / "report.md").read_text()
    assert "properties vs DFT" in markdown
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    dft = report["dft_properties"]
    # DFT EOS and elastic tensor of Si agree with each other (cheap settings)
    assert dft["eos"]["b0"] == pytest.approx(dft["elastic"]["k_vrh"], rel=0.1)
    assert {e["label"] for e in report["property_errors"]} == set(labels)
    forgetting = {row["label"]: row for row in report["forgetting"]["rows"]}
    assert forgetting["foundation"]["metrics"]["force_mae"] == 0.0
    assert forgetting["transfer"]["metrics"]["force_mae"] > 0.0
    missing = runner.invoke(app, ["report", "Nope", "--store", str(store)])
    assert missing.exit_code == 1


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
