"""Time the Si end-to-end run stage by stage.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_si_end_to_end.py                 # run Si now, then report
    .venv/bin/python benchmarks/bench_si_end_to_end.py --store DIR     # report the last run in DIR

The run is ``mlip-finetune run examples/Si.cif --foundation-model standin`` (preset ``local``)
through the same Python API. ``run_locally`` executes jobs one after another, so a job's wall
time is the gap between its ``completed_at`` and the previous job's (the first stage reports
its own ``wall_time_s``). Stages are grouped by job name and printed with their share of the
total and their ratio to one DFT static (the baseline unit of cost measured in the same run).
The stand-in foundation's build time is reported separately (it is built once and cached).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = [
    ("training data (foundation relaxations)", r"^training data$"),
    ("DFT statics of the frames", r"^dft static \d+/\d+$"),
    ("fine-tuning", r"^finetune "),
    ("DFT relaxation", r"^dft relax$"),
    ("DFT phonon displacements", r"^dft phonon displacement \d+/\d+$"),
    ("ML phonons (all models)", r"^ml phonons "),
    ("bookkeeping (fan-out, report, assembly)", r".*"),
]


def run_si(store: Path, workdir: Path, preset: str) -> None:
    from jobflow import run_locally
    from pymatgen.core import Structure

    from mlip_finetune.flows.presets import material_flow_maker
    from mlip_finetune.standin import build_standin_foundation
    from mlip_finetune.store import local_store

    structure = Structure.from_file(ROOT / "examples" / "Si.cif")
    foundation = build_standin_foundation(structure)
    flow = material_flow_maker(preset, report_dir=str(workdir / "report")).make(
        structure, foundation, label="Si"
    )
    run_locally(flow, store=local_store(store), create_folders=True, root_dir=workdir, log=False)


def stage_times(store: Path) -> tuple[dict[str, list[float]], dict]:
    from mlip_finetune.store import local_store

    job_store = local_store(store)
    job_store.connect()
    report = job_store.query_one({"name": "material report"}, sort={"completed_at": -1})
    if report is None:
        raise SystemExit(f"no finished material report in {store}")
    flow_uuid = report["hosts"][-1]
    docs = list(job_store.query({"hosts": flow_uuid}, sort={"completed_at": 1}, load=True))
    job_store.close()
    times: dict[str, list[float]] = defaultdict(list)
    previous = None
    for doc in docs:
        done = datetime.fromisoformat(doc["completed_at"])
        if previous is None:
            seconds = float(doc["output"].get("wall_time_s", 0.0))
        else:
            seconds = (done - previous).total_seconds()
        previous = done
        stage = next(label for label, regex in STAGES if re.search(regex, doc["name"]))
        times[stage].append(seconds)
    return times, report["output"]


def standin_build_time() -> str:
    import json

    from mlip_finetune.settings import get_settings

    reports = sorted((get_settings().cache_dir / "standin").glob("*/standin.json"))
    if not reports:
        return "no cached stand-in"
    data = json.loads(reports[-1].read_text())
    return f"{data['build_time_s']:.0f} s ({data['n_structures']} CHGNet-labelled structures)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="analyse the last run in this store")
    parser.add_argument("--preset", default="local")
    parser.add_argument("--workdir", type=Path, default=Path("bench_runs"))
    args = parser.parse_args()
    store = args.store
    if store is None:
        workdir = args.workdir.resolve() / time.strftime("Si_%Y%m%d-%H%M%S")
        store = workdir / "store"
        run_si(store, workdir, args.preset)
    times, report = stage_times(store.resolve())
    total = sum(sum(v) for v in times.values())
    statics = times.get("DFT statics of the frames", [])
    per_static = sum(statics) / len(statics) if statics else float("nan")
    print(f"{'stage':42s} {'jobs':>5s} {'wall (s)':>10s} {'share':>7s} {'÷ DFT static':>13s}")
    for label, _ in STAGES:
        if label not in times:
            continue
        seconds = sum(times[label])
        print(
            f"{label:42s} {len(times[label]):5d} {seconds:10.1f} {seconds / total:7.1%}"
            f" {seconds / per_static:13.1f}"
        )
    print(f"{'total':42s} {'':5s} {total:10.1f}")
    print(f"one DFT static of the frames (baseline unit): {per_static:.1f} s")
    print(f"stand-in foundation build (cached, not in the total): {standin_build_time()}")
    for row in report["rows"]:
        print(
            f"{row['model_name']:45s} phonon MAE {row['phonon_mae_thz']:.3f} THz,"
            f" force MAE {row['force_mae_mev_per_angstrom']:.1f} meV/Å"
        )


if __name__ == "__main__":
    main()
