"""Routing of job kinds to workers, stage bookkeeping, project set-up: no services needed."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlip_finetune.remote import (
    ROUTES,
    JobKind,
    RemoteSetupError,
    StageState,
    WorkerRouting,
    job_kind,
    local_worker,
    project_config,
    route_flow,
    stage_of,
    stage_state,
)

#: Every job the paper-preset material flow with all options has before it runs: its kind
#: and its stage. A new job in the flow fails test_job_kind_of_every_material_flow_job until
#: it is listed here (and routed on purpose).
STATIC_NAMES = {
    "training data": (JobKind.GPU, "data"),
    "frame structures": (JobKind.LIGHT, "data"),
    "dft statics": (JobKind.LIGHT, "dft statics"),
    "finetune transfer": (JobKind.GPU, "finetune transfer"),
    "finetune lora": (JobKind.GPU, "finetune lora"),
    **{
        f"finetune {s} frames<={i}": (JobKind.GPU, "data efficiency")
        for s in ("transfer", "lora")
        for i in range(3)
    },
    "data efficiency curve": (JobKind.LIGHT, "data efficiency"),
    "distil surrogate": (JobKind.GPU, "surrogate"),
    "dft relax": (JobKind.DFT, "dft phonons"),
    "phonon displacements": (JobKind.LIGHT, "dft phonons"),
    "dft phonon statics": (JobKind.LIGHT, "dft phonons"),
    "dft phonons": (JobKind.LIGHT, "dft phonons"),
    **{
        f"ml phonons {m}": (JobKind.GPU, "ml phonons")
        for m in ("foundation", "transfer", "lora", "surrogate")
    },
    **{
        f"ml properties {m}": (JobKind.GPU, "properties")
        for m in ("foundation", "transfer", "lora", "surrogate")
    },
    "dft properties relax": (JobKind.DFT, "properties"),
    "dft property points": (JobKind.LIGHT, "properties"),
    "dft phase transitions": (JobKind.DFT, "properties"),
    "dft properties": (JobKind.LIGHT, "properties"),
    "property errors": (JobKind.LIGHT, "properties"),
    "forgetting check": (JobKind.GPU, "forgetting"),
    "material report": (JobKind.LIGHT, "report"),
}


@pytest.fixture(scope="module")
def random_foundation(random_mace_si):
    from mlip_finetune.foundation import FoundationModel
    from mlip_finetune.utils import sha256_file

    return FoundationModel(
        name="random", path=str(random_mace_si), sha256=sha256_file(random_mace_si)
    )


@pytest.fixture
def material_flow(si_primitive, random_foundation):
    """Built, not run: the paper preset with every optional stage."""
    from mlip_finetune.flows.presets import material_flow_maker

    maker = material_flow_maker(
        "paper",
        strategies=("transfer", "lora"),
        data_efficiency=True,
        distil="transfer",
        properties=True,
        forgetting=True,
    )
    return maker.make(si_primitive, random_foundation, label="Si")


def test_job_kind_of_every_material_flow_job(material_flow):
    names = [job.name for job, _ in material_flow.iterflow()]
    assert sorted(names) == sorted(STATIC_NAMES)
    for job, _ in material_flow.iterflow():
        kind, stage = STATIC_NAMES[job.name]
        assert job_kind(job) is kind, job.name
        assert stage_of(job.name) == stage, job.name


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("dft static 1/20", JobKind.DFT),
        ("dft static 20/20", JobKind.DFT),
        ("dft phonon displacement 3/3", JobKind.DFT),
        ("dft eos 3/7", JobKind.DFT),
        ("dft elastic 2/6", JobKind.DFT),
        ("dft properties static", JobKind.DFT),
        ("store_inputs", JobKind.LIGHT),  # jobflow's output job of a replaced fan-out
        ("dft statics", JobKind.LIGHT),
        ("dft phonon statics", JobKind.LIGHT),
        ("", JobKind.LIGHT),
    ],
)
def test_job_kind_of_generated_jobs(name, kind):
    assert job_kind(name) is kind


def test_route_flow_sets_each_jobs_worker(material_flow):
    routing = WorkerRouting(
        dft="mpp3", gpu="a100", light="login", resources={JobKind.GPU: {"gres": "gpu:1"}}
    )
    worker_resources = {"mpp3": {"partition": "mpp3", "ntasks": 112}, "a100": None, "login": None}
    route_flow(material_flow, routing, worker_resources)
    workers = {JobKind.DFT: "mpp3", JobKind.GPU: "a100", JobKind.LIGHT: "login"}
    resources = {
        JobKind.DFT: {"partition": "mpp3", "ntasks": 112},  # the worker's own, explicit
        JobKind.GPU: {"gres": "gpu:1"},  # the routing's override
        JobKind.LIGHT: None,  # neither: left to jobflow-remote (the worker's)
    }
    for job, _ in material_flow.iterflow():
        config = job.config.manager_config
        kind, _ = STATIC_NAMES[job.name]
        assert config["worker"] == workers[kind], job.name
        assert config.get("resources") == resources[kind], job.name
        assert job.config.pass_manager_config is False


def test_routing_reaches_jobs_created_at_run_time(si_primitive):
    """A fan-out job routed as light must create DFT statics routed to the DFT worker."""
    from jobflow import Flow, JobStore
    from maggma.stores import MemoryStore

    from mlip_finetune.dft.jobs import ReferenceStaticsMaker, StaticMaker
    from mlip_finetune.dft.settings import DFTSettings

    fan_out = ReferenceStaticsMaker(static_maker=StaticMaker(settings=DFTSettings.test())).make(
        [si_primitive, si_primitive.copy()]
    )
    route_flow(Flow([fan_out]), WorkerRouting(), {"cpu": {"partition": "cpu"}, "small": None})
    assert fan_out.config.manager_config["worker"] == "small"
    assert "resources" not in fan_out.config.manager_config
    store = JobStore(MemoryStore())
    store.connect()
    response = fan_out.run(store)  # builds the statics, runs no DFT
    generated = {job.name: job for job in response.replace.jobs}
    assert set(generated) == {"dft static 1/2", "dft static 2/2", "store_inputs"}
    assert generated["dft static 1/2"].config.manager_config["worker"] == "cpu"
    assert generated["dft static 2/2"].config.manager_config["worker"] == "cpu"
    assert generated["dft static 2/2"].config.manager_config["resources"] == {"partition": "cpu"}
    assert generated["store_inputs"].config.manager_config["worker"] == "small"


def test_exec_config_is_explicit_per_kind(si_primitive):
    """Generated jobs would otherwise inherit the generator's exec_config."""
    from jobflow import Flow
    from jobflow_remote.config.base import ExecutionConfig

    from mlip_finetune.dft.jobs import StaticMaker
    from mlip_finetune.dft.settings import DFTSettings

    static = StaticMaker(settings=DFTSettings.test()).make(si_primitive)
    static.name = "dft static 1/1"
    other = StaticMaker(settings=DFTSettings.test()).make(si_primitive)
    other.name = "material report"
    route_flow(Flow([static, other]), WorkerRouting(exec_config={JobKind.DFT: "gpaw"}))
    assert static.config.manager_config["exec_config"] == "gpaw"
    assert other.config.manager_config["exec_config"] == ExecutionConfig()


