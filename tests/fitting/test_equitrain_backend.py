"""Real (tiny) equitrain delta and LoRA fine-tunings of a random MACE through the backend."""

import math

import numpy as np
import pytest
from ase.build import bulk

from mlip_finetune.fitting.dataset import write_extxyz
from mlip_finetune.fitting.equitrain_backend import (
    DIVERGED_MARKER,
    EquitrainEpochParser,
    build_finetune_wrapper,
    last_checkpoint,
    run_equitrain_finetune,
)
from mlip_finetune.fitting.mace_backend import TrainingDivergedError
from mlip_finetune.fitting.strategies import MaceTrainSettings
from tests.fitting.test_training import _labelled

E0S = {14: -5.4}

# Huge decay, chosen so that lr·wd = 0.5: AdamW then halves Δω at every step.
BIG_DECAY = 1000.0


def _settings(**update):
    base = {"lr": 5e-4, "weight_decay": BIG_DECAY, "max_num_epochs": 4, "batch_size": 2}
    return MaceTrainSettings(**(base | update))


@pytest.fixture(scope="module")
def data(tmp_path_factory, random_mace_si):
    path = tmp_path_factory.mktemp("equitrain_data")
    docs = _labelled(str(random_mace_si), 6)
    return {
        "foundation": random_mace_si,
        "train": write_extxyz(docs[:4], path / "train.xyz"),
        "valid": write_extxyz(docs[4:], path / "valid.xyz"),
        "valid_docs": docs[4:],
    }


def _finetune(data, work_dir, mode="delta", settings=None, **kwargs):
    return run_equitrain_finetune(
        mode,
        settings or _settings(),
        name="ft",
        train_file=data["train"],
        valid_file=data["valid"],
        foundation_model=data["foundation"],
        work_dir=work_dir,
        device="cpu",
        e0s=kwargs.pop("e0s", E0S),
        **kwargs,
    )


@pytest.fixture(scope="module")
def decayed(data, tmp_path_factory):
    """Full-rank delta with a huge weight decay, 4 epochs in one go."""
    work_dir = tmp_path_factory.mktemp("delta_decayed")
    return work_dir, _finetune(data, work_dir)


@pytest.fixture(scope="module")
def resumed(data, tmp_path_factory):
    """Full-rank delta without weight decay: 2 epochs, then the same call with 4 epochs."""
    work_dir = tmp_path_factory.mktemp("delta_free")
    first = _finetune(data, work_dir, settings=_settings(weight_decay=0.0, max_num_epochs=2))
    checkpoint_epoch = last_checkpoint(work_dir / "equitrain_checkpoints")[1]
    # a kill while equitrain saved epoch 3 would leave a folder without args.json
    (work_dir / "equitrain_checkpoints" / "best_val_epochs@3_e@0.001").mkdir()
    second = _finetune(data, work_dir, settings=_settings(weight_decay=0.0, max_num_epochs=4))
    return work_dir, first, checkpoint_epoch, second


@pytest.fixture(scope="module")
def lora(data, tmp_path_factory):
    """Rank-2 LoRA, α = 4, with E0s other than the foundation's."""
    work_dir = tmp_path_factory.mktemp("lora")
    settings = _settings(weight_decay=10.0, max_num_epochs=2)
    result = _finetune(
        data, work_dir, "lora", settings, lora_rank=2, lora_alpha=4.0, e0s={14: -5.3}, label="lora"
    )
    return work_dir, result


def _checkpoint_state(work_dir):
    from safetensors.torch import load_file

    path, _ = last_checkpoint(work_dir / "equitrain_checkpoints")
    return load_file(path / "model.safetensors")


def _foundation_parameters(path):
    import mace  # noqa: F401
    import torch

    return dict(torch.load(path, weights_only=False).named_parameters())


def _delta_norm(state):
    return math.sqrt(sum(float((v**2).sum()) for k, v in state.items() if k.startswith("_delta")))


def test_delta_keeps_the_foundation_and_trains_a_nonzero_delta(data, decayed):
    import torch

    work_dir, result = decayed
    state = _checkpoint_state(work_dir)
    foundation = _foundation_parameters(data["foundation"])
    for name, value in foundation.items():
        assert torch.equal(state[f"base_wrapper.model.{name}"], value), name
    deltas = {k: v for k, v in state.items() if k.startswith("_delta_params.")}
    assert len(deltas) == len(foundation)  # one Δω per base parameter
    assert _delta_norm(state) > 0
    assert [r.epoch for r in result.epochs] == [0, 1, 2, 3, 4]  # 0 = before training
    assert result.multihead_active is False
    assert "--load-last-checkpoint" not in result.args


