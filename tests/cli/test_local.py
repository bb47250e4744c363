"""Local commands: `run` works end to end on the tiny case; `results` and `report` read it."""

import json

import pytest
from typer.testing import CliRunner

from mlip_finetune.cli import app

runner = CliRunner(env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert "mlip-finetune 0.1.0" in result.output


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
    monkeypatch.setattr("mlip_finetune.cli.options.console.width", 250)
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
    assert forgetting["foundation"]["metrics"]["force_mae_mev_per_angstrom"] == 0.0
    assert forgetting["transfer"]["metrics"]["force_mae_mev_per_angstrom"] > 0.0
    missing = runner.invoke(app, ["report", "Nope", "--store", str(store)])
    assert missing.exit_code == 1


def test_results_and_report_without_store(tmp_path):
    result = runner.invoke(app, ["results", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no store at" in result.output
    result = runner.invoke(app, ["report", "Si", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no store at" in result.output


def test_report_of_unknown_material(tmp_path):
    (tmp_path / "store").mkdir()
    result = runner.invoke(app, ["report", "Nope", "--store", str(tmp_path / "store")])
    assert result.exit_code == 1
    assert "no report for material 'Nope'" in result.output
