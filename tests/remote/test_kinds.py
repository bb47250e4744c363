"""Routing from job tags: every job of the full paper-preset flow, and the jobs its fan-outs
create at run time, go to the worker an independent table says; no services needed."""

import json

import pytest

from mlip_finetune.remote import JobKind, WorkerRouting, job_kind, route_flow
from mlip_finetune.schemas.jobs import Stage, tag_job

STRATEGIES = ("transfer", "multihead", "lora_full", "lora", "freeze", "scratch")
MODELS = ("foundation", *STRATEGIES, "surrogate")

#: Written by hand from what each job does (DESIGN.md): DFT on the CPU worker, training and
#: large ML evaluations on the GPU worker, bookkeeping on the small worker. Not derived from
#: the package's tags: a job whose tag changes fails here until this table agrees.
SHARED_WORKERS = {
    "training data": "gpu",
    "frame structures": "small",
    "dft statics": "small",
    **{f"finetune {s}": "gpu" for s in STRATEGIES},
    **{f"finetune {s} frames<={i}": "gpu" for s in STRATEGIES for i in range(3)},
    "data efficiency curve": "small",
    "distil surrogate": "gpu",
    "phonon displacements": "small",
    "dft phonon statics": "small",
    "dft phonons": "small",
    **{f"ml phonons {m}": "gpu" for m in MODELS},
    **{f"ml properties {m}": "gpu" for m in MODELS},
    "property errors": "small",
    "forgetting check": "gpu",
    "material report": "small",
}
EXPECTED_WORKERS = {
    "gpaw": {
        **SHARED_WORKERS,
        "dft relax": "cpu",
        "dft properties relax": "cpu",
        "dft property points": "small",
        "dft phase transitions": "cpu",
        "dft properties": "small",
    },
    "vasp": {
        **SHARED_WORKERS,
        "vasp relax": "cpu",
        "vasp relax document": "small",
        "vasp properties relax 1": "cpu",
        "vasp properties relax 2": "cpu",
        # atomate2's EOS and elastic flows: the VASP points on the CPU worker
        **{f"vasp eos relax deformation {i}": "cpu" for i in range(11)},
        "vasp eos postprocessing": "small",
        "apply_strain_to_structure": "small",
        "generate_elastic_deformations": "small",
        "run_elastic_deformations": "small",
        "fit_elastic_tensor": "small",
        "vasp phase transitions": "cpu",
        "vasp properties document": "small",
    },
}
#: Jobs the fan-outs create at run time, with 2 structures per statics fan-out.
GENERATED_WORKERS = {
    "gpaw": {
        **{f"dft static {i}/2": "cpu" for i in (1, 2)},
        **{f"dft phonon displacement {i}/2": "cpu" for i in (1, 2)},
        **{f"dft eos {i}/11": "cpu" for i in range(1, 12)},
        **{f"dft elastic {i}/6": "cpu" for i in range(1, 7)},
        "store_inputs": "small",  # jobflow's output job of a replaced fan-out
    },
    "vasp": {
        **{f"vasp static {i}/2": "cpu" for i in (1, 2)},
        **{f"vasp static document {i}/2": "small" for i in (1, 2)},
        **{f"vasp phonon static {i}/2": "cpu" for i in (1, 2)},
        **{f"vasp phonon static document {i}/2": "small" for i in (1, 2)},
        # created by atomate2's run_elastic_deformations, not by our code
        **{f"vasp elastic relax {i}/6": "cpu" for i in range(1, 7)},
        "store_inputs": "small",
    },
}
KIND_OF_WORKER = {"cpu": JobKind.DFT, "gpu": JobKind.GPU, "small": JobKind.LIGHT}
#: A routing that sets every option, and the workers' own resources.
ROUTING = WorkerRouting(
    resources={JobKind.GPU: {"gres": "gpu:1"}}, exec_config={JobKind.DFT: "dft"}
)
WORKER_RESOURCES = {"cpu": {"partition": "cpu", "ntasks": 4}, "gpu": None, "small": None}
RESOURCES = {"cpu": {"partition": "cpu", "ntasks": 4}, "gpu": {"gres": "gpu:1"}, "small": None}


@pytest.fixture(scope="module")
def random_foundation(random_mace_si):
    from mlip_finetune.core.provenance import sha256_file
    from mlip_finetune.foundation import FoundationModel

    return FoundationModel(
        name="random", path=str(random_mace_si), sha256=sha256_file(random_mace_si)
    )