def test_routes_are_substrings_applied_in_order():
    # the semantics set_run_config gives them: the last matching rule wins, and no rule
    # pattern is claimed by a later rule of another kind
    for pattern, kind in ROUTES:
        assert job_kind(pattern) is kind


@pytest.mark.parametrize(
    ("name", "stage"),
    [
        ("training data", "data"),
        ("frame structures", "data"),
        ("dft statics", "dft statics"),
        ("dft static 7/20", "dft statics"),
        ("finetune lora", "finetune lora"),
        ("dft relax", "dft phonons"),
        ("phonon displacements", "dft phonons"),
        ("dft phonon statics", "dft phonons"),
        ("dft phonon displacement 2/3", "dft phonons"),
        ("dft phonons", "dft phonons"),
        ("dft eos 3/7", "properties"),
        ("dft elastic 1/6", "properties"),
        ("dft properties static", "properties"),
        ("ml phonons foundation", "ml phonons"),
        ("material report", "report"),
        ("something else", "other"),
    ],
)
def test_stage_of(name, stage):
    assert stage_of(name) == stage


def test_stage_state():
    assert stage_state(["COMPLETED", "COMPLETED"]) is StageState.DONE
    assert stage_state(["COMPLETED", "FAILED", "RUNNING"]) is StageState.FAILED
    assert stage_state(["REMOTE_ERROR"]) is StageState.FAILED
    assert stage_state(["COMPLETED", "SUBMITTED"]) is StageState.RUNNING
    assert stage_state(["COMPLETED", "WAITING"]) is StageState.WAITING
    assert stage_state(["READY"]) is StageState.WAITING
    assert stage_state(["USER_STOPPED", "COMPLETED"]) is StageState.STOPPED


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


