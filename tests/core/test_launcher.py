"""Tests of :mod:`mlip_finetune.core.launcher`: a warm child behaves like ``python -m``.

The program is ``tests/fitting/mace/program.py``; real trainings through the launcher are in
tests/fitting (every mace and equitrain training of the suite starts from it).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from mlip_finetune.core.launcher import WarmProcess, start_module, warm_start_available

PROGRAM = "tests.fitting.mace.program"
#: The repository, where ``tests`` is importable from.
ROOT = Path(__file__).resolve().parents[2]


def _run(spec, *, warm=True, cwd, env=None):
    # a cold child finds modules as `python -m` does: through PYTHONPATH, not our sys.path
    env = {"PYTHONPATH": str(ROOT), **(env or {})}
    with start_module(PROGRAM, [json.dumps(spec)], cwd=cwd, env=env, warm=warm) as process:
        output = process.stdout.read()
        code = process.wait()
    return process, output, code


@pytest.mark.parametrize("warm", [True, False])
def test_the_child_is_the_program_as_python_dash_m_runs_it(tmp_path, monkeypatch, warm):
    """Same output, exit code, working directory and environment, warm or cold."""
    monkeypatch.setenv("MLIP_FINETUNE_LATE", "set after the server started")
    spec = {"lines": ["first", "second"], "env": ["MLIP_FINETUNE_LATE", "EXTRA"], "exit": 3}
    process, output, code = _run(spec, warm=warm, cwd=tmp_path, env={"EXTRA": "x"})
    assert code == 3
    assert output.splitlines() == ["first", "second", "set after the server started x"]
    assert isinstance(process, WarmProcess) == (warm and warm_start_available())


@pytest.mark.parametrize("warm", [True, False])
def test_argv_cwd_and_main(tmp_path, warm):
    _, output, code = _run({"probe": True}, warm=warm, cwd=tmp_path)
    name, cwd, argv = json.loads(output)
    assert code == 0
    assert name == "__main__"
    assert cwd == str(tmp_path)
    assert argv[0] == str(ROOT / "tests" / "fitting" / "mace" / "program.py")
    assert argv[1:] == [json.dumps({"probe": True})]


def test_a_preload_asked_for_later_is_imported_before_the_fork(tmp_path):
    """The server may already run (started by an earlier call without preloads): a call that
    names a module makes the server import it, and the child starts with it."""
    _run({"lines": ["warm-up"]}, cwd=tmp_path)
    spec = {"loaded": ["colorsys", "wave"]}
    with start_module(
        PROGRAM, [json.dumps(spec)], cwd=tmp_path, preload=["colorsys", "no_such_module_x"]
    ) as process:
        assert process.stdout.read() == "True False\n"
        assert process.wait() == 0


def test_a_request_too_large_for_the_server_starts_cold(tmp_path):
    """An environment larger than one socket message (about 200 kB here) cannot be sent to
    the server; the program still runs, as a plain subprocess, and sees it."""
    big = {f"BIG_{i}": str(i) * 100_000 for i in range(3)}  # exec takes 128 kB per string
    process, output, code = _run({"env": sorted(big)}, cwd=tmp_path, env=big)
    assert code == 0
    assert output == " ".join(big[name] for name in sorted(big)) + "\n"
    assert not isinstance(process, WarmProcess)


def test_the_program_ends_as_the_interpreter_ends(tmp_path):
    """atexit handlers run in the child (as at the end of ``python -m``), after its output."""
    source = "import atexit\natexit.register(print, 'at exit')\nprint('body')\n"
    module = tmp_path / "exits_politely.py"
    module.write_text(source)
    with start_module(
        "exits_politely", [], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}, warm=False
    ) as cold:
        expected = cold.stdout.read()
    sys.path.insert(0, str(tmp_path))
    try:
        with start_module("exits_politely", [], cwd=tmp_path) as warm:
            assert warm.stdout.read() == expected == "body\nat exit\n"
            assert warm.wait() == 0
    finally:
        sys.path.remove(str(tmp_path))


def test_an_error_in_the_program_is_a_traceback_and_exit_code_1(tmp_path):
    with start_module(PROGRAM, ["not json"], cwd=tmp_path) as process:
        output = process.stdout.read()
        assert process.wait() == 1
    assert "json.decoder.JSONDecodeError" in output
    assert "Traceback" in output


def test_kill_ends_a_running_child_with_minus_sigkill(tmp_path):
    spec = {"lines": ["running"], "sleep": 60}
    with start_module(PROGRAM, [json.dumps(spec)], cwd=tmp_path) as process:
        assert process.stdout.readline() == "running\n"
        assert process.poll() is None
        process.kill()
        assert process.wait() == -signal.SIGKILL
        assert process.stdout.read() == ""  # EOF: the child held the only write end
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def test_the_server_outlives_its_children_and_serves_several_at_once(tmp_path):
    """Two children run side by side; each gets its own output and exit code."""
    a = start_module(PROGRAM, [json.dumps({"lines": ["a"], "sleep": 1, "exit": 4})], cwd=tmp_path)
    b = start_module(PROGRAM, [json.dumps({"lines": ["b"], "exit": 5})], cwd=tmp_path)
    with a, b:
        assert b.stdout.read() == "b\n"
        assert b.wait() == 5
        assert a.stdout.read() == "a\n"
        assert a.wait() == 4
    assert a.pid != b.pid


def test_a_flow_script_without_a_main_guard_is_not_run_again(tmp_path, monkeypatch):
    """multiprocessing's forkserver would re-import the caller's ``__main__`` in the child;
    the launch server never does, so a user's unguarded script runs once."""
    marker = tmp_path / "ran"
    script = tmp_path / "user_script.py"
    script.write_text(
        "import json, pathlib\n"
        f"pathlib.Path({str(marker)!r}).open('a').write('x')\n"
        "from mlip_finetune.core.launcher import start_module\n"
        f"p = start_module({PROGRAM!r}, [json.dumps({{'lines': ['child']}})], cwd='.')\n"
        "print(p.stdout.read(), end='')\n"
        "raise SystemExit(p.wait())\n"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # tests.fitting.mace.program
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "child\n"
    assert marker.read_text() == "x"
