"""Every strategy: the paper's defaults, mace's arguments, and real tiny trainings.

Multi-head and frozen transfer learning train a tiny random MACE for a few epochs; the
assertions check what must stay frozen stays bit-identical, that both heads trained, and
that the handed-on file is a plain single-head model.
"""

import numpy as np
import pytest
from ase.io import read, write

from mlip_finetune.fitting.mace_backend import build_mace_train_args
from mlip_finetune.fitting.replay import (
    ReplayFileError,
    prototype_structures,
    replay_structures,
    subsample_replay_file,
)
from mlip_finetune.fitting.strategies import (
    BACKENDS,
    FineTuneStrategy,
    MaceTrainSettings,
    default_settings,
)
from mlip_finetune.fitting.training import train_model
from tests.fitting.test_training import _labelled


def _torch_load(path):
    import mace  # noqa: F401
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.parametrize(
    ("strategy", "lr", "wd"),
    [
        ("transfer", 0.01, 5e-3),
        ("multihead", 0.01, 5e-7),
        ("lora_full", 0.01, 10.0),
        ("lora", 0.01, 10.0),
        ("freeze", 0.01, 5e-3),
        ("scratch", 0.01, 5e-7),
    ],
)
def test_paper_defaults(strategy, lr, wd):
    settings = default_settings(strategy)
    assert (settings.lr, settings.weight_decay) == (lr, wd)
    assert (settings.energy_weight, settings.forces_weight, settings.stress_weight) == (
        10.0,
        100.0,
        1000.0,
    )
    assert settings.huber_delta == 0.01
    assert settings.max_num_epochs == 200
    assert settings.scheduler == "ReduceLROnPlateau"


def test_every_strategy_has_a_backend():
    assert set(BACKENDS) == set(FineTuneStrategy)
    assert default_settings("multihead").n_replay == 100
    with pytest.raises(ValueError, match="not a valid FineTuneStrategy"):
        default_settings("lora_ful")


def _args(tmp_path, strategy, **kwargs):
    return build_mace_train_args(
        MaceTrainSettings(frozen_layers=5),
        strategy=FineTuneStrategy(strategy),
        name="m",
        train_file=tmp_path / "t.xyz",
        valid_file=tmp_path / "v.xyz",
        work_dir=tmp_path,
        device="cpu",
        **kwargs,
    )


def _value(args, key):
    return args[args.index(f"--{key}") + 1]


def test_mace_arguments_per_strategy(tmp_path):
    transfer = _args(tmp_path, "transfer", foundation_model="f.model")
    assert _value(transfer, "multiheads_finetuning") == "False"
    assert "--pt_train_file" not in transfer
    assert "--freeze" not in transfer
    multihead = _args(tmp_path, "multihead", foundation_model="f.model", replay_file="r.xyz")
    assert _value(multihead, "multiheads_finetuning") == "True"
    assert _value(multihead, "pt_train_file") == "r.xyz"
    # the paper's lr, not mace's silent 1e-4 (DESIGN.md traps)
    assert _value(multihead, "force_mh_ft_lr") == "True"
    freeze = _args(tmp_path, "freeze", foundation_model="f.model")
    assert _value(freeze, "freeze") == "5"
    with pytest.raises(ValueError, match="replay file"):
        _args(tmp_path, "multihead", foundation_model="f.model")
    with pytest.raises(ValueError, match="needs a foundation"):
        _args(tmp_path, "freeze")
    with pytest.raises(ValueError, match="does not implement"):
        _args(tmp_path, "lora_full", foundation_model="f.model")


def test_replay_structures_are_diverse_prototypes():
    assert len(prototype_structures(["Na", "Cl"])) == 5 * 2 + 3
    structures = replay_structures(["Na", "Cl"], n=26, seed=1)
    assert len(structures) == 26
    assert all(len(s) >= 4 for s in structures)
    assert {s.composition.chemical_system for s in structures} == {"Na", "Cl", "Cl-Na"}
    volumes = [s.volume / len(s) for s in structures]
    assert len(set(np.round(volumes, 6))) == 26


def test_user_replay_file_is_subsampled_and_checked(tmp_path):
    from ase.build import bulk
    from ase.calculators.emt import EMT

    frames = []
    for i in range(7):
        atoms = bulk("Cu", "fcc", a=3.6 + 0.01 * i, cubic=True)
        atoms.rattle(0.05, seed=i)
        atoms.calc = EMT()
        atoms.get_stress()
        frames.append(atoms)
    write(tmp_path / "mine.xyz", frames)  # energy/forces/stress as ASE calculator results
    out = subsample_replay_file(tmp_path / "mine.xyz", tmp_path / "replay.xyz", n=5, seed=3)
    chosen = read(out, index=":")
    assert len(chosen) == 5
    energies = {round(a.get_potential_energy(), 8) for a in frames}
    for atoms in chosen:
        assert round(atoms.info["REF_energy"], 8) in energies
        assert atoms.arrays["REF_forces"].shape == (4, 3)
        assert np.asarray(atoms.info["REF_stress"]).shape == (3, 3)
    write(tmp_path / "bare.xyz", [bulk("Cu")])
    with pytest.raises(ReplayFileError, match="lacks energy"):
        subsample_replay_file(tmp_path / "bare.xyz", tmp_path / "r2.xyz", n=1)
    with pytest.raises(ReplayFileError, match="does not exist"):
        subsample_replay_file(tmp_path / "nope.xyz", tmp_path / "r3.xyz", n=1)