# --- command line without services ----------------------------------------------------------


def _app():
    """The real command line: the cluster commands are registered on it."""
    from mlip_finetune.cli import app

    return app


runner = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})


def test_cli_submit_dry_run_shows_routing(tmp_path, make_project, si_primitive, random_mace_si):
    workers = {name: local_worker(tmp_path / name) for name in ("cpu", "gpu", "small")}
    make_project(workers)  # no database is contacted for a dry run
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(
        _app(),
        ["submit", str(cif), "-f", str(random_mace_si), "--preset", "test", "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    lines = {" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()}
    assert "dft relax dft cpu" in lines
    assert "finetune transfer gpu gpu" in lines
    assert "material report light small" in lines
    assert "dry run: nothing submitted" in result.output
    # pipeline options reach the flow: a curve traced for scratch only
    result = runner.invoke(
        _app(),
        [
            "submit", str(cif), "-f", str(random_mace_si), "--preset", "test", "--dry-run",
            "--strategies", "transfer,scratch", "--curve-strategies", "scratch",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = {" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()}
    assert "finetune scratch frames<=0 gpu gpu" in lines
    assert not any(line.startswith("finetune transfer frames") for line in lines)
    # the DFT property suite with VASP: atomate2's EOS and elastic flows on the CPU worker
    result = runner.invoke(
        _app(),
        [
            "submit", str(cif), "-f", str(random_mace_si), "--preset", "test", "--dry-run",
            "--properties", "--dft-engine", "vasp",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = {" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()}
    assert "vasp properties relax 1 dft cpu" in lines
    assert "vasp eos relax deformation 10 dft cpu" in lines
    assert "vasp properties document light small" in lines
    result = runner.invoke(
        _app(),
        ["submit", str(cif), "-f", str(random_mace_si), "--dry-run", "--curve-strategies", "lora"],
    )
    assert result.exit_code == 2
    assert "subset of the trained strategies" in " ".join(result.output.split())


def test_cli_submit_readable_errors(tmp_path, make_project, si_primitive, random_mace_si):
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    args = ["submit", str(cif), "-f", str(random_mace_si), "--dry-run"]
    make_project(
        {"cpu": local_worker(tmp_path), "small": local_worker(tmp_path)},
        routing=WorkerRouting(gpu="cpu"),
    )
    result = runner.invoke(_app(), [*args, "--project", "nope"])
    assert result.exit_code == 2
    assert "jobflow-remote project nope not found" in " ".join(result.output.split())
    result = runner.invoke(_app(), [*args, "--preset", "huge"])
    assert result.exit_code == 2
    assert "'huge' is not a valid RunPreset" in result.output


# --- the examples in workflows/ ---------------------------------------------------------------

WORKFLOWS = Path(__file__).parents[2] / "workflows"


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


def test_submit_materials_dry_run(tmp_path, make_project, si_primitive, random_mace_si):
    import subprocess
    import sys

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
