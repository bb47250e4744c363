"""Fine-tune one model per material for several structures, all results in one store.

    .venv/bin/python workflows/finetune_materials.py examples/Si.cif my/*.cif \
        --foundation medium-0b3 --preset local --strategies transfer --store runs/store

Builds one :class:`~mlip_finetune.flows.material.MaterialFlowMaker` Flow per structure (the
foundation model is resolved and hashed once, on this machine) and runs them one after another
with ``jobflow.run_locally``. The same Flows can be submitted to a cluster with jobflow-remote
(``jobflow_remote.submit_flow``); routing DFT jobs to CPU workers and training to GPU workers
is the subject of a later workflow here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jobflow import Flow, run_locally
from pymatgen.core import Structure

from mlip_finetune.flows.presets import RunPreset, material_flow_maker
from mlip_finetune.foundation import STANDIN, resolve_foundation_model
from mlip_finetune.store import local_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structures", nargs="+", type=Path)
    parser.add_argument("--foundation", default="medium-0b3", help="name, path or 'standin'")
    parser.add_argument(
        "--preset", default=RunPreset.LOCAL.value, choices=[p.value for p in RunPreset]
    )
    parser.add_argument("--strategies", default="transfer")
    parser.add_argument("--store", type=Path, default=Path("runs/store"))
    parser.add_argument("--workdir", type=Path, default=Path("runs"))
    args = parser.parse_args()

    flows = []
    for path in args.structures:
        structure = Structure.from_file(path)
        if args.foundation == STANDIN:
            from mlip_finetune.standin import build_standin_foundation

            foundation = build_standin_foundation(structure)
        else:
            foundation = resolve_foundation_model(args.foundation)
        maker = material_flow_maker(
            args.preset,
            strategies=tuple(args.strategies.split(",")),
            report_dir=str((args.workdir / path.stem / "report").resolve()),
        )
        flows.append(maker.make(structure, foundation, label=path.stem))
        print(f"{path.stem}: {len(flows[-1].jobs)} jobs")

    run_locally(
        Flow(flows, name="finetune materials"),
        store=local_store(args.store),
        create_folders=True,
        root_dir=args.workdir,
    )
    print(f"done; inspect with: mlip-finetune results --store {args.store}")


if __name__ == "__main__":
    main()
