"""MongoDB-wire server (SecantusDB): maggma stores, jobflow-remote queue, `submit` routing."""

import numpy as np
import pytest
from typer.testing import CliRunner

from mlip_finetune.remote import local_worker

pytestmark = pytest.mark.cluster

runner = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})


def test_maggma_stores_round_trip(mongo_server, si_primitive):
    """Documents through MongoStore, a >16 MB array through the GridFS `data` store."""
    from jobflow import JobStore
    from maggma.stores import GridFSStore, MongoStore

    host, port = mongo_server
    store = JobStore(
        MongoStore("roundtrip", "outputs", host=host, port=port),
        additional_stores={"data": GridFSStore("roundtrip", "outputs_data", host=host, port=port)},
    )
    store.connect()
    doc = {"uuid": "u1", "index": 1, "name": "dft static 1/1", "output": si_primitive.as_dict()}
    store.update(doc, key=["uuid", "index"])
    back = store.query_one({"uuid": "u1"}, load=True)
    from pymatgen.core import Structure

    assert Structure.from_dict(back["output"]) == si_primitive
    # 2.1 M float64 = 16.8 MB as BSON: more than one MongoDB document may hold
    big = np.random.default_rng(0).random(2_100_000)
    data = store.additional_stores["data"]
    data.update({"blob_uuid": "b1", "data": big.tolist()}, key="blob_uuid")
    loaded = np.array(data.query_one({"blob_uuid": "b1"})["data"])
    np.testing.assert_array_equal(loaded, big)
    store.close()


def _app():
    """The real command line: the cluster commands are registered on it."""
    from mlip_finetune.cli import app

    return app


def test_submit_queues_routed_jobs(
    tmp_path, mongo_server, make_project, si_primitive, random_mace_si
):
    """`submit` puts every job of the material flow in the queue with its kind's worker."""
    from jobflow_remote import JobController

    from mlip_finetune.remote import job_kind, load_project

    host, port = mongo_server
    workers = {name: local_worker(tmp_path / name) for name in ("cpu", "gpu", "small")}
    project = make_project(workers, host=host, port=port)
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(
        _app(), ["submit", str(cif), "-f", str(random_mace_si), "--preset", "test"]
    )
    assert result.exit_code == 0, result.output
    assert "submitted flow" in result.output

    controller = JobController.from_project(load_project(project))
    jobs = controller.get_jobs_info()
    assert len(jobs) == 11
    expected = {"dft": "cpu", "gpu": "gpu", "light": "small"}
    for info in jobs:
        assert info.worker == expected[job_kind(info.metadata).value], info.name
    ready = sorted(info.name for info in jobs if info.state.value == "READY")
    assert ready == ["dft relax", "ml phonons foundation", "training data"]
    (flow,) = controller.get_flows_info()
    assert flow.flow_metadata["mlip_finetune"]["material"] == "Si"
    assert flow.flow_metadata["mlip_finetune"]["preset"] == "test"

    shown = runner.invoke(_app(), ["status", "--json"])
    assert shown.exit_code == 0, shown.output
    import json

    (material,) = json.loads(shown.output)
    stages = {s["stage"]: s for s in material["stages"]}
    assert list(stages) == [
        "data",
        "dft statics",
        "finetune transfer",
        "dft phonons",
        "ml phonons",
        "report",
    ]
    assert all(s["state"] == "waiting" for s in stages.values())
    assert stages["dft phonons"]["workers"] == ["cpu", "small"]
    assert stages["dft phonons"]["n_jobs"] == 4
