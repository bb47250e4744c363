"""run_training_process with a stand-in program: log, records, callbacks, divergence, failure.

The real mace trainings through run_mace_train are in tests/fitting/test_training.py.
"""

import json
import time
from pathlib import Path

import pytest

from mlip_finetune.fitting.errors import TrainingDivergedError, TrainingError
from mlip_finetune.fitting.mace.log import parse_epoch_line
from mlip_finetune.fitting.mace.run import (
    TrainingProcessRun,
    raise_if_failed,
    run_training_process,
)


def _epoch_line(epoch, loss):
    return (
        f"INFO: Epoch {epoch}: head: Default, loss={loss}, MAE_E_per_atom=  1.00 meV, "
        "MAE_F=  2.00 meV / A"
    )


PROGRAM = "tests.fitting.mace.program"


def _program(lines, *, sleep=0, exit_code=0, env=()):
    """Module and arguments of a program printing ``lines`` (and the values of ``env``), then
    sleeping ``sleep`` s and exiting with ``exit_code``."""
    spec = {"lines": list(lines), "sleep": sleep, "exit": exit_code, "env": list(env)}
    return PROGRAM, [json.dumps(spec)]


def test_records_log_tail_and_callbacks(tmp_path):
    lines = ["starting", _epoch_line(0, 0.5), "between", _epoch_line(1, 0.25), "done"]
    seen_lines, seen_epochs = [], []
    log_path = tmp_path / "train.log"
    run = run_training_process(
        *_program(lines),
        cwd=tmp_path,
        log_path=log_path,
        label="transfer",
        parse_line=parse_epoch_line,
        on_epoch=seen_epochs.append,
        on_line=seen_lines.append,
        env={"MLIP_FINETUNE_TEST": "1"},
    )
    assert isinstance(run, TrainingProcessRun)
    assert run.returncode == 0
    assert [(r.epoch, r.loss) for r in run.epochs] == [(0, 0.5), (1, 0.25)]
    assert seen_epochs == run.epochs
    assert [line.rstrip("\n") for line in seen_lines] == lines
    assert run.tail == lines
    assert log_path.read_text().splitlines() == lines
    assert run.wall_time_s > 0
    # append_log keeps the history of an earlier run; the tail holds the last 25 lines only
    many = [f"line {i}" for i in range(40)]
    again = run_training_process(
        *_program(many),
        cwd=tmp_path,
        log_path=log_path,
        label="transfer",
        parse_line=parse_epoch_line,
        append_log=True,
    )
    assert again.tail == many[-25:]
    assert log_path.read_text().splitlines() == lines + many


def test_environment_reaches_the_process(tmp_path):
    run = run_training_process(
        *_program([], env=["MLIP_FINETUNE_TEST", "PYTHONUNBUFFERED"]),
        cwd=tmp_path,
        log_path=tmp_path / "log",
        label="x",
        parse_line=parse_epoch_line,
        env={"MLIP_FINETUNE_TEST": "yes"},
    )
    assert run.tail == ["yes 1"]


def test_divergence_kills_the_process_at_once(tmp_path):
    started = time.perf_counter()
    with pytest.raises(
        TrainingDivergedError, match=r"Training 'transfer' diverged: .* nan at epoch 1\."
    ) as err:
        run_training_process(
            *_program([_epoch_line(0, 0.5), _epoch_line(1, "nan")], sleep=60),
            cwd=tmp_path,
            log_path=tmp_path / "train.log",
            label="transfer",
            parse_line=parse_epoch_line,
        )
    assert time.perf_counter() - started < 30  # killed, not waited for
    assert str(tmp_path / "train.log") in str(err.value)
    assert isinstance(err.value, TrainingError)


def test_a_failing_callback_kills_the_process(tmp_path):
    def refuse(_record):
        raise KeyboardInterrupt

    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_training_process(
            *_program([_epoch_line(0, 0.5)], sleep=60),
            cwd=tmp_path,
            log_path=tmp_path / "train.log",
            label="transfer",
            parse_line=parse_epoch_line,
            on_epoch=refuse,
        )
    assert time.perf_counter() - started < 30


def test_raise_if_failed(tmp_path):
    model = tmp_path / "m.model"
    failed = TrainingProcessRun(returncode=1, epochs=[], tail=["a", "b"], wall_time_s=1.0)
    with pytest.raises(TrainingError, match=r"exit code 1, model file missing\)\. .*\na\nb$"):
        raise_if_failed(failed, model, "mace training 'transfer'")
    model.write_text("")
    with pytest.raises(
        TrainingError, match=r"^mace training 'x' failed \(exit code 1, model file present"
    ):
        raise_if_failed(failed, model, "mace training 'x'")
    raise_if_failed(failed._replace(returncode=0), model, "mace training 'x'")
    with pytest.raises(TrainingError, match="model file missing"):
        raise_if_failed(failed._replace(returncode=0), Path(tmp_path / "none"), "x")
