"""PropertySettings: one protocol for every property Maker, and its build-time check."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlip_finetune.evaluation.eos import DEFAULT_FMAX, DEFAULT_VOLUME_STRAINS
from mlip_finetune.evaluation.property_settings import PropertySettings, check_property_grid
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings


def test_property_settings_defaults_ml_and_dft():
    ml = PropertySettings()
    assert (ml.fmax, ml.max_steps, ml.phase_transitions) == (DEFAULT_FMAX, 2000, True)
    assert ml.volume_strains == DEFAULT_VOLUME_STRAINS
    assert ml.min_length == 20.0
    assert ml.search_settings == PhaseTransitionSettings()
    dft = PropertySettings.dft()
    assert (dft.max_steps, dft.phase_transitions, dft.search_settings) == (200, False, None)
    assert PropertySettings.dft(max_steps=30, fmax=0.005).model_dump() == {
        **dft.model_dump(),
        "max_steps": 30,
        "fmax": 0.005,
    }
    assert PropertySettings.model_validate(ml.model_dump()) == ml
    with pytest.raises(ValidationError):
        PropertySettings(mesh=50.0)  # a typo or an unknown field is an error


def test_check_property_grid():
    check_property_grid(DEFAULT_VOLUME_STRAINS, 1e-3, 10)
    with pytest.raises(ValueError, match="at least 5 distinct"):
        check_property_grid((-0.01, 0.0, 0.01), 1e-3, 10)
    with pytest.raises(ValueError, match="distinct"):
        check_property_grid((0.0,) * 6, 1e-3, 10)
    with pytest.raises(ValueError, match="> -1"):
        check_property_grid((-1.0, -0.5, 0.0, 0.5, 1.0), 1e-3, 10)
    with pytest.raises(ValueError, match="positive"):
        check_property_grid(DEFAULT_VOLUME_STRAINS, 0.0, 10)
