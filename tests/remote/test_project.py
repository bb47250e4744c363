"""Project set-up: workers, stores and the routing in the project metadata; no services."""

from pathlib import Path

import pytest

from mlip_finetune.remote import (
    JobKind,
    RemoteSetupError,
    WorkerRouting,
    local_worker,
    project_config,
)

WORKFLOWS = Path(__file__).parents[2] / "workflows"


def test_project_config_rejects_unknown_worker(tmp_path):
    workers = {"cpu": local_worker(tmp_path), "gpu": local_worker(tmp_path)}
    with pytest.raises(RemoteSetupError, match=r"no worker for job kinds \{'light': 'small'\}"):
        project_config("p", workers, database="db")
    config = project_config(
        "p", workers, database="db", routing=WorkerRouting(light="cpu"), base_dir=tmp_path
    )
    assert config["metadata"]["mlip_finetune"]["light"] == "cpu"
    assert config["jobstore"]["additional_stores"]["data"]["type"] == "GridFSStore"


def test_project_config_rejects_bad_worker(tmp_path):
    with pytest.raises(RemoteSetupError, match="invalid jobflow-remote project"):
        project_config("p", {"cpu": {"type": "local", "work_dir": str(tmp_path)}}, database="db")


def test_project_config_rejects_unknown_exec_config(tmp_path):
    workers = {name: local_worker(tmp_path) for name in ("cpu", "gpu", "small")}
    routing = WorkerRouting(exec_config={JobKind.DFT: "vasp"})
    with pytest.raises(RemoteSetupError, match=r"no exec_config \['vasp'\]"):
        project_config("p", workers, database="db", routing=routing)
    config = project_config(
        "p", workers, database="db", routing=routing, exec_config={"vasp": {"modules": ["vasp"]}}
    )
    assert config["metadata"]["mlip_finetune"]["exec_config"] == {"dft": "vasp"}


def test_written_project_loads_with_its_routing(tmp_path, make_project):
    from mlip_finetune.remote import load_project, routing_for_project

    workers = {name: local_worker(tmp_path / name) for name in ("cpu", "gpu", "small")}
    name = make_project(workers, routing=WorkerRouting(resources={JobKind.GPU: {"gres": "g"}}))
    project = load_project(name)
    assert project.name == name
    assert routing_for_project(project).resources == {JobKind.GPU: {"gres": "g"}}
    with pytest.raises(RemoteSetupError, match="jobflow-remote project nope not found"):
        load_project("nope")


def test_example_slurm_project_is_a_valid_project():
    from jobflow_remote.config.base import Project
    from monty.serialization import loadfn

    from mlip_finetune.remote import routing_for_project

    project = Project.model_validate(loadfn(WORKFLOWS / "jfremote_project_slurm.yaml"))
    assert {name: w.scheduler_type for name, w in project.workers.items()} == {
        "cpu": "slurm",
        "gpu": "slurm",
        "small": "slurm",
    }
    assert "module load" in project.workers["gpu"].pre_run
    assert project.workers["gpu"].resources["gres"] == "gpu:1"
    routing = routing_for_project(project)
    assert (routing.dft, routing.gpu, routing.light) == ("cpu", "gpu", "small")
    assert routing.resources[JobKind.GPU]["gres"] == "gpu:a100:1"
    assert set(project.jobstore["additional_stores"]) == {"data"}