def paper_flow(structure, foundation, engine):
    """Built, not run: the paper preset with every strategy and every optional stage."""
    from mlip_finetune.flows.presets import material_flow_maker

    maker = material_flow_maker(
        "paper",
        strategies=STRATEGIES,
        data_efficiency=True,
        distil="transfer",
        properties=True,
        forgetting=True,
        dft_engine=engine,
    )
    return maker.make(structure, foundation, label="Si")


def assert_routed(job, worker):
    """The job's kind, and the worker, resources and exec_config route_flow set for it."""
    from jobflow_remote.config.base import ExecutionConfig

    config = job.config.manager_config
    assert job_kind(job) is KIND_OF_WORKER[worker], job.name
    assert config["worker"] == worker, job.name
    assert config.get("resources") == RESOURCES[worker], job.name
    exec_config = config["exec_config"]
    if worker == "cpu":
        assert exec_config == "dft", job.name
    else:  # explicit, else a generated job would get its generator's
        assert ExecutionConfig.model_validate(exec_config) == ExecutionConfig(), job.name
    assert job.config.pass_manager_config is False, job.name


@pytest.mark.parametrize("engine", ["gpaw", "vasp"])
def test_every_job_of_the_paper_flow_goes_to_its_worker(engine, si_primitive, random_foundation):
    from mlip_finetune.remote import routed_jobs

    flow = paper_flow(si_primitive, random_foundation, engine)
    names = [job.name for job, _ in flow.iterflow()]
    assert sorted(names) == sorted(EXPECTED_WORKERS[engine])
    shown = {name: worker for name, _, worker in routed_jobs(flow, WorkerRouting())}
    assert shown == EXPECTED_WORKERS[engine]
    route_flow(flow, ROUTING, WORKER_RESOURCES)
    for job, _ in flow.iterflow():
        assert_routed(job, EXPECTED_WORKERS[engine][job.name])


def _run_with(job, store, *args):
    """Run a fan-out job of a built flow on given inputs (its references replaced)."""
    job.function_args = args
    return job.run(store)


@pytest.mark.parametrize("engine", ["gpaw", "vasp"])
def test_jobs_created_at_run_time_go_to_their_worker(engine, si_primitive, random_foundation):
    """Fan-outs routed as light create DFT jobs routed to the DFT worker, from their tags;
    also atomate2's elastic fan-out, whose code is not ours."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    from mlip_finetune.schemas.dft import StaticDocument

    flow = paper_flow(si_primitive, random_foundation, engine)
    route_flow(flow, ROUTING, WORKER_RESOURCES)
    jobs = {job.name: job for job, _ in flow.iterflow()}
    store = JobStore(MemoryStore())
    store.connect()
    generated = []
    for name in ("dft statics", "dft phonon statics"):
        response = _run_with(jobs[name], store, [si_primitive, si_primitive.copy()])
        generated += [job for job, _ in response.replace.iterflow()]
    if engine == "gpaw":
        equilibrium = StaticDocument(
            label="equilibrium",
            structure=si_primitive,
            energy=-10.8,
            forces=[[0.0] * 3] * 2,
            stress=[[0.0] * 3] * 3,
            engine="gpaw",
            settings={},
            kpoints=[4, 4, 4],
            wall_time_s=1.0,
            converged=True,
        )
        points = jobs["dft property points"]
        response = _run_with(points, store, equilibrium, points.function_args[1])
    else:
        deformations = _run_with(jobs["generate_elastic_deformations"], store, si_primitive)
        response = _run_with(
            jobs["run_elastic_deformations"], store, si_primitive, deformations.output
        )
    generated += [job for job, _ in response.replace.iterflow()]
    expected = GENERATED_WORKERS[engine]
    assert {job.name for job in generated} == set(expected)
    for job in generated:
        assert_routed(job, expected[job.name])


def test_routing_survives_the_queue_round_trip(si_primitive):
    """jobflow-remote stores jobs as JSON: the routing of created jobs must survive it."""
    from jobflow import Flow, Job, JobStore
    from maggma.stores import MemoryStore

    from mlip_finetune.dft.jobs import ReferenceStaticsMaker, StaticMaker
    from mlip_finetune.dft.settings import DFTSettings

    fan_out = ReferenceStaticsMaker(static_maker=StaticMaker(settings=DFTSettings.test())).make(
        [si_primitive, si_primitive.copy()]
    )
    route_flow(Flow([fan_out]), WorkerRouting(), {"cpu": {"partition": "cpu"}, "small": None})
    assert fan_out.config.manager_config["worker"] == "small"
    assert "resources" not in fan_out.config.manager_config
    stored = Job.from_dict(json.loads(json.dumps(fan_out.as_dict())))
    store = JobStore(MemoryStore())
    store.connect()
    response = stored.run(store)  # builds the statics, runs no DFT
    generated = {job.name: job for job in response.replace.jobs}
    assert set(generated) == {"dft static 1/2", "dft static 2/2", "store_inputs"}
    for name in ("dft static 1/2", "dft static 2/2"):
        assert generated[name].config.manager_config["worker"] == "cpu"
        assert generated[name].config.manager_config["resources"] == {"partition": "cpu"}
    assert generated["store_inputs"].config.manager_config["worker"] == "small"


def test_exec_config_is_explicit_per_kind(si_primitive):
    """Generated jobs would otherwise inherit the generator's exec_config."""
    from jobflow import Flow
    from jobflow_remote.config.base import ExecutionConfig

    from mlip_finetune.dft.jobs import StaticMaker
    from mlip_finetune.dft.settings import DFTSettings

    static = StaticMaker(settings=DFTSettings.test()).make(si_primitive)
    other = tag_job(
        StaticMaker(settings=DFTSettings.test()).make(si_primitive), JobKind.LIGHT, Stage.REPORT
    )
    route_flow(Flow([static, other]), WorkerRouting(exec_config={JobKind.DFT: "gpaw"}))
    assert static.config.manager_config["exec_config"] == "gpaw"
    explicit_none = ExecutionConfig.model_validate(other.config.manager_config["exec_config"])
    assert explicit_none == ExecutionConfig()
    # no exec_config in the routing: none set, jobflow-remote's defaults apply
    route_flow(Flow([plain := StaticMaker().make(si_primitive)]), WorkerRouting())
    assert "exec_config" not in plain.config.manager_config


