"""Submit one fine-tuning flow per material to a cluster through jobflow-remote.

    .venv/bin/python workflows/submit_materials.py examples/Si.cif my/*.cif \
        --project mlipft --foundation medium-0b3 --preset paper --strategies transfer,lora \
        --dft-engine vasp --properties

The foundation model is resolved and hashed once, here (compute nodes are often offline),
and read by path on the workers: it must sit on a filesystem they share. Every job goes to
the worker of its kind (its tag, ``mlip_finetune.remote.job_kind``): DFT to the CPU worker,
training data, fine-tuning and ML phonons to the GPU worker, the rest to the small worker,
as set in the project's ``metadata.mlip_finetune`` (``workflows/jfremote_project_slurm.yaml``).

Then start the runner (``jf -p mlipft runner start``), follow the stages with
``mlip-finetune status -p mlipft`` and read the comparison tables with
``mlip-finetune results -p mlipft``. A failed job keeps its finished siblings; after
fixing the cause, ``mlip-finetune rerun -p mlipft`` runs only what failed.

``--dft-engine vasp`` runs every DFT job with VASP through atomate2 at the paper's settings;
``--properties`` adds the EOS, elastic tensor, Slack κ (and, with the ``paper`` preset, the
phase-transition search) of every model and of DFT. ``--dry-run`` prints the routing without
contacting the queue database.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pymatgen.core import Structure

from mlip_finetune.flows.presets import material_flow_maker
from mlip_finetune.foundation import resolve_foundation_model
from mlip_finetune.remote import (
    load_project,
    routed_jobs,
    routing_for_project,
    submit_material,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structures", nargs="+", type=Path)
    parser.add_argument("--project", default=None, help="jobflow-remote project name")
    parser.add_argument("--foundation", default="medium-0b3", help="mace-mp name or file")
    parser.add_argument("--preset", default="paper", choices=["paper", "local", "test"])
    parser.add_argument("--strategies", default="transfer")
    parser.add_argument("--device", default="auto", help="torch device on the GPU worker")
    parser.add_argument("--priority", type=int, default=0)
    parser.add_argument("--dft-engine", default="gpaw", choices=["gpaw", "vasp"])
    parser.add_argument("--properties", action="store_true", help="EOS, elastic, Slack, phases")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    project = load_project(args.project)
    routing = routing_for_project(project)
    foundation = resolve_foundation_model(args.foundation)
    strategies = tuple(s.strip() for s in args.strategies.split(",") if s.strip())
    options = {"dft_engine": args.dft_engine, "properties": args.properties}
    print(
        f"project {project.name}: dft -> {routing.dft}, gpu -> {routing.gpu}, "
        f"light -> {routing.light}; foundation {foundation.display_name} ({foundation.path})"
    )
    for path in args.structures:
        structure = Structure.from_file(path)
        maker = material_flow_maker(
            args.preset, strategies=strategies, device=args.device, **options
        )
        flow = maker.make(structure, foundation, label=path.stem)
        if args.dry_run:
            for name, kind, worker in routed_jobs(flow, routing):
                print(f"  {path.stem}: {name:<28} {kind.value:<6} {worker}")
            continue
        submission = submit_material(
            flow,
            foundation,
            label=path.stem,
            preset=args.preset,
            strategies=strategies,
            options=options,
            project=project.name,
            routing=routing,
            priority=args.priority,
        )
        print(
            f"{path.stem}: flow {submission.flow_uuid}, {len(submission.db_ids)} jobs "
            f"(queue ids {submission.db_ids[0]}-{submission.db_ids[-1]})"
        )


if __name__ == "__main__":
    main()
