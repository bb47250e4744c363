"""The GPAW worker process: its imports and its command line (no DFT)."""

from __future__ import annotations

import subprocess
import sys

from mlip_finetune.dft.gpaw import worker
from mlip_finetune.dft.gpaw.engine import WORKER_MODULE, worker_command


def test_worker_imports_neither_jobflow_nor_pymatgen():
    """Every MPI rank starts the worker: it must not pay for jobflow or pymatgen."""
    code = (
        "import sys, runpy; sys.argv = ['worker']; "
        f"runpy.run_module({WORKER_MODULE!r}, run_name='not_main'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'jobflow', 'pymatgen'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_worker_command_runs_this_module():
    assert worker_command(1)[1:3] == ["-m", worker.__name__]


def test_usage_error(capsys):
    assert worker.main(["worker"]) == 2
    assert "usage: python -m mlip_finetune.dft.gpaw.worker" in capsys.readouterr().err
