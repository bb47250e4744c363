"""Real (tiny) mace trainings through run_mace_train: divergence and failures are readable."""

import pytest
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.calculators import mace_calculator
from mlip_finetune.fitting.dataset import write_extxyz
from mlip_finetune.fitting.mace_backend import (
    TrainingDivergedError,
    TrainingError,
    build_mace_train_args,
    run_mace_train,
)
from mlip_finetune.fitting.strategies import FineTuneStrategy, default_settings
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA


def _labelled(model_path, n):
    calc = mace_calculator(model_path, device="cpu")
    docs = []
    for i in range(n):
        atoms = bulk("Si", "diamond", a=5.40 + 0.03 * i)
        atoms.rattle(0.05, seed=i)
        atoms.calc = calc
        docs.append(
            StaticDocument(
                label=str(i),
                structure=AseAtomsAdaptor.get_structure(atoms),
                energy=atoms.get_potential_energy() + 0.1 * i,
                forces=(atoms.get_forces() * 1.2).tolist(),
                stress=(atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA).tolist(),
                engine="test",
                settings={},
                kpoints=[1, 1, 1],
                wall_time_s=0.0,
                converged=True,
            )
        )
    return docs


def _args(tmp_path, foundation, **update):
    docs = _labelled(foundation, 6)
    settings = default_settings(FineTuneStrategy.TRANSFER).model_copy(update=update)
    return build_mace_train_args(
        settings,
        strategy=FineTuneStrategy.TRANSFER,
        name="t",
        train_file=write_extxyz(docs[:4], tmp_path / "train.xyz"),
        valid_file=write_extxyz(docs[4:], tmp_path / "valid.xyz"),
        work_dir=tmp_path,
        device="cpu",
        foundation_model=foundation,
    )


def test_transfer_training_runs_and_logs_epochs(tmp_path, random_mace_si):
    seen = []
    result = run_mace_train(
        _args(tmp_path, str(random_mace_si), max_num_epochs=3, E0s="{14: -5.4}"),
        tmp_path,
        label="transfer",
        on_epoch=seen.append,
    )
    assert [r.epoch for r in seen] == [0, 1, 2]
    assert result.epochs == seen
    assert result.multihead_active is False
    assert (tmp_path / "t.model").is_file()
    assert result.model_path == str((tmp_path / "t.model").resolve())


def test_nan_loss_stops_with_a_clear_error(tmp_path, random_mace_si):
    args = _args(tmp_path, str(random_mace_si), max_num_epochs=20, lr=1e12, E0s="{14: -5.4}")
    with pytest.raises(TrainingDivergedError, match=r"Training 'transfer' diverged: .* epoch"):
        run_mace_train(args, tmp_path, label="transfer")


def test_failed_training_quotes_the_log(tmp_path, random_mace_si):
    args = _args(tmp_path, str(random_mace_si), max_num_epochs=1, E0s="{14: -5.4}")
    args[args.index("--train_file") + 1] = str(tmp_path / "missing.xyz")
    with pytest.raises(TrainingError, match="failed") as err:
        run_mace_train(args, tmp_path, label="transfer")
    assert "missing.xyz" in str(err.value)


def test_scratch_training_copies_the_foundation_architecture(tmp_path, random_mace_si):
    import torch
    from mace.tools.scripts_utils import extract_config_mace_model

    from mlip_finetune.fitting.mace_backend import foundation_architecture

    architecture = foundation_architecture(random_mace_si)
    assert architecture["hidden_irreps"] == "8x0e+8x1o"
    assert architecture["model"] == "ScaleShiftMACE"
    assert float(architecture["r_max"]) == 4.5
    docs = _labelled(str(random_mace_si), 6)
    settings = default_settings(FineTuneStrategy.SCRATCH).model_copy(update={"max_num_epochs": 2})
    args = build_mace_train_args(
        settings,
        strategy=FineTuneStrategy.SCRATCH,
        name="s",
        train_file=write_extxyz(docs[:4], tmp_path / "train.xyz"),
        valid_file=write_extxyz(docs[4:], tmp_path / "valid.xyz"),
        work_dir=tmp_path,
        device="cpu",
        architecture=architecture,
    )
    assert "foundation_model" not in " ".join(args)
    result = run_mace_train(args, tmp_path, label="scratch")
    trained = torch.load(result.model_path, weights_only=False)
    foundation = torch.load(random_mace_si, weights_only=False)
    config = extract_config_mace_model(trained)
    assert str(config["hidden_irreps"]) == "8x0e+8x1o"
    assert config["r_max"] == 4.5
    assert config["num_interactions"] == 2
    # same shapes, independent (random) weights: not a copy of the foundation
    w_new = trained.node_embedding.linear.weight.detach()
    w_old = foundation.node_embedding.linear.weight.detach()
    assert w_new.shape == w_old.shape
    assert not torch.allclose(w_new, w_old)