def test_weight_decay_acts_on_the_delta_only(data, decayed, resumed):
    import torch
    from equitrain import get_args_parser_train
    from equitrain.backends.torch_optimizer import create_optimizer

    work_dir, result = decayed
    # the optimizer equitrain builds from exactly these arguments
    args = get_args_parser_train().parse_args(result.args)
    wrapper = build_finetune_wrapper(data["foundation"], "delta")
    optimizer = create_optimizer(args, wrapper)
    deltas = {id(p) for p in wrapper.delta_parameters()}
    bases = {id(p) for p in wrapper.base_wrapper.parameters()}
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_optimizer == deltas
    assert not in_optimizer & bases
    decayed_groups = [g for g in optimizer.param_groups if g["weight_decay"] > 0]
    assert [g["weight_decay"] for g in decayed_groups] == [BIG_DECAY]
    # and the optimizer state equitrain saved with the checkpoint
    path, _ = last_checkpoint(work_dir / "equitrain_checkpoints")
    saved = torch.load(path / "optimizer.bin", weights_only=False)["param_groups"]
    assert sum(len(g["params"]) for g in saved) == len(deltas)
    assert {g["weight_decay"] for g in saved if g["params"]} == {BIG_DECAY}
    # behaviour: the decay keeps Δω small (same seed, same 4 epochs, only the decay differs)
    free_dir = resumed[0]
    assert _delta_norm(_checkpoint_state(work_dir)) < 0.7 * _delta_norm(_checkpoint_state(free_dir))


def test_exported_model_reproduces_the_wrapper(data, decayed):
    import mace  # noqa: F401
    from equitrain.backends.torch_checkpoint import load_model_state
    from equitrain.calculators.torch_wrapper import TorchWrapperPredictor
    from mace.calculators import MACECalculator

    work_dir, result = decayed
    wrapper = build_finetune_wrapper(data["foundation"], "delta", compute_stress=False)
    path, _ = last_checkpoint(work_dir / "equitrain_checkpoints")
    load_model_state(wrapper, path / "model.safetensors")
    atoms = bulk("Si", "diamond", a=5.46) * (2, 1, 1)
    atoms.rattle(0.04, seed=99)  # not in the training or validation data
    predictor = TorchWrapperPredictor(model=wrapper, model_wrapper="mace", require_forces=True)
    (energy,), (forces,) = predictor.predict([atoms], require_forces=True)
    atoms.calc = MACECalculator(model_paths=result.model_path, device="cpu")
    assert abs(atoms.get_potential_energy() - energy) < 1e-6
    np.testing.assert_allclose(atoms.get_forces(), forces, atol=1e-6, rtol=0)
    # and it is not the foundation
    atoms.calc = MACECalculator(model_paths=str(data["foundation"]), device="cpu")
    assert abs(atoms.get_potential_energy() - energy) > 1e-3


def test_finetuning_lowers_the_validation_force_error(data, decayed):
    import mace  # noqa: F401
    from mace.calculators import MACECalculator

    def force_mae(model_path):
        calc = MACECalculator(model_paths=str(model_path), device="cpu")
        errors = []
        for doc in data["valid_docs"]:
            atoms = doc.structure.to_ase_atoms()
            atoms.calc = calc
            errors.append(np.abs(atoms.get_forces() - np.asarray(doc.forces)).ravel())
        return 1000 * float(np.mean(np.concatenate(errors)))

    _, result = decayed
    foundation, finetuned = force_mae(data["foundation"]), force_mae(result.model_path)
    assert finetuned < 0.8 * foundation
    # the backend's epoch-0 record is the foundation, evaluated by equitrain (meV/Å, 0.01 res.)
    assert result.epochs[0].force_mae == pytest.approx(foundation, abs=0.02)


