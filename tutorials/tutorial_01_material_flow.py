"""Tutorial 1: compose the per-material Flow in Python and run it locally.

This is what ``mlip-finetune run`` does, written out stage by stage so each Maker can be
configured (or replaced) on its own. Run it as a script::

    .venv/bin/python tutorials/tutorial_01_material_flow.py examples/Si.cif --foundation standin

The test suite runs :func:`main` on a 2-atom Si cell with a tiny foundation model so this
tutorial never rots (``tests/flows/test_material_flow.py``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jobflow import run_locally
from pymatgen.core import Structure

from mlip_finetune.data.jobs import TrainingDataMaker
from mlip_finetune.data.utils import SupercellProtocol
from mlip_finetune.dft.jobs import RelaxMaker, StaticMaker
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.jobs import MLPhononMaker
from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.fitting.strategies import FineTuneStrategy, default_settings
from mlip_finetune.flows.material import MaterialFlowMaker
from mlip_finetune.foundation import STANDIN, FoundationModel, resolve_foundation_model
from mlip_finetune.store import local_store


def build_flow_maker(*, tiny: bool = False) -> MaterialFlowMaker:
    """Compose the stages. ``tiny`` shrinks everything for the test suite."""
    # 1. Training data (paper §4.2): supercells, MC rattle, ±2 % lattice jitter,
    #    volumes -5 … +5 %, FIRE relaxation with the foundation, 4 frames per trajectory
    #    (tiny: three volumes of two frames, 6 DFT statics instead of 20).
    data_maker = TrainingDataMaker(
        protocol=SupercellProtocol.PRIMITIVE if tiny else SupercellProtocol.SMALL,
        fmax=1e-2 if tiny else 1e-4,
        max_steps=200 if tiny else 1000,
        **({"volume_scales": (-0.05, 0.0, 0.05), "n_frames": 2} if tiny else {}),
    )
    # 2. Reference DFT statics: one settings object for training data AND reference phonons.
    dft = DFTSettings.test() if tiny else DFTSettings.local()
    # 3. Fine-tuning: one FineTuneMaker per strategy, each with the paper's hyper-parameters
    #    (fewer epochs here): the paper's four. "multihead" replays structures labelled by
    #    the foundation on a second head (pass replay_file= to use your own), "lora_full" is
    #    the paper's Equitrain (base frozen, weight decay on the additive update only),
    #    "scratch" trains the foundation's architecture from random weights on the same data.
    update = {"max_num_epochs": 15 if tiny else 100, "n_replay": 20 if tiny else 100}
    finetune_makers = [
        FineTuneMaker(
            strategy=strategy,
            hyperparameters=default_settings(strategy).model_copy(update=update),
        )
        for strategy in (
            FineTuneStrategy.TRANSFER,
            FineTuneStrategy.MULTIHEAD,
            FineTuneStrategy.LORA_FULL,
            FineTuneStrategy.SCRATCH,
        )
    ]
    # 4. Evaluation: phonons of every model and of DFT on the same supercell and q-mesh.
    return MaterialFlowMaker(
        training_data_maker=data_maker,
        static_maker=StaticMaker(settings=dft),
        finetune_makers=finetune_makers,
        relax_maker=RelaxMaker(settings=dft, fmax=1e-2 if tiny else 1e-3),
        ml_phonon_maker=MLPhononMaker(fmax=1e-2 if tiny else 1e-3),
        phonon_min_length=5.0,
        phonon_mesh=8.0 if tiny else 15.0,
    )


def main(
    structure: Structure,
    foundation: FoundationModel,
    workdir: Path,
    *,
    tiny: bool = False,
) -> dict:
    """Build the flow, run it with ``run_locally`` and read the report back from the store."""
    flow = build_flow_maker(tiny=tiny).make(structure, foundation, label="tutorial")
    print(f"{len(flow.jobs)} jobs:", ", ".join(j.name for j in flow.jobs))
    store = local_store(workdir / "store")
    run_locally(flow, store=store, create_folders=True, root_dir=workdir, ensure_success=True)

    # Every job's document is in the store; query the final report like any other.
    store.connect()
    report = store.query_one({"name": "material report"}, sort={"completed_at": -1}, load=True)
    for row in report["output"]["rows"]:
        print(
            f"{row['model_name']:40s} force MAE {row['force_mae_mev_per_angstrom']:7.1f} meV/Å"
            f"  phonon MAE {row['phonon_mae_thz']:.3f} THz"
        )
    return report["output"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structure", type=Path)
    parser.add_argument("--foundation", default="medium-0b3", help="name, path or 'standin'")
    parser.add_argument("--workdir", type=Path, default=Path("tutorial_run"))
    cli = parser.parse_args()
    material = Structure.from_file(cli.structure)
    if cli.foundation == STANDIN:
        from mlip_finetune.standin import build_standin_foundation

        model = build_standin_foundation(material)
    else:
        model = resolve_foundation_model(cli.foundation)
    main(material, model, cli.workdir.resolve())
