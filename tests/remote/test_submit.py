"""Submission: the project's routing is checked first; submit_material records the material
in the flow metadata (cluster); the workflow script shows the same routing (dry run)."""

import subprocess
import sys
from pathlib import Path

import pytest

from mlip_finetune.remote import (
    RemoteSetupError,
    WorkerRouting,
    local_worker,
    submit_material,
    submit_routed,
)

WORKFLOWS = Path(__file__).parents[2] / "workflows"


@pytest.fixture
def foundation(random_mace_si):
    from mlip_finetune.core.provenance import sha256_file
    from mlip_finetune.foundation import FoundationModel

    return FoundationModel(
        name="random", path=str(random_mace_si), sha256=sha256_file(random_mace_si)
    )


def test_submit_checks_the_routing_before_the_queue(tmp_path, make_project, si_primitive):
    from jobflow import Flow

    from mlip_finetune.dft.jobs import StaticMaker

    make_project({name: local_worker(tmp_path / name) for name in ("cpu", "gpu", "small")})
    flow = Flow([StaticMaker().make(si_primitive)])
    with pytest.raises(RemoteSetupError, match=r"no worker for job kinds \{'dft': 'mpp3'\}"):
        submit_routed(flow, routing=WorkerRouting(dft="mpp3"))  # no database contacted
    with pytest.raises(RemoteSetupError, match="project nope not found"):
        submit_routed(flow, project="nope")


@pytest.mark.cluster
def test_submit_material_labels_the_flow(
    tmp_path, mongo_server, make_project, si_primitive, foundation
):
    from jobflow_remote import JobController

    from mlip_finetune.flows.presets import material_flow_maker
    from mlip_finetune.remote import load_project

    host, port = mongo_server
    workers = {name: local_worker(tmp_path / name) for name in ("cpu", "gpu", "small")}
    project = make_project(workers, host=host, port=port)
    options = {"properties": False, "dft_engine": "gpaw"}
    flow = material_flow_maker("test", strategies=("transfer",), **options).make(
        si_primitive, foundation, label="Si-a"
    )
    submission = submit_material(
        flow, foundation, label="Si-a", preset="test", strategies=("transfer",), options=options
    )
    assert submission.material == "Si-a"
    assert submission.flow_uuid == flow.uuid
    assert len(submission.db_ids) == len(submission.jobs) == 11
    assert ("dft relax", "dft", "cpu") in submission.jobs
    (info,) = JobController.from_project(load_project(project)).get_flows_info()
    assert info.flow_metadata["mlip_finetune"] == {
        "material": "Si-a",
        "preset": "test",
        "strategies": ["transfer"],
        "foundation": foundation.display_name,
        "foundation_sha256": foundation.sha256,
        "options": options,
    }


def test_submit_materials_dry_run(tmp_path, make_project, si_primitive, random_mace_si):
    make_project({name: local_worker(tmp_path / name) for name in ("cpu", "gpu", "small")})
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    result = subprocess.run(
        [
            sys.executable,
            str(WORKFLOWS / "submit_materials.py"),
            str(cif),
            "--foundation",
            str(random_mace_si),
            "--preset",
            "test",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "Si: dft relax dft cpu" in lines
    assert "Si: finetune transfer gpu gpu" in lines
    assert "Si: dft phonons light small" in lines
    result = subprocess.run(
        [
            sys.executable, str(WORKFLOWS / "submit_materials.py"), str(cif),
            "--foundation", str(random_mace_si), "--preset", "test", "--dry-run",
            "--dft-engine", "vasp", "--properties",
        ],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "Si: vasp relax dft cpu" in lines
    assert "Si: vasp properties relax 1 dft cpu" in lines
    assert "Si: ml properties transfer gpu gpu" in lines
