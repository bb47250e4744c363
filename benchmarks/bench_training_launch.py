"""Benchmark: a training started warm (forked from the launch server) against a cold one.

Every fine-tuning, stand-in and surrogate training runs mace's ``run_train`` (or the equitrain
driver) in a process of its own. Cold, that process imports torch, e3nn, mace and scipy
first; warm (:mod:`mlip_finetune.core.launcher`), it is forked from a server that imported
them once. This runs the same short mace transfer training (a tiny random foundation, 8-atom
Si cells, ``--epochs`` epochs) ``--repeats`` times each way, alternating, in one process,
and prints the wall time of each and the ratio warm / cold of the medians. The first warm
run of a process also pays the server's imports; it is printed apart.

    .venv/bin/python benchmarks/bench_training_launch.py [--repeats 3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _train(args: list[str], work_dir: Path, *, warm: bool) -> float:
    from benchmarks.bench_strategies import redirected_args
    from mlip_finetune.fitting.mace.log import parse_epoch_line
    from mlip_finetune.fitting.mace.run import run_training_process

    work_dir.mkdir(parents=True)
    start = time.perf_counter()
    run = run_training_process(
        "mace.cli.run_train",
        redirected_args(args, work_dir),
        cwd=work_dir,
        log_path=work_dir / "train.log",
        label="bench",
        parse_line=parse_epoch_line,
        warm=warm,
    )
    if run.returncode != 0:
        raise SystemExit("training failed:\n" + "\n".join(run.tail))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    cli = parser.parse_args()

    from benchmarks.bench_strategies import dataset
    from mlip_finetune.fitting.strategies import default_settings
    from mlip_finetune.fitting.training import train_model
    from tests.conftest import build_random_mace

    tmp = Path(tempfile.mkdtemp(prefix="bench_training_launch_"))
    foundation = str(build_random_mace(tmp / "foundation.model", [14], [-5.4]))
    docs = dataset(foundation, 10)
    settings = default_settings("transfer").model_copy(update={"max_num_epochs": cli.epochs})
    first_start = time.perf_counter()
    outcome = train_model(  # writes the data files and gives mace's argument list
        "transfer",
        settings,
        train=docs[2:],
        valid=docs[:2],
        foundation_model_path=foundation,
        work_dir=tmp / "first",
    )
    first = time.perf_counter() - first_start
    args = list(outcome.result.args)
    warm, cold = [], []
    for i in range(cli.repeats):
        cold.append(_train(args, tmp / f"cold{i}", warm=False))
        warm.append(_train(args, tmp / f"warm{i}", warm=True))
        print(f"repeat {i + 1}: cold {cold[-1]:6.2f} s   warm {warm[-1]:6.2f} s", flush=True)
    ratio = statistics.median(warm) / statistics.median(cold)
    print(
        f"\n{cli.epochs}-epoch mace transfer training, median of {cli.repeats}: cold "
        f"{statistics.median(cold):.2f} s, warm {statistics.median(warm):.2f} s, "
        f"ratio warm/cold {ratio:.2f}\n(first training of the process, with the server's "
        f"imports and the data files: {first:.1f} s)\nwork dir: {tmp}"
    )


if __name__ == "__main__":
    main()
