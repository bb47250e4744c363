"""A GPAW worker kept alive across the calculations of one process, under one ``mpirun``.

Every calculation used to start ``mpirun -np N python -m mlip_finetune.dft.gpaw.worker``:
OpenMPI, Python and GPAW's imports cost about 2 s per calculation here, a third of a small
static. :func:`run_in_server` instead hands the calculation to a server started once per
calling process and rank count (``python -m mlip_finetune.dft.gpaw.server CONTROL_DIR``,
under ``mpirun`` for more than one rank), which runs :func:`mlip_finetune.dft.gpaw.worker.run`
on the same input files in the calculation's directory, exactly as the one-shot worker does.

Protocol (files in a private control directory; no MPI while idle, so idle ranks sleep
instead of spinning in a collective):

- the client writes ``request-<n>.json`` (the calculation directory) atomically;
- every rank polls for its next request every :data:`POLL_SECONDS`, changes into the
  directory, sends its stdout and stderr to the calculation's ``gpaw.stdout`` and
  ``gpaw.stderr`` and runs the worker; rank 0 then writes ``done-<n>.json`` with the exit code
  (0, or :data:`~mlip_finetune.dft.gpaw.worker.EXIT_NOT_CONVERGED`);
- an exception in any rank prints its traceback to the calculation's stderr and ends that
  rank with exit code 1, so ``mpirun`` ends the server: the client reports the failure as it
  reports a failed one-shot worker, and starts a new server for the next calculation. A
  failed calculation never leaves a server in an unknown state;
- the client holds a POSIX lock on ``client.lock`` for its lifetime (not inherited by its
  children); a server whose lock is free (the client ended, even by SIGKILL) exits after its
  current calculation.

Set ``MLIP_FINETUNE_GPAW_SERVER=false`` (:class:`~mlip_finetune.core.settings.MLIPFinetuneSettings`)
to start a one-shot worker per calculation instead.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Seconds between two looks at the control directory (client and idle server ranks).
POLL_SECONDS = 0.02

#: Module the server runs (``python -m``).
SERVER_MODULE = "mlip_finetune.dft.gpaw.server"

_LOCK_FILE = "client.lock"
_STOP_FILE = "stop"
_LOG_FILE = "server.log"


def _atomic_write(path: Path, payload: dict) -> None:
    partial = path.with_name(f".{path.name}")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    partial.rename(path)


class GPAWServer:
    """Client side of one server: its process, control directory and next request number.

    Parameters
    ----------
    command
        Launch prefix without the module: ``[python]`` or ``[mpirun, -np, N, python]``.
    env
        Environment of the server (the caller's, with the worker's MPI settings).
    """

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.control = Path(tempfile.mkdtemp(prefix="mlipft-gpaw-server-"))
        self._lock = (self.control / _LOCK_FILE).open("w")
        fcntl.lockf(self._lock, fcntl.LOCK_EX)
        self._log = (self.control / _LOG_FILE).open("w")
        self.process = subprocess.Popen(
            [*command, "-m", SERVER_MODULE, str(self.control)],
            cwd=self.control,  # exists as long as the server: the caller's may go
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.owner = os.getpid()
        self.n = 0

    def alive(self) -> bool:
        """Return whether the server process still runs (and belongs to this process)."""
        return self.owner == os.getpid() and self.process.poll() is None

    def run(self, request: dict[str, str]) -> int:
        """Run the worker on one request (see :func:`run_in_server`); return its exit code.

        A non-zero code other than the worker's own means the server ended (a rank raised:
        see the calculation's stderr); it is then not used again.
        """
        self.n += 1
        done = self.control / f"done-{self.n}.json"
        _atomic_write(self.control / f"request-{self.n}.json", request)
        while not done.exists():
            if self.process.poll() is not None:
                return self.process.returncode or 1
            time.sleep(POLL_SECONDS)
        return int(json.loads(done.read_text(encoding="utf-8"))["code"])

    def stop(self) -> None:
        """Ask the server to end (if it runs) and remove the control directory."""
        if self.owner != os.getpid():
            return
        if self.process.poll() is None:
            (self.control / _STOP_FILE).touch()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._lock.close()
        self._log.close()
        shutil.rmtree(self.control, ignore_errors=True)


#: This process's servers, by launch prefix, and the lock that serialises their use.
_SERVERS: dict[tuple[str, ...], GPAWServer] = {}
_USE = threading.Lock()


def run_in_server(
    command: list[str], env: dict[str, str], directory: Path, files: dict[str, str]
) -> int:
    """Run the GPAW worker on ``directory`` in this process's server for ``command``.

    Parameters
    ----------
    command
        Launch prefix: ``[python]`` or ``[mpirun, -np, N, python]``.
    env
        The server's environment, used when it is started.
    directory
        Calculation directory with the worker's input file.
    files
        File names in ``directory``: ``input`` and ``output`` (the worker's JSON files),
        ``stdout`` and ``stderr`` (truncated here, then written by every rank).

    Returns
    -------
    int
        The worker's exit code (0 or ``EXIT_NOT_CONVERGED``), or the server's own non-zero
        exit code if a rank raised.
    """
    for name in (files["stdout"], files["stderr"]):
        (directory / name).write_text("", encoding="utf-8")
    key = tuple(command)
    with _USE:
        server = _SERVERS.get(key)
        if server is None or not server.alive():
            server = _SERVERS[key] = GPAWServer(command, env)
        code = server.run({"directory": str(directory), **files})
        if not server.alive():  # a rank raised: the next calculation starts a new server
            _SERVERS.pop(key, None)
            # what mpirun or a server that could not start said, after the rank's traceback
            log = (server.control / _LOG_FILE).read_text(encoding="utf-8", errors="replace")
            with (directory / files["stderr"]).open("a", encoding="utf-8") as stderr:
                stderr.write(log)
            server.stop()
    return code


@atexit.register
def stop_servers() -> None:
    """Stop this process's servers (at interpreter exit)."""
    while _SERVERS:
        _, server = _SERVERS.popitem()
        server.stop()


# --- the server (every MPI rank) --------------------------------------------------------


def _client_gone(handle: IO[str]) -> bool:
    """Return whether the client's lock (on ``handle``'s file) is free: the client ended."""
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    fcntl.lockf(handle, fcntl.LOCK_UN)
    return True


@contextlib.contextmanager
def _output_to(stdout: Path, stderr: Path) -> Iterator[None]:
    """Send this rank's stdout and stderr (file descriptors 1, 2) to the calculation's files."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    for fd, path in ((1, stdout), (2, stderr)):
        target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(target, fd)
        os.close(target)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def _serve_one(request: dict[str, str], home: Path) -> int:
    """Run the worker on one request (this rank's part), then go back to ``home``.

    Any exception ends the rank (exit code 1) after printing its traceback to the
    calculation's stderr.
    """
    import gc

    from mlip_finetune.dft.gpaw.worker import run

    directory = Path(request["directory"])
    os.chdir(directory)
    try:
        with _output_to(directory / request["stdout"], directory / request["stderr"]):
            try:
                code = run(Path(request["input"]), Path(request["output"]))
            except BaseException:  # noqa: BLE001  (any error ends the rank, see above)
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(1)
    finally:
        os.chdir(home)
    gc.collect()  # GPAW's objects (and its log file handle) go now, not at the next run
    return code


def serve(control: Path) -> int:
    """Serve requests in ``control`` until stopped or the client ends (every rank runs this).

    Returns
    -------
    int
        Exit code 0.
    """
    from gpaw.mpi import world

    n = 0
    lock = (control / _LOCK_FILE).open("a")  # opened once: the idle loop polls it
    while True:
        request = control / f"request-{n + 1}.json"
        if request.exists():
            n += 1
            code = _serve_one(json.loads(request.read_text(encoding="utf-8")), control)
            if world.rank == 0:
                _atomic_write(control / f"done-{n}.json", {"code": code})
            continue
        if (control / _STOP_FILE).exists():
            return 0
        if _client_gone(lock):  # nobody else will remove the directory
            if world.rank == 0:
                shutil.rmtree(control, ignore_errors=True)
            return 0
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
