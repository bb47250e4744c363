"""A whole tiny material flow through jobflow-remote: shell workers, MongoDB queue and store."""

import json
import time

import bson
import numpy as np
import pytest
from typer.testing import CliRunner

from mlip_finetune.remote import (
    WorkerRouting,
    job_kind,
    load_project,
    local_worker,
    material_reports,
    material_status,
    submit_routed,
)

pytestmark = [pytest.mark.cluster, pytest.mark.dft, pytest.mark.slow]

runner = CliRunner(env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})
MONGO_DOC_LIMIT = 16 * 1024 * 1024  # bytes


def tiny_material_flow(structure, foundation, report_dir):
    """The test preset (2 frames on each of 3 volumes: 6 DFT statics, 4 train and 2 valid),
    its DFT on one MPI rank each, 5 training epochs.

    The DFT inputs are those of the tutorial's run on the same cell and tiny stand-in
    (tests/flows/test_material.py); in the whole suite, the session's DFT cache
    (tests/conftest.py) hands these statics over from there, and the workers' GPAW runs
    when this module runs on its own.
    """
    from dataclasses import replace

    from mlip_finetune.dft.settings import DFTSettings
    from mlip_finetune.flows.presets import material_flow_maker

    maker = material_flow_maker("test", device="cpu", report_dir=str(report_dir))
    dft = DFTSettings.test().model_copy(update={"mpi_ranks": 1})
    maker.static_maker = replace(maker.static_maker, settings=dft)
    maker.relax_maker = replace(maker.relax_maker, settings=dft)
    (finetune,) = maker.finetune_makers
    hyper = finetune.hyperparameters.model_copy(update={"max_num_epochs": 5})
    maker.finetune_makers = [replace(finetune, hyperparameters=hyper)]
    return maker.make(structure, foundation, label="Si2")


def _app():
    """The real command line: the cluster commands are registered on it."""
    from mlip_finetune.cli import app

    return app


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mongo_server, si_primitive, tiny_standin, execution_cmd):
    """Submit the tiny flow, run the runner to the end; yields (project, flow uuid, seconds)."""
    import jobflow_remote
    from jobflow_remote.config.settings import JobflowRemoteSettings
    from jobflow_remote.jobs.runner import Runner

    from mlip_finetune.remote import project_config, write_project
    from tests.remote.conftest import FAST_RUNNER

    tmp = tmp_path_factory.mktemp("shell")
    host, port = mongo_server
    workers = {
        "cpu": local_worker(tmp / "cpu", execution_cmd=execution_cmd),
        "gpu": local_worker(tmp / "gpu", max_jobs=1, execution_cmd=execution_cmd),
        "small": local_worker(tmp / "small", execution_cmd=execution_cmd),
    }
    config = project_config(
        "shell",
        workers,
        database="mlipft_shell",
        host=host,
        port=port,
        base_dir=tmp / "project",
        runner=FAST_RUNNER,
    )
    write_project(config, tmp / "jfremote")
    mp = pytest.MonkeyPatch()
    mp.setenv("JFREMOTE_PROJECTS_FOLDER", str(tmp / "jfremote"))
    mp.setenv("JFREMOTE_PROJECT", "shell")
    mp.setenv("JFREMOTE_CONFIG_FILE", str(tmp / "jfremote" / "none.yaml"))
    mp.setattr(jobflow_remote, "SETTINGS", JobflowRemoteSettings())

    flow = tiny_material_flow(si_primitive, tiny_standin, tmp / "report")
    submission = submit_routed(flow, metadata={"material": "Si2"})
    start = time.perf_counter()
    run = Runner(project_name="shell")
    try:
        run.run_all_jobs(max_seconds=600)
    finally:
        run.cleanup()
    yield "shell", submission.flow_uuid, time.perf_counter() - start
    mp.undo()


def test_all_jobs_completed_on_their_workers(finished_run):
    from jobflow_remote import JobController

    project, flow_uuid, seconds = finished_run
    print(f"tiny material flow through jobflow-remote: {seconds:.0f} s")  # noqa: T201
    controller = JobController.from_project(load_project(project))
    jobs = controller.get_jobs_info(flow_ids=[flow_uuid])
    names = [info.name for info in jobs]
    failed = {info.name: info.error for info in jobs if info.state.value != "COMPLETED"}
    assert not failed
    # the fan-outs created 6 training statics and 1 phonon displacement at run time ...
    assert sorted(n for n in names if n.startswith("dft static ")) == [
        f"dft static {i}/6" for i in range(1, 7)
    ]
    assert "dft phonon displacement 1/1" in names
    # ... and they went to the DFT worker although their generator ran on the small one
    routing = WorkerRouting()
    for info in jobs:
        assert info.worker == routing.worker(job_kind(info.metadata)), info.name
    assert {info.worker for info in jobs} == {"cpu", "gpu", "small"}


def test_outputs_in_mongo_store(finished_run):
    project, _, _ = finished_run
    store = load_project(project).get_jobstore()
    store.connect()
    statics = list(store.query({"name": {"$regex": r"^dft static \d+/6$"}}, load=True))
    assert len(statics) == 6
    for doc in statics:
        forces = np.array(doc["output"]["forces"])
        assert forces.shape == (2, 3)
        assert np.abs(forces.sum(axis=0)).max() < 1e-2  # eV/Å, translational invariance
    sizes = [len(bson.encode(doc)) for doc in store.docs_store.query({})]
    assert max(sizes) < MONGO_DOC_LIMIT
    print(f"{len(sizes)} output documents, largest {max(sizes) / 1024:.0f} KiB")  # noqa: T201
    store.close()


def test_status_shows_stages_done(finished_run):
    project, flow_uuid, _ = finished_run
    (status,) = material_status(project, material="Si2")
    assert status.flow_uuid == flow_uuid
    assert status.flow_state == "COMPLETED"
    stages = {s.stage: s for s in status.stages}
    assert list(stages) == [
        "data",
        "dft statics",
        "finetune transfer",
        "dft phonons",
        "ml phonons",
        "report",
    ]
    assert all(s.state.value == "done" for s in stages.values())
    # fan-out + 6 statics + jobflow's store_inputs job
    assert stages["dft statics"].n_jobs == 8
    assert stages["dft statics"].workers == ["cpu", "small"]
    assert stages["finetune transfer"].workers == ["gpu"]
    shown = runner.invoke(_app(), ["status", "--material", "Si2"])
    assert shown.exit_code == 0, shown.output
    assert "Si2: flow COMPLETED" in shown.output
    assert shown.output.count("│ done ") == 6


def test_remote_results_read_back(finished_run):
    project, _, _ = finished_run
    (report,) = material_reports(project, material="Si2")
    assert [row["label"] for row in report["rows"]] == ["foundation", "transfer"]
    assert report["n_valid_structures"] == 2
    for row in report["rows"]:
        assert np.isfinite(row["phonon_mae_thz"])
    listed = runner.invoke(_app(), ["results", "--project", project, "--json"])
    assert listed.exit_code == 0, listed.output
    (material,) = json.loads(listed.output)
    assert material["material"] == "Si2"
    assert [m["label"] for m in material["models"]] == ["foundation", "transfer"]
    table = runner.invoke(
        _app(), ["results", "--project", project, "--material", "Si2", "--stability"]
    )
    assert table.exit_code == 0, table.output
    assert "Si2 (Si): models vs DFT" in table.output
    assert material_reports(project, material="NaCl") == []