def test_low_rank_lora(data, lora):
    import torch
    from mace.calculators import MACECalculator

    from mlip_finetune.fitting.e0s import model_e0s

    work_dir, result = lora
    state = _checkpoint_state(work_dir)
    foundation = _foundation_parameters(data["foundation"])
    for name, value in foundation.items():
        assert torch.equal(state[f"base_wrapper.model.{name}"], value), name
    # equitrain adapts every '*.weight' with >= 2 dimensions: in MACE the radial MLPs
    adapted = {n: p.shape for n, p in foundation.items() if n.endswith("weight") and p.ndim >= 2}
    assert adapted
    assert all(".conv_tp_weights.layer" in n for n in adapted)
    expected = sum(2 * (s[0] + math.prod(s[1:])) for s in adapted.values())
    lora_state = {k: v for k, v in state.items() if k.startswith("_lora_")}
    assert sum(v.numel() for v in lora_state.values()) == expected
    log = (work_dir / "equitrain_train.log").read_text()
    assert f"Number of params           : {expected}" in log
    assert any(k.startswith("_lora_b_params.") and v.abs().sum() > 0 for k, v in lora_state.items())
    assert model_e0s(result.model_path) == {14: pytest.approx(-5.3)}
    atoms = data["valid_docs"][0].structure.to_ase_atoms()
    atoms.calc = MACECalculator(model_paths=result.model_path, device="cpu")
    assert np.isfinite(atoms.get_forces()).all()


def test_nan_loss_stops_with_the_label_and_epoch(data, tmp_path):
    with pytest.raises(TrainingDivergedError, match=r"Training 'lora_full' diverged: .* epoch 1\."):
        _finetune(data, tmp_path, settings=_settings(lr=1e12, max_num_epochs=3))
    assert DIVERGED_MARKER in (tmp_path / "equitrain_train.log").read_text()
    assert not (tmp_path / "ft.model").exists()


def test_restart_resumes_from_the_last_checkpoint(resumed):
    work_dir, first, checkpoint_epoch, second = resumed
    assert [r.epoch for r in first.epochs] == [0, 1, 2]
    assert checkpoint_epoch == 2
    # evaluation of the restored checkpoint, then epochs 3 and 4 only
    assert [r.epoch for r in second.epochs] == [2, 3, 4]
    assert second.epochs[0] == first.epochs[-1]
    assert "--load-last-checkpoint" in second.args
    assert second.args[second.args.index("--epochs") + 1] == "2"
    log = (work_dir / "equitrain_train.log").read_text()
    assert "resuming from best_val_epochs@2_" in log
    kept = [p.name for p in (work_dir / "equitrain_checkpoints").glob("best_val_epochs@*")]
    assert len(kept) == 1
    assert kept[0].startswith("best_val_epochs@4_")  # monotone here: each epoch improved


def test_parser_units_and_divergence_marker():
    parser = EquitrainEpochParser(first_epoch=0)
    assert parser(f"{DIVERGED_MARKER}: energy").epoch == 0
    parser = EquitrainEpochParser(first_epoch=0)
    assert parser("... - Epoch [   1] --   val [huber]: 0.01308, energy: 0.00058") is None
    record = parser(
        "... - Epoch [   1] --   val [mae]  : 3.07883, energy: 0.06098, forces: 0.00635, "
        "stress: 0.00183"
    )
    assert (record.epoch, record.loss) == (1, 0.01308)
    assert (record.energy_mae, record.force_mae) == (pytest.approx(60.98), pytest.approx(6.35))
    assert record.stress_mae == pytest.approx(1.83)
    assert parser("... - Epoch [   2] -- train [mae]  : 1.0, energy: 0.1, forces: 0.1") is None
    assert math.isnan(parser(f"{DIVERGED_MARKER}: forces").loss)
    assert parser(f"{DIVERGED_MARKER}: forces").epoch == 2


def test_bad_input_is_refused_early(data, tmp_path):
    with pytest.raises(FileNotFoundError, match="Foundation model file not found"):
        run_equitrain_finetune(
            "delta",
            _settings(),
            name="x",
            train_file=data["train"],
            valid_file=data["valid"],
            foundation_model=tmp_path / "missing.model",
            work_dir=tmp_path,
            device="cpu",
            e0s=E0S,
        )
    with pytest.raises(ValueError, match="Unknown equitrain mode"):
        _finetune(data, tmp_path, mode="freeze")
    with pytest.raises(ValueError, match="LoRA needs a rank"):
        _finetune(data, tmp_path, mode="lora")
    with pytest.raises(ValueError, match="Huber loss only"):
        _finetune(data, tmp_path, settings=_settings(loss="weighted"))
    assert not (tmp_path / "equitrain_train.log").exists()
