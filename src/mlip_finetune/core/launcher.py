"""Python programs started warm: ``python -m MODULE ARGS`` without paying its imports again.

A training program spends most of a short run importing: ``import mace.cli.run_train``
(torch, e3nn, torchmetrics, scipy.signal, torch._dynamo) takes 9–11 s on this 2-core machine,
once per training, while a test-preset training trains for a few seconds.
:func:`start_module` runs the module in a child forked from a *launch server*: a fresh Python
process, one per calling process, that imports the preload modules the first time they are
asked for and then forks one child per program (milliseconds). It is the zygote /
``multiprocessing`` forkserver pattern, without what ``multiprocessing`` adds for its own
children: a forkserver child re-imports the caller's ``__main__`` script, which would run a
user's flow script without an ``if __name__ == "__main__"`` guard a second time inside
every training.

The child gets what ``subprocess.Popen([sys.executable, "-m", MODULE, *ARGS], cwd=cwd,
env=env, stdout=PIPE, stderr=STDOUT, text=True)`` gives a program: its own process (so a
program that changes torch's global dtype or logging, as mace's ``run()`` does, changes them
there only), the caller's process group (a kill of the group reaches it), its working
directory, the caller's environment at the time of the call plus ``env``, the caller's
module search path (``sys.path``; a cold ``python -m`` has the interpreter's default one),
``sys.argv`` and ``__name__ == "__main__"``, stdout and stderr in one line-buffered pipe,
Python's signal handlers, atexit handlers at the end, and an exit code that is negative for a
signal. One difference: an environment variable that a preloaded module reads when it is
imported (not when it runs) keeps the server's value. The server is never forked from the
caller, so threads the caller has started (torch's, jobflow's) cannot leave locks held in a
child.

Where ``os.fork`` or ``socket.send_fds`` do not exist (Windows), or ``warm=False`` is asked
for, it is ``subprocess.Popen`` with that command line.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

__all__ = ["ModuleProcess", "WarmProcess", "start_module", "warm_start_available"]

#: Largest request (bytes): module, arguments, working directory and environment as JSON.
_MAX_REQUEST = 1 << 20
#: Seconds the server sleeps in ``select`` between two looks for ended children.
_REAP_INTERVAL_S = 0.05


class ModuleProcess(Protocol):
    """What the caller sees of a started program: the subset of ``subprocess.Popen`` used."""

    pid: int
    stdout: IO[str] | None

    def poll(self) -> int | None:
        """Exit code, or None while the program runs."""

    def wait(self) -> int:
        """Wait for the program; return its exit code (negative: killed by that signal)."""

    def kill(self) -> None:
        """Send SIGKILL to the program."""


def warm_start_available() -> bool:
    """Return True where :func:`start_module` can fork programs from a launch server."""
    return hasattr(os, "fork") and hasattr(socket, "send_fds")


# --- the server (runs in its own interpreter: ``python -c`` calling _serve) ---------------


def _run_child(request: dict[str, Any], out_fd: int) -> None:
    """In the forked child: become ``python -m module args`` writing into ``out_fd``."""
    import runpy
    import traceback

    code = 1
    try:
        # the server ignores Ctrl-C; the program gets Python's KeyboardInterrupt back (the other
        # signals are as Python sets them at start-up, e.g. SIGPIPE ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        module = request["module"]
        sys.argv = [module, *request["args"]]  # runpy puts the module's file in argv[0]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as error:  # what the interpreter makes of sys.exit(...)
        if error.code is None or isinstance(error.code, int):
            code = error.code or 0
        else:
            print(error.code, file=sys.stderr)  # noqa: T201
    except BaseException:  # noqa: BLE001  (the program's error, reported as python would)
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # noqa: SLF001  (the interpreter's exit: logging.shutdown, ...)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _serve(control_fd: int) -> None:
    """Launch server: fork one child per request on ``control_fd``, after its imports.

    Each request is a JSON object (``module``, ``args``, ``cwd``, ``env``, ``sys_path``,
    ``preload``) sent with two file descriptors: the write end of the child's output pipe and
    one end of a socket pair on which the server answers ``{"pid": N}`` and, when the child
    ends, ``{"exit": code}``. Before forking, the server takes the caller's module search path
    ``sys_path`` (so that the child imports what the caller would: a test's rootdir, a user's
    script folder) and imports the request's ``preload`` modules it has not imported yet (a
    module that fails to import is skipped), so every later child starts with them. The
    server ends when the caller closes ``control_fd``.
    """
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the caller and the child
    imported: set[str] = set()
    control = socket.socket(fileno=control_fd)
    replies: dict[int, socket.socket] = {}
    while True:
        # wake up to reap only while children run; idle, wait for the next request
        readable, _, _ = select.select([control], [], [], _REAP_INTERVAL_S if replies else None)
        if readable:
            message, fds, _, _ = socket.recv_fds(control, _MAX_REQUEST, 2)
            if not message:
                break  # the caller has gone
            out_fd, reply_fd = fds
            reply = socket.socket(fileno=reply_fd)
            request = json.loads(message)
            sys.path[:] = request["sys_path"]
            for name in request["preload"]:
                if name not in imported:
                    imported.add(name)
                    with contextlib.suppress(Exception, SystemExit):
                        importlib.import_module(name)
            pid = os.fork()
            if pid == 0:
                for sock in (control, reply, *replies.values()):
                    sock.close()
                _run_child(request, out_fd)
            os.close(out_fd)
            reply.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            replies[pid] = reply
        while replies:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            reply = replies.pop(pid)
            with contextlib.suppress(OSError):  # the caller may have stopped listening
                code = os.waitstatus_to_exitcode(status)  # negative: the signal, as Popen
                reply.sendall(json.dumps({"exit": code}).encode() + b"\n")
            reply.close()


# --- the caller's side ---------------------------------------------------------------------


class _Server:
    """The launch server of this process, started at the first warm launch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = f"from mlip_finetune.core.launcher import _serve; _serve({theirs.fileno()})"
        self._process = subprocess.Popen(  # a fresh interpreter, never a fork of the caller
            [sys.executable, "-c", code],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # what the preloaded imports print, once
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        theirs.close()
        self._control = ours
        atexit.register(self.stop)

    def launch(self, request: dict[str, Any], out_fd: int) -> socket.socket:
        """Send one request; return the socket on which the pid and the exit code come."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            mine, server_end = socket.socketpair()
            try:
                assert self._control is not None  # noqa: S101  (started above)
                fds = [out_fd, server_end.fileno()]
                socket.send_fds(self._control, [json.dumps(request).encode()], fds)
            finally:
                server_end.close()
            return mine

    def stop(self) -> None:
        """End the server (its running children go on, like orphaned subprocesses)."""
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=5)
                if self._process.poll() is None:
                    self._process.kill()
                self._process = None


_SERVER = _Server()


class WarmProcess:
    """A program running in a child of the launch server (see :func:`start_module`).

    Attributes
    ----------
    pid
        Process id of the child.
    stdout
        Its stdout and stderr, one text stream (read to EOF to follow the program).
    returncode
        Exit code once known (negative: killed by that signal), else None.
    """

    def __init__(self, reply: socket.socket, stdout: IO[str]) -> None:
        self._reply = reply
        self._lines = reply.makefile("r", encoding="utf-8")
        first = self._lines.readline()
        if not first:
            raise OSError("the launch server ended before starting the program")
        self.pid: int = int(json.loads(first)["pid"])
        self.stdout: IO[str] | None = stdout
        self.returncode: int | None = None

    def _read_exit(self, *, block: bool) -> None:
        if self.returncode is not None:
            return
        if not block and not select.select([self._reply], [], [], 0)[0]:
            return
        line = self._lines.readline()
        # no line: the server died; the child was its, so its status is lost with it
        self.returncode = int(json.loads(line)["exit"]) if line else -signal.SIGKILL
        self._lines.close()
        self._reply.close()

    def poll(self) -> int | None:
        """Return the exit code, or None while the program runs."""
        self._read_exit(block=False)
        return self.returncode

    def wait(self) -> int:
        """Wait for the program to end and return its exit code."""
        self._read_exit(block=True)
        return self.returncode  # type: ignore[return-value]  (read above)

    def kill(self) -> None:
        """Send SIGKILL to the program (nothing if it has ended)."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stdout is not None:
            self.stdout.close()
        self.wait()


def start_module(
    module: str,
    args: list[str],
    *,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    preload: Iterable[str] = (),
    warm: bool = True,
) -> ModuleProcess:
    """Start ``python -m module *args``, forked from the warm launch server where possible.

    Parameters
    ----------
    module
        Importable module run as ``__main__`` (e.g. ``"mace.cli.run_train"``).
    args
        Its command-line arguments (``sys.argv[1:]``).
    cwd
        Working directory of the program.
    env
        Variables added to the caller's current environment (``os.environ``) for the program.
    preload
        Modules the server imports before forking, once per process: the first call that
        names one pays its import, every later child starts with it. A module that fails to
        import is skipped (the program imports what it needs itself).
    warm
        False: a plain ``subprocess.Popen`` of ``sys.executable -m module``.

    Returns
    -------
    ModuleProcess
        ``pid``, ``stdout`` (stdout and stderr together, text, line-buffered), ``poll()``,
        ``wait()``, ``kill()``; a context manager that closes the stream and waits.

    Raises
    ------
    OSError
        If the process cannot be started.
    """
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    if not (warm and warm_start_available()):
        return subprocess.Popen(  # the same program, cold
            [sys.executable, "-m", module, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=environment,
        )
    request = {
        "module": module,
        "args": list(args),
        "cwd": str(cwd),
        "env": environment,
        "sys_path": list(sys.path),
        "preload": list(preload),
    }
    read_fd, write_fd = os.pipe()
    try:
        reply = _SERVER.launch(request, write_fd)
    except OSError:  # no server (e.g. a request larger than a socket message): start cold
        os.close(read_fd)
        return start_module(module, args, cwd=cwd, env=env, warm=False)
    finally:
        os.close(write_fd)  # the child holds the only write end: EOF when it ends
    stream = io.TextIOWrapper(
        io.FileIO(read_fd, "r"), encoding="utf-8", errors="replace", line_buffering=True
    )
    try:
        return WarmProcess(reply, stream)
    except OSError:  # the server ended before it forked: start cold
        stream.close()
        reply.close()
        return start_module(module, args, cwd=cwd, env=env, warm=False)
