"""A failed job keeps its finished sibling; after the fix, a rerun runs only the failed job."""

import shutil

import pytest
from typer.testing import CliRunner

from mlip_finetune.remote import (
    load_project,
    local_worker,
    material_status,
    submit_routed,
)

pytestmark = [pytest.mark.cluster, pytest.mark.dft]


def sibling_flow(structure, staged_model, sha256):
    """Two independent jobs: training data from a model not yet staged, and a DFT static."""
    from jobflow import Flow

    from mlip_finetune.data.jobs import TrainingDataMaker
    from mlip_finetune.data.utils import SupercellProtocol
    from mlip_finetune.dft.jobs import StaticMaker
    from mlip_finetune.dft.settings import DFTSettings

    data = TrainingDataMaker(
        protocol=SupercellProtocol.PRIMITIVE,
        volume_scales=(0.0, 0.025),
        n_frames=2,
        fmax=1e-2,
        max_steps=30,
        device="cpu",
    ).make(structure, str(staged_model), sha256)
    static = StaticMaker(settings=DFTSettings.test().model_copy(update={"mpi_ranks": 1})).make(
        structure
    )
    static.name = "dft static 1/1"
    return Flow([data, static], name="siblings")


def _jobs(project):
    from jobflow_remote import JobController

    controller = JobController.from_project(load_project(project))
    return {info.name: info for info in controller.get_jobs_info()}


def _static_outputs(project):
    store = load_project(project).get_jobstore()
    store.connect()
    docs = list(store.query({"name": "dft static 1/1"}, load=True))
    store.close()
    return docs


def test_failed_job_rerun_keeps_finished_sibling(  # noqa: PLR0917  (fixtures)
    tmp_path, mongo_server, make_project, run_queue, execution_cmd, si_primitive, random_mace_si
):
    from mlip_finetune.utils import sha256_file

    host, port = mongo_server
    workers = {
        name: local_worker(tmp_path / name, execution_cmd=execution_cmd)
        for name in ("cpu", "gpu", "small")
    }
    project = make_project(workers, host=host, port=port)
    staged = tmp_path / "models" / "foundation.model"  # not copied there yet
    submit_routed(sibling_flow(si_primitive, staged, sha256_file(random_mace_si)))
    run_queue(project, max_seconds=180)

    jobs = _jobs(project)
    assert jobs["training data"].state.value == "FAILED"
    assert "foundation.model" in jobs["training data"].error
    assert jobs["dft static 1/1"].state.value == "COMPLETED"
    (static_doc,) = _static_outputs(project)  # the sibling's output is in the store
    static_end = jobs["dft static 1/1"].end_time
    (status,) = material_status(project)
    stages = {s.stage: s for s in status.stages}
    assert stages["data"].state.value == "failed"
    assert stages["data"].failed_db_ids == [jobs["training data"].db_id]
    assert stages["dft statics"].state.value == "done"

    # fix the cause (stage the model file), queue the failed job again, run
    staged.parent.mkdir()
    shutil.copy(random_mace_si, staged)
    from mlip_finetune.cli import app

    result = CliRunner().invoke(app, ["rerun"])
    assert result.exit_code == 0, result.output
    assert f"queued again: {jobs['training data'].db_id}" in result.output
    run_queue(project, max_seconds=180)

    jobs = _jobs(project)
    assert {name: info.state.value for name, info in jobs.items()} == {
        "training data": "COMPLETED",
        "dft static 1/1": "COMPLETED",
    }
    # the finished sibling did not run again: same end time, same single output document
    assert jobs["dft static 1/1"].end_time == static_end
    (again,) = _static_outputs(project)
    assert again["completed_at"] == static_doc["completed_at"]
    assert again["output"]["energy"] == static_doc["output"]["energy"]
    result = CliRunner().invoke(app, ["rerun"])
    assert "no failed jobs" in result.output
