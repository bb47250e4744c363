"""Benchmark: GPAW statics in the per-process server against a new ``mpirun`` per static.

:mod:`mlip_finetune.dft.gpaw.server` keeps one GPAW worker alive under one ``mpirun`` for
all calculations of a process; with ``MLIP_FINETUNE_GPAW_SERVER=false`` every static starts
``mpirun``, Python and GPAW's imports again. This runs the same rattled-Si statics (the
``test`` preset's settings, 2 MPI ranks, ``--cells`` different rattles) ``--repeats`` times
each way, alternating, in one process, with the DFT cache off, and prints the median wall
time per static each way and the ratio server / one-shot. The server's first static also
pays its start-up; it is printed apart.

    .venv/bin/python benchmarks/bench_gpaw_server.py [--repeats 3] [--cells 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _si(shift: float):
    from pymatgen.core import Lattice, Structure

    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.468), ["Si"], [[0, 0, 0]])
    si = conv.get_primitive_structure()
    si.translate_sites([0], [shift, -0.02, 0.01], frac_coords=False)
    return si


def _statics(cells: list, work_dir: Path, *, server: bool) -> list[float]:
    from mlip_finetune.dft.gpaw.engine import run_gpaw_worker
    from mlip_finetune.dft.settings import DFTSettings

    os.environ["MLIP_FINETUNE_GPAW_SERVER"] = "true" if server else "false"
    settings = DFTSettings.test()
    times = []
    for i, cell in enumerate(cells):
        start = time.perf_counter()
        run_gpaw_worker(cell, settings, work_dir / f"{i}")
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cells", type=int, default=2)
    cli = parser.parse_args()

    os.environ.pop("MLIP_FINETUNE_DFT_CACHE_DIR", None)
    tmp = Path(tempfile.mkdtemp(prefix="bench_gpaw_server_"))
    cells = [_si(0.02 + 0.01 * i) for i in range(cli.cells)]
    first = _statics(cells[:1], tmp / "first", server=True)[0]
    one_shot, served = [], []
    for repeat in range(cli.repeats):
        one_shot += _statics(cells, tmp / f"one_shot{repeat}", server=False)
        served += _statics(cells, tmp / f"server{repeat}", server=True)
    cold, warm = statistics.median(one_shot), statistics.median(served)
    print(f"first static of the server (its start-up included): {first:.2f} s")
    print(f"one-shot worker per static: median {cold:.2f} s of {len(one_shot)}")
    print(f"server: median {warm:.2f} s of {len(served)}")
    print(f"ratio server / one-shot: {warm / cold:.2f}")


if __name__ == "__main__":
    main()
