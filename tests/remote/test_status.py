"""Stage bookkeeping from job tags (the JobInfo metadata jobflow-remote stores); no services."""

from types import SimpleNamespace

import pytest

from mlip_finetune.remote import StageState, stage_state
from mlip_finetune.remote.status import _flow_status

#: The stage of every job of the test-preset flow, written by hand: what `status` shows.
TEST_PRESET_STAGES = {
    "training data": "data",
    "frame structures": "data",
    "dft statics": "dft statics",
    "finetune transfer": "finetune transfer",
    "dft relax": "dft phonons",
    "phonon displacements": "dft phonons",
    "dft phonon statics": "dft phonons",
    "dft phonons": "dft phonons",
    "ml phonons foundation": "ml phonons",
    "ml phonons transfer": "ml phonons",
    "material report": "report",
}


def test_stage_state():
    assert stage_state(["COMPLETED", "COMPLETED"]) is StageState.DONE
    assert stage_state(["COMPLETED", "FAILED", "RUNNING"]) is StageState.FAILED
    assert stage_state(["REMOTE_ERROR"]) is StageState.FAILED
    assert stage_state(["COMPLETED", "SUBMITTED"]) is StageState.RUNNING
    assert stage_state(["COMPLETED", "WAITING"]) is StageState.WAITING
    assert stage_state(["READY"]) is StageState.WAITING
    assert stage_state(["USER_STOPPED", "COMPLETED"]) is StageState.STOPPED


def _info(job, state, worker, db_id, metadata=None):
    return SimpleNamespace(
        name=job.name,
        metadata=job.metadata if metadata is None else metadata,
        state=SimpleNamespace(value=state),
        worker=worker,
        db_id=db_id,
    )


@pytest.fixture
def test_flow(si_primitive, random_mace_si):
    from mlip_finetune.core.provenance import sha256_file
    from mlip_finetune.flows.presets import material_flow_maker
    from mlip_finetune.foundation import FoundationModel

    foundation = FoundationModel(
        name="random", path=str(random_mace_si), sha256=sha256_file(random_mace_si)
    )
    return material_flow_maker("test").make(si_primitive, foundation, label="Si")


def test_flow_status_groups_jobs_by_their_tags_stage(test_flow):
    from mlip_finetune.remote import job_kind

    jobs = [job for job, _ in test_flow.iterflow()]
    assert {job.name for job in jobs} == set(TEST_PRESET_STAGES)
    workers = {"dft": "cpu", "gpu": "gpu", "light": "small"}
    infos = [
        _info(job, "COMPLETED", workers[job_kind(job).value], str(i)) for i, job in enumerate(jobs)
    ]
    statics = next(job for job in jobs if job.name == "dft statics")
    # what the fan-out created: a DFT static that failed, and jobflow's store_inputs, which
    # carries the fan-out's metadata
    static_tag = {"mlip_finetune": {"kind": "dft", "stage": "dft statics", "detail": None}}
    infos.append(_info(statics, "FAILED", "cpu", "s1", metadata=static_tag))
    infos.append(_info(statics, "WAITING", "small", "s2", metadata=statics.metadata))
    infos.append(_info(statics, "READY", "small", "o1", metadata={}))  # untagged
    flow = SimpleNamespace(
        flow_metadata={"mlip_finetune": {"material": "Si"}},
        name="material flow Si",
        flow_id="f1",
        state=SimpleNamespace(value="RUNNING"),
    )
    status = _flow_status(flow, infos)
    assert status.material == "Si"
    assert status.flow_state == "RUNNING"
    stages = {s.stage: s for s in status.stages}
    assert list(stages) == [
        "data",
        "dft statics",
        "finetune transfer",
        "dft phonons",
        "ml phonons",
        "report",
        "other",
    ]
    by_stage = {}
    for name, stage in TEST_PRESET_STAGES.items():
        by_stage.setdefault(stage, set()).add(name)
    assert stages["dft phonons"].n_jobs == len(by_stage["dft phonons"]) == 4
    assert stages["dft phonons"].workers == ["cpu", "small"]
    assert stages["dft statics"].state is StageState.FAILED
    assert stages["dft statics"].n_jobs == 3
    assert stages["dft statics"].failed_db_ids == ["s1"]
    assert stages["finetune transfer"].state is StageState.DONE
    assert stages["other"].state is StageState.WAITING
    assert {s.stage for s in status.stages} - {"other"} == set(TEST_PRESET_STAGES.values())
