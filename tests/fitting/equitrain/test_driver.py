"""The subprocess program: its export reproduces the wrapper; it stops at a non-finite value."""

import numpy as np
import pytest
from ase.build import bulk

from mlip_finetune.fitting.equitrain.driver import _stop_on_non_finite
from mlip_finetune.fitting.equitrain.parse import DIVERGED_MARKER
from mlip_finetune.fitting.equitrain.run import last_checkpoint
from mlip_finetune.fitting.equitrain.wrapper import build_finetune_wrapper


def test_stop_on_non_finite(capsys):
    import torch

    finite = {"energy": torch.zeros(2), "forces": torch.ones(3, 3), "stress": None}
    _stop_on_non_finite(None, None, finite)
    _stop_on_non_finite(None, None, "not a dict")
    assert capsys.readouterr().out == ""
    with pytest.raises(FloatingPointError, match="non-finite forces"):
        _stop_on_non_finite(None, None, finite | {"forces": torch.tensor([1.0, float("inf")])})
    assert capsys.readouterr().out == f"{DIVERGED_MARKER}: forces\n"


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
