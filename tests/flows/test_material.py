"""The material flow: its jobs, tags and checks at build time (fast), and end to end the
tutorial's flow on a 2-atom Si cell with real GPAW and real MACE training (slow)."""

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlip_finetune.cli import app
from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.flows.material import MaterialFlowMaker
from mlip_finetune.flows.presets import material_flow_maker
from mlip_finetune.foundation import FoundationModel
from mlip_finetune.schemas.jobs import JobKind, Stage, job_tag
from mlip_finetune.utils import sha256_file

TUTORIAL = Path(__file__).parents[2] / "tutorials" / "tutorial_01_material_flow.py"


def _load_tutorial():
    spec = importlib.util.spec_from_file_location("tutorial_01", TUTORIAL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tutorial_run(tmp_path_factory, si_primitive, tiny_standin):
    workdir = tmp_path_factory.mktemp("tutorial")
    report = _load_tutorial().main(si_primitive, tiny_standin, workdir, tiny=True)
    return workdir, report


def _outputs(workdir, name_regex):
    from mlip_finetune.store import local_store

    store = local_store(workdir / "store")
    store.connect()
    docs = list(store.query({"name": {"$regex": name_regex}}, load=True))
    store.close()
    return docs


@pytest.mark.slow
@pytest.mark.dft
def test_report_finetuned_beats_foundation(tutorial_run):
    _, report = tutorial_run
    rows = {row["label"]: row for row in report["rows"]}
    assert set(rows) == {"foundation", "transfer", "multihead", "lora_full", "scratch"}
    assert rows["scratch"]["model_name"].startswith("scratch (architecture of")
    assert rows["foundation"]["model_name"].endswith("(stand-in, not MACE-MP)")
    assert report["foundation_is_standin"] is True
    # the point of the method: fine-tuning on 4 DFT frames lowers the held-out force error
    for strategy in ("transfer", "multihead", "lora_full"):
        assert (
            rows[strategy]["force_mae_mev_per_angstrom"]
            < rows["foundation"]["force_mae_mev_per_angstrom"]
        ), strategy
    assert report["n_train_structures"] == 4
    assert report["n_valid_structures"] == 2
    assert Path(report["band_structure_plot"]).stat().st_size > 10_000
    for row in rows.values():
        assert np.isfinite(row["phonon_mae_thz"])
        assert row["phonon_mae_thz"] > 0
        errors = row["phonon_property_errors"]
        assert set(errors) >= {"max_frequency", "delta_dos", "heat_capacity_300k"}
        assert all(np.isfinite(v) for v in errors.values())
        assert errors["delta_dos"] > 0


@pytest.mark.slow
@pytest.mark.dft
def test_dft_statics_fan_out_and_documents(tutorial_run):
    workdir, _ = tutorial_run
    statics = _outputs(workdir, r"^dft static \d+/\d+$")
    names = sorted(doc["name"] for doc in statics)
    assert names == sorted(f"dft static {i}/6" for i in range(1, 7))
    for doc in statics:
        forces = np.array(doc["output"]["forces"])
        # translational invariance of DFT forces
        assert np.abs(forces.sum(axis=0)).max() < 1e-2
    (data,) = _outputs(workdir, r"^training data$")
    frames = data["output"]["frames"]
    assert len(frames) == 6
    assert {f["volume_scale"] for f in frames if f["split"] == "validation"} == {0.0}


@pytest.mark.slow
@pytest.mark.dft
def test_finetune_document(tutorial_run):
    workdir, _ = tutorial_run
    (doc,) = _outputs(workdir, r"^finetune transfer$")
    out = doc["output"]
    assert sha256_file(out["model_path"]) == out["model_sha256"]
    assert out["multihead_active"] is False
    assert out["hyperparameters"]["lr"] == 0.01
    assert out["hyperparameters"]["weight_decay"] == 5e-3
    assert len(out["epochs"]) >= 10
    # E0s are explicit (the foundation's) and what the trained model holds; DFT energies
    # were moved onto the foundation's zero by a recorded per-element shift
    passed = ast.literal_eval(out["train_args"][out["train_args"].index("--E0s") + 1])
    assert {int(z): e for z, e in out["e0s"].items()} == pytest.approx(passed)
    assert "least-squares" in out["e0s_source"]
    assert [int(z) for z in out["dft_energy_shift"]] == [14]
    # after the shift the foundation has no systematic per-atom energy offset left
    assert abs(out["foundation_validation"]["energy_offset_per_atom"]) < 0.2
    assert (
        out["validation"]["force_mae_mev_per_angstrom"]
        < out["foundation_validation"]["force_mae_mev_per_angstrom"]
    )


@pytest.mark.slow
@pytest.mark.dft
def test_every_model_is_a_plain_mace_file(tutorial_run):
    """Each strategy hands on one single-head model that MACECalculator loads as is."""
    from ase.build import bulk
    from mace.calculators import MACECalculator

    workdir, _ = tutorial_run
    docs = {d["output"]["strategy"]: d["output"] for d in _outputs(workdir, r"^finetune ")}
    assert set(docs) == {"transfer", "multihead", "lora_full", "scratch"}
    assert docs["lora_full"]["backend"] == "equitrain"
    assert docs["multihead"]["effective_hyperparameters"]["multihead"] is True
    assert docs["multihead"]["replay"]["n_structures"] == 20
    atoms = bulk("Si", "diamond", a=5.47)
    for strategy, doc in docs.items():
        calc = MACECalculator(model_paths=doc["model_path"], device="cpu")
        assert calc.models[0].heads == ["Default"], strategy
        atoms.calc = calc
        assert np.isfinite(atoms.get_potential_energy())


@pytest.mark.slow
@pytest.mark.dft
def test_dft_phonons_are_physical(tutorial_run):
    workdir, _ = tutorial_run
    (dft,) = _outputs(workdir, r"^dft phonons$")
    out = dft["output"]
    assert out["acoustic_sum_rule_max"] < 0.1  # THz, acoustic modes vanish at Γ
    # Si: the optical phonon at Γ is ~15.5 THz (PBE ~15.1); cheap settings and an 8-atom
    # supercell keep it within a THz or so.
    assert 13.0 < out["max_frequency"] < 17.5
    assert out["has_imaginary_modes"] is False


@pytest.mark.slow
@pytest.mark.dft
def test_results_cli_json(tutorial_run):
    workdir, _ = tutorial_run
    result = CliRunner().invoke(app, ["results", "--store", str(workdir / "store"), "--json"])
    assert result.exit_code == 0, result.output
    (material,) = json.loads(result.output)
    models = {m["label"]: m for m in material["models"]}
    assert set(models) == {"foundation", "transfer", "multihead", "lora_full", "scratch"}
    for model in models.values():
        assert {"phonon_mae_thz", "force_mae_mev_per_angstrom", "energy_mae_mev_per_atom"} <= set(
            model
        )
        assert len(model["model_sha256"]) == 64


@pytest.fixture
def tiny_foundation(random_mace_si):
    return FoundationModel(name="tiny", path=str(random_mace_si), sha256="0" * 64)


#: Jobs the material flow builds and names itself: (kind, stage) of their tags, as
#: routing and status expect them (the DFT, training and property Makers tag their own).
FLOW_JOB_TAGS = {
    "frame structures": (JobKind.LIGHT, Stage.DATA),
    "phonon displacements": (JobKind.LIGHT, Stage.DFT_PHONONS),
    "dft phonon statics": (JobKind.LIGHT, Stage.DFT_PHONONS),
    "dft phonons": (JobKind.LIGHT, Stage.DFT_PHONONS),
    "ml phonons foundation": (JobKind.GPU, Stage.ML_PHONONS),
    "ml phonons transfer": (JobKind.GPU, Stage.ML_PHONONS),
    "ml phonons scratch": (JobKind.GPU, Stage.ML_PHONONS),
    "ml phonons surrogate": (JobKind.GPU, Stage.ML_PHONONS),
    "ml properties foundation": (JobKind.GPU, Stage.PROPERTIES),
    "ml properties surrogate": (JobKind.GPU, Stage.PROPERTIES),
    "property errors": (JobKind.LIGHT, Stage.PROPERTIES),
    "forgetting check": (JobKind.GPU, Stage.FORGETTING),
    "material report": (JobKind.LIGHT, Stage.REPORT),
}


def test_flow_composes_the_stages_in_order(si_primitive, tiny_foundation):
    maker = material_flow_maker(
        "test", strategies=("transfer", "scratch"), properties=True, forgetting=True
    )
    flow = maker.make(si_primitive, tiny_foundation, label="Si")
    assert flow.name == "finetune material Si"
    assert [j.name for j in flow.jobs] == [
        "training data",
        "frame structures",
        "dft statics",
        "finetune transfer",
        "finetune scratch",
        "dft relax",
        "phonon displacements",
        "dft phonon statics",
        "dft phonons",
        "ml phonons foundation",
        "ml phonons transfer",
        "ml phonons scratch",
        "ml properties foundation",
        "ml properties transfer",
        "ml properties scratch",
        "dft properties",
        "property errors",
        "forgetting check",
        "material report",
    ]
    report = flow.jobs[-1]
    assert flow.output.uuid == report.uuid
    # the report records the DFT settings of the statics, engine-neutrally
    assert report.function_kwargs["dft_settings"] == maker.static_maker.settings_record()
    assert report.function_kwargs["dft_settings"]["engine"] == "gpaw"
    assert report.function_kwargs["report_dir"] is None


def test_flow_tags_the_jobs_it_builds(si_primitive, tiny_foundation):
    maker = material_flow_maker(
        "test",
        strategies=("transfer", "scratch"),
        properties=True,
        forgetting=True,
        distil="transfer",
    )
    jobs = {j.name: j for j, _ in maker.make(si_primitive, tiny_foundation).iterflow()}
    assert set(FLOW_JOB_TAGS) <= set(jobs)
    for name, (kind, stage) in FLOW_JOB_TAGS.items():
        tag = job_tag(jobs[name])
        assert (tag.kind, tag.stage, tag.detail) == (kind, stage, None), name


def test_flow_checks_its_makers_when_built(si_primitive, tiny_foundation):
    with pytest.raises(ValueError, match="at least one FineTuneMaker"):
        MaterialFlowMaker(finetune_makers=[]).make(si_primitive, tiny_foundation)
    with pytest.raises(ValueError, match="Strategies must be distinct"):
        MaterialFlowMaker(finetune_makers=[FineTuneMaker(), FineTuneMaker()]).make(
            si_primitive, tiny_foundation
        )
    maker = material_flow_maker("test", properties=True)
    one_suite = MaterialFlowMaker(
        static_maker=maker.static_maker, ml_properties_maker=maker.ml_properties_maker
    )
    with pytest.raises(ValueError, match="Give both ml_properties_maker and dft_properties_maker"):
        one_suite.make(si_primitive, tiny_foundation)


def test_flow_without_relaxation_displaces_the_input_cell(si_primitive, tiny_foundation):
    maker = material_flow_maker("test")
    maker.relax_maker = None
    flow = maker.make(si_primitive, tiny_foundation, label="Si")
    names = [j.name for j in flow.jobs]
    assert "dft relax" not in names
    displaced = next(j for j in flow.jobs if j.name == "phonon displacements")
    assert displaced.input_references == ()
