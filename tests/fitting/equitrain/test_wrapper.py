"""EquitrainMode and its registry; the foundation inside the wrapper (E0s, dtype, flags)."""

import pytest

from mlip_finetune.fitting.equitrain.wrapper import (
    MODES,
    EquitrainMode,
    build_finetune_wrapper,
    check_mode,
)


def test_every_mode_has_one_entry():
    assert set(MODES) == set(EquitrainMode)
    assert [m.value for m in EquitrainMode] == ["delta", "lora"]


def test_check_mode():
    assert check_mode("delta", None) is EquitrainMode.DELTA
    assert check_mode(EquitrainMode.LORA, 2) is EquitrainMode.LORA
    with pytest.raises(ValueError, match="Unknown equitrain mode 'freeze'; use 'delta' or 'lora'"):
        check_mode("freeze", None)
    with pytest.raises(ValueError, match="LoRA needs a rank"):
        check_mode("lora", None)
    with pytest.raises(ValueError, match="takes no lora_rank"):
        check_mode("delta", 4)


def test_wrapper_writes_e0s_and_dtype_and_keeps_the_base(random_mace_si):
    import mace  # noqa: F401
    import torch

    foundation = torch.load(random_mace_si, weights_only=False)
    before = {n: p.detach().clone() for n, p in foundation.named_parameters()}
    wrapper = build_finetune_wrapper(
        foundation, "delta", e0s={14: -5.0, 8: -1.0}, dtype="float32", compute_stress=False
    )
    model = wrapper.base_wrapper.model
    assert model is foundation  # modified in place
    assert model.atomic_energies_fn.atomic_energies.flatten().tolist() == [-5.0]
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    for name, value in model.named_parameters():
        assert torch.equal(value, before[name].to(torch.float32)), name
        assert not value.requires_grad
    assert wrapper.base_wrapper.compute_force
    assert not wrapper.base_wrapper.compute_stress


def test_wrapper_refuses_bad_modes_before_loading(tmp_path):
    with pytest.raises(ValueError, match="Unknown equitrain mode"):
        build_finetune_wrapper(tmp_path / "missing.model", "freeze")
    with pytest.raises(ValueError, match="LoRA needs a rank"):
        build_finetune_wrapper(tmp_path / "missing.model", EquitrainMode.LORA)
