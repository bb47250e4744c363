"""Jobs routed to SLURM workers: sbatch into the cpu and gpu partitions of a one-node cluster."""

import re
from pathlib import Path

import numpy as np
import pytest

from mlip_finetune.remote import (
    WorkerRouting,
    load_project,
    local_worker,
    material_status,
    submit_routed,
)

pytestmark = [pytest.mark.cluster, pytest.mark.dft]


def small_flow(structure, model_path):
    """training data (gpu kind) → frame structures (light) → one DFT static (dft kind)."""
    from dataclasses import replace

    from jobflow import Flow

    from mlip_finetune.data.jobs import TrainingDataMaker
    from mlip_finetune.data.utils import SupercellProtocol
    from mlip_finetune.dft.jobs import StaticMaker
    from mlip_finetune.dft.settings import DFTSettings
    from mlip_finetune.flows.material import frame_structures
    from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job
    from mlip_finetune.utils import sha256_file

    data_maker = TrainingDataMaker(
        protocol=SupercellProtocol.PRIMITIVE,
        volume_scales=(0.0, 0.025),
        n_frames=2,
        fmax=1e-2,
        max_steps=30,
        device="cpu",
    )
    data = data_maker.make(structure, str(model_path), sha256_file(model_path))
    structures = tag_job(frame_structures(data.output), JobKind.LIGHT, Stage.DATA)
    structures.name = "frame structures"
    # two MPI ranks: mpirun inside the SLURM allocation of the cpu worker (ntasks=2)
    static = replace(StaticMaker(), settings=DFTSettings.test()).make(structures.output[0])
    static.name = "dft static 1/1"
    return Flow([data, structures, static], name="slurm routing")


def jobcomp_records(slurm_conf):
    """SLURM's job completion records (JobCompType=jobcomp/filetxt): JobId → fields."""
    conf = slurm_conf.read_text()
    path = re.search(r"^JobCompLoc=(\S+)", conf, re.MULTILINE).group(1)
    records = {}
    with Path(path).open() as handle:
        for line in handle:
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            records[fields["JobId"]] = fields  # the last record of an id wins
    return records


def test_jobs_run_through_sbatch_in_their_partitions(  # noqa: PLR0917  (fixtures)
    tmp_path,
    mongo_server,
    slurm_cluster,
    make_project,
    run_queue,
    execution_cmd,
    si_primitive,
    random_mace_si,
):
    from jobflow_remote import JobController

    host, port = mongo_server
    partitions = {"cpu": "cpu", "gpu": "gpu", "small": "cpu"}
    ntasks = {"cpu": 2, "gpu": 1, "small": 1}
    workers = {
        name: local_worker(
            tmp_path / name,
            scheduler="slurm",
            resources={"partition": partitions[name], "nodes": 1, "ntasks": ntasks[name]},
            execution_cmd=execution_cmd,
        )
        for name in partitions
    }
    project = make_project(workers, host=host, port=port)
    submission = submit_routed(small_flow(si_primitive, random_mace_si))
    assert [(name, worker) for name, _, worker in submission.jobs] == [
        ("training data", "gpu"),
        ("frame structures", "small"),
        ("dft static 1/1", "cpu"),
    ]
    run_queue(project, max_seconds=240)

    controller = JobController.from_project(load_project(project))
    jobs = {info.name: info for info in controller.get_jobs_info()}
    errors = {name: info.error for name, info in jobs.items() if info.state.value != "COMPLETED"}
    assert not errors
    records = jobcomp_records(slurm_cluster)
    routing = WorkerRouting()
    expected_partition = {
        "training data": "gpu",
        "frame structures": "cpu",
        "dft static 1/1": "cpu",
    }
    for name, info in jobs.items():
        slurm_id = info.remote.process_id
        assert slurm_id, f"{name} has no SLURM job id"
        assert slurm_id.isdigit(), slurm_id
        record = records[slurm_id]
        assert record["JobState"] == "COMPLETED"
        assert record["Partition"] == expected_partition[name], name
        assert info.worker == routing.worker(
            {"training data": "gpu", "frame structures": "light", "dft static 1/1": "dft"}[name]
        )
    assert records[jobs["dft static 1/1"].remote.process_id]["ProcCnt"] == "2"

    store = load_project(project).get_jobstore()
    store.connect()
    static = store.query_one({"name": "dft static 1/1"}, load=True)["output"]
    store.close()
    assert np.isfinite(static["energy"])
    assert np.abs(np.array(static["forces"]).sum(axis=0)).max() < 1e-2  # eV/Å

    (status,) = material_status(project)
    assert {s.stage: s.state.value for s in status.stages} == {
        "data": "done",
        "dft statics": "done",
    }
