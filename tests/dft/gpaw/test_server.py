"""The GPAW server: one process (and one ``mpirun``) for all calculations of a process.

Real GPAW on a rattled Si2 cell at coarse settings (a second or two per calculation).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlip_finetune.dft.engines import DFTCalculationError
from mlip_finetune.dft.gpaw import server
from mlip_finetune.dft.gpaw.engine import run_gpaw_worker
from mlip_finetune.dft.settings import DFTSettings

pytestmark = pytest.mark.dft

#: Coarse and quick: 2x2x2 k-points for primitive Si.
COARSE = DFTSettings.test().model_copy(update={"kspacing": 1.0})


def _si(shift: float) -> Structure:
    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.468), ["Si"], [[0, 0, 0]])
    si = conv.get_primitive_structure()
    si.translate_sites([0], [shift, -0.02, 0.01], frac_coords=False)
    return si


def _alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.fixture(autouse=True)
def fresh_servers(monkeypatch):
    """Servers of this test only; the DFT cache off, so that GPAW runs."""
    monkeypatch.delenv("MLIP_FINETUNE_DFT_CACHE_DIR", raising=False)
    monkeypatch.delenv("MLIP_FINETUNE_GPAW_SERVER", raising=False)
    server.stop_servers()
    yield
    server.stop_servers()


def test_calculations_share_one_server_and_match_the_one_shot_worker(tmp_path, monkeypatch):
    first = run_gpaw_worker(_si(0.03), COARSE, tmp_path / "a")
    (one,) = server._SERVERS.values()
    pid, control = one.process.pid, one.control
    second = run_gpaw_worker(_si(0.05), COARSE, tmp_path / "b")
    assert [s.process.pid for s in server._SERVERS.values()] == [pid]  # the same server
    assert second.energy != first.energy
    assert "Converged" in (tmp_path / "b" / "gpaw.txt").read_text()

    monkeypatch.setenv("MLIP_FINETUNE_GPAW_SERVER", "false")
    one_shot = run_gpaw_worker(_si(0.03), COARSE, tmp_path / "one_shot")
    assert one_shot.energy == first.energy  # bit for bit
    np.testing.assert_array_equal(one_shot.forces, first.forces)
    np.testing.assert_array_equal(one_shot.stress, first.stress)

    server.stop_servers()
    assert not control.exists()
    assert not _alive(pid)


def test_a_raising_rank_ends_the_server_and_the_next_calculation_gets_a_new_one(tmp_path):
    run_gpaw_worker(_si(0.03), COARSE, tmp_path / "good")
    (one,) = server._SERVERS.values()
    broken = Structure(Lattice.cubic(5.468), ["Si", "Si"], [[0, 0, 0], [0, 0, 0.001]])
    with pytest.raises(DFTCalculationError, match="worker exited with code") as raised:
        run_gpaw_worker(broken, COARSE, tmp_path / "broken")
    assert "Atoms are too close" in str(raised.value).splitlines()[0]  # GPAW's own error
    assert server._SERVERS == {}
    assert not one.control.exists()
    again = run_gpaw_worker(_si(0.03), COARSE, tmp_path / "again")
    (other,) = server._SERVERS.values()
    assert other.process.pid != one.process.pid
    assert np.isfinite(again.energy)


def test_an_unconverged_scf_keeps_the_server(tmp_path):
    with pytest.raises(DFTCalculationError, match="SCF did not converge"):
        run_gpaw_worker(
            _si(0.03), COARSE.model_copy(update={"max_scf_iterations": 2}), tmp_path / "short"
        )
    (one,) = server._SERVERS.values()
    run_gpaw_worker(_si(0.03), COARSE, tmp_path / "full")
    assert [s.process.pid for s in server._SERVERS.values()] == [one.process.pid]


CLIENT = """
import os, signal, sys
from pathlib import Path
from tests.dft.gpaw.test_server import COARSE, _si
from mlip_finetune.dft.gpaw import server
from mlip_finetune.dft.gpaw.engine import run_gpaw_worker
run_gpaw_worker(_si(0.03), COARSE.model_copy(update={"mpi_ranks": 1}), Path(sys.argv[1]))
(one,) = server._SERVERS.values()
print(one.process.pid, one.control, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_server_ends_with_its_client(tmp_path):
    """A client killed by SIGKILL runs no exit handler; its server notices and ends."""
    client = subprocess.run(
        [sys.executable, "-c", CLIENT, str(tmp_path / "calc")],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "MLIP_FINETUNE_DFT_CACHE_DIR"},
    )
    assert client.returncode == -signal.SIGKILL, client.stderr[-2000:]
    pid, control = client.stdout.split()
    deadline = time.monotonic() + 10
    while _alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(pid))
    assert not Path(control).exists()


def test_a_server_that_cannot_start_says_why(tmp_path, monkeypatch):
    def broken(mpi_ranks):
        return [sys.executable, "-c", "raise ImportError('no GPAW in this environment')"]

    monkeypatch.setattr("mlip_finetune.dft.gpaw.engine.launch_prefix", broken)
    with pytest.raises(DFTCalculationError) as raised:
        run_gpaw_worker(_si(0.03), COARSE, tmp_path / "calc")
    first_line = str(raised.value).splitlines()[0]
    assert first_line.endswith(
        "worker exited with code 1 and wrote no gpaw_out.json: "
        "ImportError: no GPAW in this environment"
    )
    assert server._SERVERS == {}
