"""Low-rank LoRA: rank r on every radial-MLP matrix, base kept, E0s written."""

import math

import numpy as np
import pytest

from mlip_finetune.fitting.equitrain.lora import check_lora_options, wrap_lora
from tests.fitting.equitrain.conftest import checkpoint_state, foundation_parameters


def _adapted(parameters):
    """equitrain adapts every '*.weight' with >= 2 dimensions: in MACE the radial MLPs."""
    return {n: p.shape for n, p in parameters.items() if n.endswith("weight") and p.ndim >= 2}


def test_lora_needs_a_rank():
    check_lora_options(1)
    for rank in (None, 0, -1):
        with pytest.raises(ValueError, match="LoRA needs a rank >= 1"):
            check_lora_options(rank)


def test_wrap_lora_gives_every_adapted_matrix_the_rank(random_mace_si):
    import mace  # noqa: F401
    import torch
    from equitrain.backends.torch_wrappers import MaceWrapper

    from mlip_finetune.fitting.equitrain.wrapper import _WeightFlags

    model = torch.load(random_mace_si, weights_only=False)
    adapted = _adapted(dict(model.named_parameters()))
    wrapper = wrap_lora(MaceWrapper(_WeightFlags(1.0, 1.0), model), lora_rank=3, lora_alpha=None)
    lora = list(wrapper.lora_parameters())
    assert sum(p.numel() for p in lora) == sum(
        3 * (s[0] + math.prod(s[1:])) for s in adapted.values()
    )
    assert {id(p) for p in wrapper.parameters() if p.requires_grad} == {id(p) for p in lora}


def test_low_rank_lora(data, lora):
    import torch
    from mace.calculators import MACECalculator

    from mlip_finetune.fitting.e0s import model_e0s

    work_dir, result = lora
    state = checkpoint_state(work_dir)
    foundation = foundation_parameters(data["foundation"])
    for name, value in foundation.items():
        assert torch.equal(state[f"base_wrapper.model.{name}"], value), name
    # equitrain adapts every '*.weight' with >= 2 dimensions: in MACE the radial MLPs
    adapted = _adapted(foundation)
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
