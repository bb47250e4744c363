"""Local commands: `run` works end to end on the tiny case; `results` and `report` read it."""

import json
import time

import numpy as np
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


# --- bad inputs at the door: exit code 2, one line that says what to do, no traceback -------


def _one_line(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _assert_refused(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert expected in _one_line(result)
    assert "Traceback" not in result.output


@pytest.fixture
def no_standin_build(monkeypatch):
    """Fail the test if anything builds a stand-in (the door must refuse before, or not need it)."""
    import mlip_finetune.fitting.standin

    def refuse(*args, **kwargs):
        raise AssertionError("the stand-in must not be built")

    monkeypatch.setattr(mlip_finetune.fitting.standin, "_distil", refuse)


def test_run_refuses_a_molecule(tmp_path):
    from tests.core.test_validation import WATER_XYZ

    xyz = tmp_path / "water.xyz"
    xyz.write_text(WATER_XYZ)
    result = runner.invoke(app, ["run", str(xyz)])
    _assert_refused(result, "water.xyz holds 3 atoms without a 3-D periodic lattice")


def test_run_refuses_partial_occupancies(tmp_path):
    from tests.core.test_validation import CIF_PARTIAL

    cif = tmp_path / "FeNi.cif"
    cif.write_text(CIF_PARTIAL)
    result = runner.invoke(app, ["run", str(cif)])
    _assert_refused(result, "Fe3.5Ni0.5 has partial occupancies: site 3 (Fe:0.5, Ni:0.5).")
    assert "OrderDisorderedStructureTransformation" in _one_line(result)


def test_run_refuses_an_element_the_standin_teacher_lacks(tmp_path, si_primitive, no_standin_build):
    og = si_primitive.copy()
    og.replace_species({"Si": "Og"})
    og.scale_lattice(og.volume * 2)
    cif = tmp_path / "Og.cif"
    og.to(filename=str(cif))
    for extra in ([], ["--dry-run"]):
        result = runner.invoke(app, ["run", str(cif), "-f", "standin", *extra])
        _assert_refused(
            result, "The stand-in foundation cannot cover Og: its teacher CHGNet has parameters"
        )
    result = runner.invoke(app, ["standin", "build", str(cif)])
    _assert_refused(result, "its teacher CHGNet")


def test_run_refuses_a_corrupt_model_file(tmp_path, si_primitive):
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    corrupt = tmp_path / "corrupt.model"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    result = runner.invoke(app, ["run", str(cif), "-f", str(corrupt)])
    _assert_refused(result, f"The model file {corrupt} is not a loadable MACE model: not a torch")
    assert "(UnpicklingError:" in _one_line(result)
    verbose = runner.invoke(app, ["run", str(cif), "-f", str(corrupt), "-v"])
    assert verbose.exit_code == 2
    assert "Traceback" in verbose.output  # -v shows where it came from


def test_run_refuses_atoms_too_close(tmp_path):
    from pymatgen.core import Lattice, Structure

    cif = tmp_path / "close.cif"
    Structure(Lattice.cubic(5), ["Si", "Si"], [[0, 0, 0], [0.11 / 5, 0, 0]]).to(filename=str(cif))
    result = runner.invoke(app, ["run", str(cif)])
    _assert_refused(result, "Atoms too close in Si: sites 0 (Si) and 1 (Si) are 0.110 Å apart")


def test_run_refuses_a_cif_without_atom_site_label(tmp_path):
    from tests.core.test_validation import CIF_WITHOUT_LABELS

    cif = tmp_path / "nolabel.cif"
    cif.write_text(CIF_WITHOUT_LABELS)
    result = runner.invoke(app, ["run", str(cif)])
    _assert_refused(result, f"The CIF {cif} has no _atom_site_label column in its atom_site loop")


def test_run_refuses_a_cell_too_big_for_preset_test(tmp_path, random_mace_si):
    from pymatgen.core import Lattice, Structure

    big = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.468), ["Si"], [[0, 0, 0]])
    big.make_supercell([2, 2, 3])
    big.perturb(0.05)  # no symmetry left: 96 atoms in the primitive cell
    cif = tmp_path / "big.cif"
    big.to(filename=str(cif))
    result = runner.invoke(
        app, ["run", str(cif), "--preset", "test", "-f", str(random_mace_si), "--dry-run"]
    )
    _assert_refused(
        result,
        "Si (96 atoms in its primitive cell) is too big for preset test (at most 64 atoms per "
        "DFT static)",
    )
    assert "training statics (primitive cell): 6 × 96 atoms" in _one_line(result)
    assert "Use --preset local (at most 128 atoms per static; 96 here)" in _one_line(result)


def test_dry_run_prints_the_stages_and_computes_nothing(
    tmp_path, monkeypatch, si_primitive, no_standin_build
):
    monkeypatch.setenv("MLIP_FINETUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("mlip_finetune.cli.options.console.width", 250)
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    start = time.perf_counter()
    result = runner.invoke(
        app,
        ["run", str(cif), "--preset", "local", "-f", "standin", "--dry-run",
         "--workdir", str(tmp_path / "runs")],
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    out = result.output
    for stage in ("data", "dft statics", "finetune", "dft phonons", "ml phonons", "report"):
        assert f"│ {stage} " in out
    assert "training statics (small cell): 20 × 8 atoms" in out
    assert "phonon displacement statics: 1 × " in out
    assert "stand-in" in out
    assert "dry run: nothing computed" in out
    assert not (tmp_path / "runs").exists()  # no run directory, no store
    assert elapsed < 60  # seconds, not the minutes of a stand-in build
