"""Benchmark: each fine-tuning strategy against mace's own ``mace_run_train`` command.

For one dataset (rattled Si supercells labelled by the foundation, then perturbed so there is
something to learn), every strategy is trained through :func:`mlip_finetune.fitting.training.
train_model` and the same mace command line is then run directly with ``mace_run_train``
(our exact arguments, read from the result) in a fresh directory. The ratio of wall times
per epoch is printed; the goal is ≤ 1 (no slower than mace's own command).

Baselines: mace strategies (transfer, multihead, freeze, scratch) run their own argument list;
equitrain strategies have no mace equivalent for the full-rank delta, so ``lora_full`` is
compared with mace's transfer learning and ``lora`` with mace's ``--lora True`` at the same
rank and α.

    .venv/bin/python benchmarks/bench_strategies.py                    # tiny random foundation
    .venv/bin/python benchmarks/bench_strategies.py --foundation PATH  # e.g. the stand-in
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def dataset(foundation: str, n: int, seed: int = 0) -> list:
    """Rattled 8-atom Si cells labelled by the foundation, forces ×1.2, energies shifted."""
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlip_finetune.calculators import mace_calculator
    from mlip_finetune.schemas.dft import StaticDocument
    from mlip_finetune.units import EV_PER_A3_TO_GPA

    calc = mace_calculator(foundation, device="cpu")
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        atoms = bulk("Si", "diamond", a=5.44 * (1 + rng.uniform(-0.02, 0.02)), cubic=True)
        atoms.rattle(0.05, seed=seed + i)
        atoms.calc = calc
        docs.append(
            StaticDocument(
                label=f"bench {i}",
                structure=AseAtomsAdaptor.get_structure(atoms),
                energy=float(atoms.get_potential_energy()) + 0.01 * i,
                forces=(atoms.get_forces() * 1.2).tolist(),
                stress=(atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA).tolist(),
                engine="bench",
                settings={},
                kpoints=[1, 1, 1],
                wall_time_s=0.0,
                converged=True,
            )
        )
    return docs


def mace_baseline_args(outcome: object, foundation: str) -> list[str]:
    """mace's own command for a strategy: our arguments, or mace's nearest equivalent."""
    from mlip_finetune.fitting.mace_backend import build_mace_train_args
    from mlip_finetune.fitting.strategies import FineTuneStrategy

    if outcome.backend == "mace":
        return list(outcome.result.args)
    work = Path(outcome.model_path).parent
    args = build_mace_train_args(
        outcome.settings,
        strategy=FineTuneStrategy.TRANSFER,
        name="baseline",
        train_file=work / "train.xyz",
        valid_file=work / "valid.xyz",
        work_dir=work,
        device="cpu",
        foundation_model=foundation,
    )
    if outcome.strategy is FineTuneStrategy.LORA:
        args += ["--lora", "True", "--lora_rank", str(outcome.settings.lora_rank)]
        args += ["--lora_alpha", str(outcome.settings.lora_alpha)]
    return args


def redirected_args(args: list[str], work_dir: Path) -> list[str]:
    """The same mace arguments with every output folder in ``work_dir``, starting afresh."""
    rewritten = list(args)
    for key in ("work_dir", "model_dir", "checkpoints_dir", "results_dir", "log_dir"):
        if f"--{key}" in rewritten:
            rewritten[rewritten.index(f"--{key}") + 1] = str(work_dir / key)
    if "--restart_latest" in rewritten:
        rewritten.remove("--restart_latest")
    return rewritten


def run_mace_command(args: list[str], work_dir: Path) -> float:
    """Run ``mace_run_train`` with ``args`` in ``work_dir``, with paths redirected there."""
    rewritten = redirected_args(args, work_dir)
    exe = Path(sys.executable).with_name("mace_run_train")
    start = time.perf_counter()
    subprocess.run([str(exe), *rewritten], cwd=work_dir, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--foundation", help="MACE model file (default: a tiny random MACE)")
    parser.add_argument(
        "--strategies",
        default="transfer,multihead,lora_full,lora,freeze,scratch",
        help="comma-separated strategies",
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--structures", type=int, default=12)
    cli = parser.parse_args()

    from mlip_finetune.fitting.strategies import default_settings
    from mlip_finetune.fitting.training import train_model

    tmp = Path(tempfile.mkdtemp(prefix="bench_strategies_"))
    foundation = cli.foundation
    if foundation is None:
        from tests.conftest import build_random_mace

        foundation = str(build_random_mace(tmp / "foundation.model", [14], [-5.4]))
    docs = dataset(foundation, cli.structures)
    n_valid = max(2, len(docs) // 5)
    for strategy in cli.strategies.split(","):
        settings = default_settings(strategy).model_copy(
            update={"max_num_epochs": cli.epochs, "n_replay": 20}
        )
        start = time.perf_counter()
        outcome = train_model(
            strategy,
            settings,
            train=docs[n_valid:],
            valid=docs[:n_valid],
            foundation_model_path=foundation,
            work_dir=tmp / strategy,
        )
        total = time.perf_counter() - start
        ours = outcome.result.wall_time_s  # the training process alone, like the baseline
        baseline_dir = tmp / f"{strategy}_mace"
        baseline_dir.mkdir()
        args = mace_baseline_args(outcome, foundation)
        theirs = run_mace_command(args, baseline_dir)
        print(
            f"{strategy:10s} ({outcome.backend:9s}) ours {ours / cli.epochs:6.2f} s/epoch   "
            f"mace_run_train {theirs / cli.epochs:6.2f} s/epoch   ratio {ours / theirs:5.2f}   "
            f"(with data preparation {total:.0f} s)",
            flush=True,
        )
    print("\nratio = our wall time / mace_run_train wall time (goal ≤ 1; includes start-up)")
    print(f"work dir: {tmp}")


if __name__ == "__main__":
    main()
