"""Fixtures of the cluster path: a real MongoDB-wire server, jobflow-remote projects, SLURM.

Services are real (no mocks): SecantusDB (``secantusd-py``) as MongoDB, and a one-node
SLURM cluster started by ``scripts/services.sh``. A missing service skips the tests that
need it, with the reason, unless ``CI`` is set: then it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SERVICES = REPO / "scripts" / "services.sh"
BIN = Path(sys.executable).parent
#: jobflow-remote runner delays (s): short, so a test waits seconds, not minutes.
FAST_RUNNER = {
    "delay_checkout": 0.5,
    "delay_check_run_status": 0.5,
    "delay_advance_status": 0.5,
    "delay_refresh_limited": 1,
    "delay_update_batch": 1,
}


def missing_service(reason: str) -> None:
    """Skip (locally) or fail (CI) a test whose service is unavailable."""
    if os.environ.get("CI"):
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    """A SecantusDB server in a subprocess on a free port; yields ``(host, port)``."""
    secantusd = BIN / "secantusd-py"
    if not secantusd.exists():
        missing_service(f"SecantusDB server {secantusd} not installed (pip install -e '.[dev]')")
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    port = free_port()
    data = tmp_path_factory.mktemp("secantus")
    log = (data / "secantusd.log").open("w")
    proc = subprocess.Popen(
        [
            str(secantusd),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(data / "db"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=500)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.admin.command("ping")
            break
        except PyMongoError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"SecantusDB did not start: {(data / 'secantusd.log').read_text()}")
            time.sleep(0.2)
    client.close()
    yield "127.0.0.1", port
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def slurm_cluster():
    """The one-node SLURM cluster of scripts/services.sh (started if needed); yields slurm.conf.

    Reuses a cluster already running in the same state directory; stops it at the end only
    if this session started it.
    """
    needed = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "sinfo")
    absent = [cmd for cmd in needed if shutil.which(cmd) is None]
    if absent:
        missing_service(
            f"SLURM/munge not installed ({', '.join(absent)}): scripts/install_services.sh"
        )
    if os.geteuid() != 0:
        missing_service("the one-node SLURM test cluster runs slurmd as root (SlurmUser=root)")
    default_state = Path(tempfile.gettempdir()) / "mlip_finetune_services"
    state = Path(os.environ.get("MLIP_FINETUNE_SERVICES_DIR", default_state))
    env = {**os.environ, "MLIP_FINETUNE_SERVICES_DIR": str(state)}

    def services(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SERVICES), *args], capture_output=True, text=True, check=False, env=env
        )

    started = services("status", "slurm").returncode != 0
    if started:
        result = services("start", "slurm")
        if result.returncode != 0:
            pytest.fail(f"scripts/services.sh start slurm failed:\n{result.stderr}")
    conf = state / "slurm" / "slurm.conf"
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    yield conf
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
    if started:
        services("stop", "slurm")


def _use_projects_folder(folder: Path, name: str, monkeypatch) -> None:
    import jobflow_remote
    from jobflow_remote.config.settings import JobflowRemoteSettings

    monkeypatch.setenv("JFREMOTE_PROJECTS_FOLDER", str(folder))
    monkeypatch.setenv("JFREMOTE_PROJECT", name)
    monkeypatch.setenv("JFREMOTE_CONFIG_FILE", str(folder / "jfremote.yaml"))
    monkeypatch.setattr(jobflow_remote, "SETTINGS", JobflowRemoteSettings())


@pytest.fixture
def make_project(tmp_path, monkeypatch):
    """Factory: write a jobflow-remote project in tmp_path and make it the current one.

    ``make_project(workers, host=..., port=..., routing=None)`` returns the project name;
    each call gets its own database, so tests do not see each other's flows.
    """
    from mlip_finetune.remote import project_config, write_project

    folder = tmp_path / "jfremote"

    def make(workers, *, host="127.0.0.1", port=27017, routing=None, name="mlipft"):
        database = f"mlipft_{uuid.uuid4().hex[:10]}"
        config = project_config(
            name,
            workers,
            database=database,
            host=host,
            port=port,
            base_dir=tmp_path / "project",
            routing=routing,
            runner=FAST_RUNNER,
        )
        write_project(config, folder)
        _use_projects_folder(folder, name, monkeypatch)
        return name

    return make


@pytest.fixture(scope="session")
def execution_cmd():
    """How a worker runs one job: this venv's ``jf`` (the node needs no PATH set-up)."""
    return f"{BIN / 'jf'} -fe execution run {{}}"


@pytest.fixture
def run_queue():
    """``run_queue(project, max_seconds)``: jobflow-remote's runner, in this process, until
    no job is ready or running (raises RuntimeError after ``max_seconds``)."""
    from jobflow_remote.jobs.runner import Runner

    def run(project: str, max_seconds: int) -> None:
        runner = Runner(project_name=project)
        try:
            runner.run_all_jobs(max_seconds=max_seconds)
        finally:
            runner.cleanup()

    return run
