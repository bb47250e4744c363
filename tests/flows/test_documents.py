"""Large arrays live in the data store: a material flow with a 216-atom phonon supercell.

DFT is stood in for by the small random MACE model (:class:`ModelStaticMaker`), so the
whole test-preset flow runs in a few minutes: training data, statics, one fine-tuning,
DFT and ML phonons in a 216-atom supercell, the report. The main documents stay small and
``results``/``report`` still read every array back.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.flows.conftest import ModelStaticMaker

pytestmark = pytest.mark.slow

#: Conventional diamond cell ×3×3×3 of the primitive Si cell: 216 atoms.
SUPERCELL_216 = [[-3, 3, 3], [3, -3, 3], [3, 3, -3]]
#: Largest main (non-data-store) document allowed (bytes).
MAX_MAIN_DOCUMENT_BYTES = 1_000_000


def _material_flow(si_primitive, model_path, report_dir):
    from mlip_finetune.core.provenance import sha256_file
    from mlip_finetune.flows.presets import material_flow_maker
    from mlip_finetune.foundation import FoundationModel

    foundation = FoundationModel(name="tiny", path=str(model_path), sha256=sha256_file(model_path))
    maker = material_flow_maker(
        "test", strategies=("transfer",), device="cpu", report_dir=report_dir
    )
    # fewer and shorter foundation relaxations than the test preset (8 + 4 frames)
    maker.training_data_maker.volume_scales = (-0.025, 0.0, 0.025)
    maker.training_data_maker.max_steps = 30
    maker.static_maker = ModelStaticMaker(model_path=str(model_path))
    maker.relax_maker = None
    maker.phonon_supercell_matrix = SUPERCELL_216
    maker.max_dft_atoms = None  # the "DFT" here is a model: no DFT cost to limit
    (finetune,) = maker.finetune_makers
    finetune.hyperparameters = finetune.hyperparameters.model_copy(update={"max_num_epochs": 2})
    return maker.make(si_primitive, foundation, label="Si")


def _mongo_store(host, port):
    import uuid

    from jobflow import JobStore
    from maggma.stores import GridFSStore, MongoStore

    database = f"documents_{uuid.uuid4().hex[:8]}"
    return JobStore(
        MongoStore(database, "outputs", host=host, port=port),
        additional_stores={"data": GridFSStore(database, "outputs_data", host=host, port=port)},
    )


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("mongodb", marks=pytest.mark.cluster)]
)
def material_run(request, tmp_path_factory, si_primitive, random_mace_si):
    """The flow run into the embedded store, or into MongoDB (SecantusDB) with GridFS data."""
    from jobflow import run_locally

    from mlip_finetune.core.store import local_store

    workdir = tmp_path_factory.mktemp(f"documents_{request.param}")
    if request.param == "embedded":
        store = local_store(workdir / "store")
    else:
        store = _mongo_store(*request.getfixturevalue("mongo_server"))
    flow = _material_flow(si_primitive, random_mace_si, str(workdir / "report"))
    run_locally(
        flow, store=store, root_dir=workdir / "jobs", create_folders=True, ensure_success=True
    )
    return workdir, store


def _main_documents(store):
    store.connect()
    try:
        return list(store.docs_store.query({}))
    finally:
        store.close()


def _size(doc):
    return len(json.dumps(doc, default=str).encode())


def test_largest_main_document_is_below_1_mb(material_run):
    _, store = material_run
    docs = _main_documents(store)
    sizes = {f"{d['name']} ({d['index']})": _size(d) for d in docs}
    largest = max(sizes, key=sizes.get)
    assert sizes[largest] < MAX_MAIN_DOCUMENT_BYTES, (largest, sizes[largest])
    # the arrays went to the data store, as references in the main documents
    dft = next(d for d in docs if d["name"] == "dft phonons")
    assert "blob_uuid" in json.dumps(dft["output"]["mesh_frequencies"])
    data = next(d for d in docs if d["name"] == "training data")
    assert "blob_uuid" in json.dumps(data["output"]["frames"])


def test_reports_read_every_array_back(material_run, tmp_path):
    from mlip_finetune.report.queries import read_material_reports, read_run_phonons
    from mlip_finetune.report.tables import report_tables, write_report_files
    from mlip_finetune.schemas.evaluation import PhononDocument

    _, store = material_run
    (report,) = read_material_reports(store, "Si")
    assert report["phonon_supercell_matrix"] == SUPERCELL_216
    assert [row["label"] for row in report["rows"]] == ["foundation", "transfer"]
    assert report_tables(report)
    dft, *models = read_run_phonons(store, report)
    assert [p["label"] for p in (dft, *models)] == ["dft", "foundation", "transfer"]
    for doc in (dft, *models):
        phonons = PhononDocument.model_validate(doc)  # the arrays are back, not references
        assert phonons.supercell_matrix == SUPERCELL_216
        assert len(phonons.mesh_frequencies) == len(phonons.mesh_qpoints)
        assert len(phonons.mesh_frequencies[0]) == 6  # 3 × 2 atoms of the unit cell
        assert len(phonons.dos) == len(phonons.dos_frequencies) > 0
    files = write_report_files(report, [dft, *models], tmp_path)
    assert files["bands"].stat().st_size > 10_000


def test_results_and_report_commands_read_everything_back(material_run):
    from mlip_finetune.cli import app

    workdir, _ = material_run
    if not (workdir / "store").is_dir():
        pytest.skip("the commands read the embedded store")
    runner = CliRunner()
    store = str(workdir / "store")
    result = runner.invoke(app, ["results", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    (material,) = json.loads(result.output)
    assert [m["label"] for m in material["models"]] == ["foundation", "transfer"]
    assert all(m["phonon_mae_thz"] >= 0 for m in material["models"])
    out = workdir / "regenerated"
    result = runner.invoke(app, ["report", "Si", "--store", store, "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = {p.name for p in out.iterdir()}
    # band structures need the band frequencies from the data store
    assert {"report.md", "report.json", "Si_bands.png"} <= files
    assert (out / "Si_bands.png").stat().st_size > 10_000
    report = json.loads((out / "report.json").read_text())
    assert report["dft_settings"]["engine"] == "mace"