def test_job_kind_reads_only_the_tag(si_primitive):
    from jobflow import job

    from mlip_finetune.dft.jobs import StaticMaker

    static = StaticMaker().make(si_primitive)
    assert job_kind(static) is JobKind.DFT
    assert job_kind(static.metadata) is JobKind.DFT  # as jobflow-remote stores it
    static.name = "material report"  # the name says nothing
    assert job_kind(static) is JobKind.DFT
    tag_job(static, JobKind.GPU, Stage.FORGETTING)
    assert job_kind(static) is JobKind.GPU
    assert job_kind(job(len)([])) is JobKind.LIGHT  # untagged
    assert job_kind({}) is JobKind.LIGHT
    with pytest.raises(TypeError, match="reads a job's tag"):
        job_kind("dft static 1/20")


def make_untagged(n):
    """A fan-out like atomate2's: creates jobs that carry no tag."""
    from jobflow import Flow, Response, job

    jobs = [job(len)([i]) for i in range(n)]
    return Response(replace=Flow(jobs, output=[j.output for j in jobs]))


def test_tags_replayed_by_a_third_party_fan_out_are_routed():
    """A fan-out whose code is not ours (atomate2's) creates untagged jobs; a dynamic tag
    update registered at build time (as dft.vasp.tag_vasp_flow does) is replayed on them
    before the routing, so they go to their tag's worker."""
    from jobflow import Flow, JobStore, job
    from maggma.stores import MemoryStore

    from mlip_finetune.schemas.jobs import METADATA_KEY, JobTag, job_tag

    fan_out = tag_job(job(make_untagged)(2), JobKind.LIGHT, Stage.PROPERTIES)
    dft_tag = JobTag(kind=JobKind.DFT, stage=Stage.PROPERTIES).model_dump(mode="json")
    fan_out.update_metadata({METADATA_KEY: dft_tag}, name_filter="len", dynamic=True)
    assert job_kind(fan_out) is JobKind.LIGHT  # the filter spares the fan-out itself
    route_flow(Flow([fan_out]))
    store = JobStore(MemoryStore())
    store.connect()
    response = fan_out.run(store)
    workers = {j.name: j.config.manager_config["worker"] for j in response.replace.jobs}
    assert workers == {"len": "cpu", "store_inputs": "small"}
    assert {job_tag(j).stage for j in response.replace.jobs} == {Stage.PROPERTIES}
