"""Every strategy: the paper's defaults, mace's arguments, and real tiny trainings.

Multi-head and frozen transfer learning train a tiny random MACE for a few epochs; the
assertions check what must stay frozen stays bit-identical, that both heads trained, and
that the handed-on file is a plain single-head model.
"""

import numpy as np
import pytest

from mlip_finetune.fitting.mace_backend import build_mace_train_args
from mlip_finetune.fitting.strategies import (
    BACKENDS,
    FOUNDATION_ONLY_FIELDS,
    STRATEGIES,
    FineTuneStrategy,
    MaceTrainSettings,
    TrainingBackend,
    TrainSettings,
    default_settings,
    multihead_foundation,
)
from mlip_finetune.fitting.training import FROM_FOUNDATION, train_model
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


def test_one_spec_per_strategy_in_the_registry():
    assert set(STRATEGIES) == set(FineTuneStrategy)
    assert {s for s, spec in STRATEGIES.items() if spec.backend is TrainingBackend.EQUITRAIN} == {
        FineTuneStrategy.LORA_FULL,
        FineTuneStrategy.LORA,
    }
    assert dict(BACKENDS) == {s: spec.backend for s, spec in STRATEGIES.items()}
    assert BACKENDS[FineTuneStrategy.TRANSFER] == "mace"  # documents store the plain value
    assert set(FineTuneStrategy) - FROM_FOUNDATION == {FineTuneStrategy.SCRATCH}
    # only multihead needs a replay set, a foundation file mace reads and a head export
    assert {s for s, spec in STRATEGIES.items() if spec.export} == {FineTuneStrategy.MULTIHEAD}
    assert not STRATEGIES[FineTuneStrategy.MULTIHEAD].average_e0s
    assert STRATEGIES[FineTuneStrategy.SCRATCH].prepare is not None
    # the former name is the same model
    assert MaceTrainSettings is TrainSettings


def test_equitrain_options_name_the_wrapper_and_the_rank():
    settings = TrainSettings(lora_rank=8, lora_alpha=2.0)
    delta = STRATEGIES[FineTuneStrategy.LORA_FULL].backend_options(settings)
    lora = STRATEGIES[FineTuneStrategy.LORA].backend_options(settings)
    assert delta == {"mode": "delta", "lora_rank": None, "lora_alpha": None}
    assert lora == {"mode": "lora", "lora_rank": 8, "lora_alpha": 2.0}


def test_scratch_settings_fields_that_foundation_strategies_read():
    assert FOUNDATION_ONLY_FIELDS.issubset(TrainSettings.model_fields)
    assert "lr" not in FOUNDATION_ONLY_FIELDS


def test_multihead_foundation_file_is_reshaped_only_when_mace_needs_it(tmp_path, random_mace_si):
    import torch

    assert multihead_foundation(str(random_mace_si), tmp_path) == str(random_mace_si)
    model = _torch_load(random_mace_si)
    model.atomic_energies_fn.atomic_energies = model.atomic_energies_fn.atomic_energies.reshape(
        1, 1
    )
    saved = tmp_path / "mace_saved.model"
    torch.save(model, saved)
    reshaped = multihead_foundation(str(saved), tmp_path)
    assert reshaped == str(tmp_path / "foundation_for_multihead.model")
    buffer = _torch_load(reshaped).atomic_energies_fn.atomic_energies
    assert buffer.shape == (1,)
    assert float(buffer[0]) == pytest.approx(-5.4)


def _args(tmp_path, strategy, **kwargs):
    return build_mace_train_args(
        TrainSettings(frozen_layers=5),
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


def _force_mae(model_path, statics):
    from mlip_finetune.calculators import mace_calculator
    from mlip_finetune.evaluation.metrics import validation_metrics

    return validation_metrics(
        mace_calculator(model_path, device="cpu"), statics
    ).force_mae_mev_per_angstrom


@pytest.fixture(scope="module")
def si_statics(random_mace_si):
    return _labelled(str(random_mace_si), 8)


@pytest.fixture(scope="module")
def multihead_outcome(tmp_path_factory, random_mace_si, si_statics):
    settings = default_settings("multihead").model_copy(
        update={"max_num_epochs": 12, "n_replay": 12, "batch_size": 2}
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
    assert heads == {(e, h) for e in range(12) for h in ("Default", "pt_head")}
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
