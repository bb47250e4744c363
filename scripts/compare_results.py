# ruff: noqa: INP001, T201
"""Compare two ``mlip-finetune results --json`` (or report.json) outputs number by number.

Usage: ``python scripts/compare_results.py BEFORE.json AFTER.json [--tol 1e-8]``. Paths, plot
files, wall times and time stamps are skipped (they differ between any two runs); every other
number must agree within ``--tol`` (absolute, or relative for large values), every other
string and bool exactly. Exit code 1 lists the differences. Used for the redesign's
before/after check (behaviour unchanged).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

#: Field names that carry their unit since the redesign (issue 11): old name → new name.
RENAMED = {
    "energy_mae": "energy_mae_mev_per_atom",
    "energy_rmse": "energy_rmse_mev_per_atom",
    "force_mae": "force_mae_mev_per_angstrom",
    "force_rmse": "force_rmse_mev_per_angstrom",
    "stress_mae": "stress_mae_gpa",
    "stress_rmse": "stress_rmse_gpa",
    "mace_args": "train_args",
}

#: Keys whose values legitimately differ between two runs of the same code.
SKIP = re.compile(r"(path|plot|dir|wall_time|time_s|completed_at|_at$|uuid|seconds|store)")


def differences(a: object, b: object, where: str, tol: float) -> list[str]:
    """Return one line per difference between two JSON values."""
    if isinstance(a, dict) and isinstance(b, dict):
        a, b = ({RENAMED.get(k, k): v for k, v in d.items()} for d in (a, b))
        out = []
        for key in sorted(set(a) | set(b)):
            if SKIP.search(key):
                continue
            if key not in a or key not in b:
                out.append(f"{where}.{key}: only in {'after' if key in b else 'before'}")
                continue
            out += differences(a[key], b[key], f"{where}.{key}", tol)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{where}[{i}]", tol)
        ]
    return _scalar_difference(a, b, where, tol)


def _scalar_difference(a: object, b: object, where: str, tol: float) -> list[str]:
    """Numbers within ``tol``, anything else exactly."""
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    if not numbers:
        return [] if a == b else [f"{where}: {a!r} != {b!r}"]
    if (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(a), abs(b)):
        return []
    return [f"{where}: {a!r} != {b!r} (diff {abs(a - b):.3g})"]


def main() -> int:
    """Compare the two files given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--tol", type=float, default=1e-8)
    args = parser.parse_args()
    before, after = (json.loads(Path(p).read_text()) for p in (args.before, args.after))
    found = differences(before, after, "$", args.tol)
    for line in found:
        print(line)
    print(f"{len(found)} differences (tolerance {args.tol:g})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
