"""The full-rank delta: base kept, one Δω per parameter, weight decay on Δω only."""

import pytest

from mlip_finetune.fitting.equitrain.delta import check_delta_options, wrap_delta
from mlip_finetune.fitting.equitrain.run import last_checkpoint
from mlip_finetune.fitting.equitrain.wrapper import build_finetune_wrapper
from tests.fitting.equitrain.conftest import (
    BIG_DECAY,
    checkpoint_state,
    delta_norm,
    foundation_parameters,
)


def test_delta_takes_no_rank():
    check_delta_options(None)
    with pytest.raises(ValueError, match="full-rank delta takes no lora_rank"):
        check_delta_options(2)


def test_wrap_delta_adds_one_zero_delta_per_base_parameter(random_mace_si):
    import mace  # noqa: F401
    import torch
    from equitrain.backends.torch_wrappers import MaceWrapper

    from mlip_finetune.fitting.equitrain.wrapper import _WeightFlags

    model = torch.load(random_mace_si, weights_only=False)
    n_base = len(list(model.parameters()))
    wrapper = wrap_delta(
        MaceWrapper(_WeightFlags(1.0, 1.0), model), lora_rank=None, lora_alpha=None
    )
    deltas = list(wrapper.delta_parameters())
    assert len(deltas) == n_base
    assert all(float(d.detach().abs().sum()) == 0.0 for d in deltas)
    assert {id(p) for p in wrapper.parameters() if p.requires_grad} == {id(d) for d in deltas}


def test_delta_keeps_the_foundation_and_trains_a_nonzero_delta(data, decayed):
    import torch

    work_dir, result = decayed
    state = checkpoint_state(work_dir)
    foundation = foundation_parameters(data["foundation"])
    for name, value in foundation.items():
        assert torch.equal(state[f"base_wrapper.model.{name}"], value), name
    deltas = {k: v for k, v in state.items() if k.startswith("_delta_params.")}
    assert len(deltas) == len(foundation)  # one Δω per base parameter
    assert delta_norm(state) > 0
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
    assert delta_norm(checkpoint_state(work_dir)) < 0.7 * delta_norm(checkpoint_state(free_dir))
