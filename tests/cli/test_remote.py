"""Cluster commands without services: `submit --dry-run` shows the routing, errors read
well; `status`, `rerun` and `results -p` name a missing project."""

from typer.testing import CliRunner

from mlip_finetune.cli import app
from mlip_finetune.remote import WorkerRouting, local_worker

runner = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})


def _app():
    """The real command line: the cluster commands are registered on it."""
    return app


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


def test_cluster_commands_name_a_missing_project(tmp_path, make_project):
    make_project({name: local_worker(tmp_path / name) for name in ("cpu", "gpu", "small")})
    for args in (["status"], ["rerun"], ["results"]):
        result = runner.invoke(_app(), [*args, "--project", "nope"])
        assert result.exit_code == 2, args
        assert "jobflow-remote project nope not found" in " ".join(result.output.split())


def test_cli_submit_checks_the_input_at_the_door(tmp_path, si_primitive, random_mace_si):
    from pymatgen.core import Lattice, Structure

    cif = tmp_path / "close.cif"
    Structure(Lattice.cubic(5), ["Si", "Si"], [[0, 0, 0], [0.11 / 5, 0, 0]]).to(filename=str(cif))
    result = runner.invoke(_app(), ["submit", str(cif), "-f", str(random_mace_si), "--dry-run"])
    assert result.exit_code == 2
    assert "sites 0 (Si) and 1 (Si) are 0.110 Å apart" in " ".join(result.output.split())
    assert "Traceback" not in result.output