def _force_mae(model_path, statics):
    from mlip_finetune.calculators import mace_calculator
    from mlip_finetune.evaluation.metrics import validation_metrics

    return validation_metrics(mace_calculator(model_path, device="cpu"), statics).force_mae


@pytest.fixture(scope="module")
def si_statics(random_mace_si):
    return _labelled(str(random_mace_si), 8)


@pytest.fixture(scope="module")
def multihead_outcome(tmp_path_factory, random_mace_si, si_statics):
    settings = default_settings("multihead").model_copy(
        update={"max_num_epochs": 6, "n_replay": 12, "batch_size": 2}
    )
    return train_model(
        "multihead",
        settings,
        train=si_statics[:6],
        valid=si_statics[6:],
        foundation_model_path=str(random_mace_si),
        work_dir=tmp_path_factory.mktemp("multihead"),
    )


def test_multihead_trains_two_heads_on_the_replay_file(multihead_outcome, random_mace_si):
    import torch

    outcome = multihead_outcome
    assert outcome.effective["multihead"] is True
    assert sorted(outcome.effective["heads"]) == ["Default", "pt_head"]
    assert outcome.effective["lr"] == 0.01  # not mace's forced 1e-4
    assert outcome.effective["loss"].startswith("UniversalLoss")
    assert outcome.replay is not None
    assert outcome.replay.n_structures == 12
    assert outcome.replay.source.startswith("built")
    # mace logged validation errors for both heads in every epoch
    heads = {(r.epoch, r.head) for r in outcome.result.epochs}
    assert heads == {(e, h) for e in range(6) for h in ("Default", "pt_head")}
    two_heads = _torch_load(outcome.result.model_path)
    assert sorted(two_heads.heads) == ["Default", "pt_head"]
    foundation = _torch_load(random_mace_si)
    # the shared backbone moved away from the foundation
    assert not torch.equal(
        two_heads.interactions[0].linear.weight, foundation.interactions[0].linear.weight
    )
    # the handed-on model is a plain single-head file with the material's head
    single = _torch_load(outcome.model_path)
    assert list(single.heads) == ["Default"]


def test_multihead_single_head_file_reproduces_the_default_head(multihead_outcome):
    from ase.build import bulk
    from mace.calculators import MACECalculator

    atoms = bulk("Si", "diamond", a=5.43)
    atoms.rattle(0.04, seed=7)
    outcome = multihead_outcome
    atoms.calc = MACECalculator(model_paths=outcome.result.model_path, device="cpu", head="Default")
    e_two, f_two = atoms.get_potential_energy(), atoms.get_forces()
    atoms.calc = MACECalculator(model_paths=outcome.model_path, device="cpu")
    assert atoms.get_potential_energy() == pytest.approx(e_two, abs=1e-8)
    np.testing.assert_allclose(atoms.get_forces(), f_two, atol=1e-8)


def test_multihead_beats_the_foundation_on_held_out_frames(
    multihead_outcome, random_mace_si, si_statics
):
    valid = multihead_outcome.valid_statics
    assert _force_mae(multihead_outcome.model_path, valid) < _force_mae(str(random_mace_si), valid)


def test_freeze_keeps_the_leading_layers_bit_identical(tmp_path, random_mace_si, si_statics):
    import torch

    settings = default_settings("freeze").model_copy(
        update={"max_num_epochs": 6, "frozen_layers": 1, "batch_size": 2}
    )
    outcome = train_model(
        "freeze",
        settings,
        train=si_statics[:6],
        valid=si_statics[6:],
        foundation_model_path=str(random_mace_si),
        work_dir=tmp_path,
    )
    assert outcome.effective["frozen"] == ["Freezing embedding weights"]
    assert outcome.effective["weight_decay"] == 5e-3
    trained = _torch_load(outcome.model_path)
    foundation = _torch_load(random_mace_si)
    for (name, new), (_, old) in zip(
        trained.node_embedding.named_parameters(),
        foundation.node_embedding.named_parameters(),
        strict=True,
    ):
        assert torch.equal(new, old), name
    assert not torch.equal(trained.readouts[0].linear.weight, foundation.readouts[0].linear.weight)
    valid = outcome.valid_statics
    assert _force_mae(outcome.model_path, valid) < _force_mae(str(random_mace_si), valid)


def test_multihead_from_a_single_element_foundation_saved_by_mace(tmp_path, random_mace_si):
    """mace stores one head's E0s as shape (1, n); with one element its multi-head mode
    crashed (0-d tensor). train_model hands mace a reshaped copy instead."""
    import torch

    model = _torch_load(random_mace_si)
    model.atomic_energies_fn.atomic_energies = model.atomic_energies_fn.atomic_energies.reshape(
        1, 1
    )
    foundation = tmp_path / "mace_saved.model"
    torch.save(model, foundation)
    statics = _labelled(str(foundation), 4)
    settings = default_settings("multihead").model_copy(
        update={"max_num_epochs": 2, "n_replay": 6, "batch_size": 2}
    )
    outcome = train_model(
        "multihead",
        settings,
        train=statics[:3],
        valid=statics[3:],
        foundation_model_path=str(foundation),
        work_dir=tmp_path / "run",
    )
    assert outcome.effective["multihead"] is True
    assert list(_torch_load(outcome.model_path).heads) == ["Default"]
