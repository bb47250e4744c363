"""Phase sets of a model against a reference (paper Table 4)."""

from __future__ import annotations

import pytest

from mlip_finetune.evaluation.phase_transitions.compare import compare_phase_sets
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)
from tests.evaluation.phase_transitions.conftest import cscl


def _doc(keys, initial=(221, 2)):
    return PhaseTransitionDocument(
        label="hand-made",
        structure=cscl(),
        initial_space_group_symbol="Pm-3m",
        initial_space_group_number=initial[0],
        initial_n_primitive_atoms=initial[1],
        settings=PhaseTransitionSettings(),
        unstable_modes=[],
        scans=[],
        pathways=[],
        new_phases=[],
        phase_keys=keys,
        wall_time_s=0.0,
    )


def test_compare_phase_sets():
    reference = _doc([(99, 2), (160, 2), (225, 4)])
    model = _doc([(99, 2), (160, 2), (38, 8), (62, 8)])
    precision, recall, f1 = compare_phase_sets(reference, model)
    assert precision == pytest.approx(2 / 4)
    assert recall == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # Same space group, different primitive size: a different phase (SI 7.6).
    assert compare_phase_sets(_doc([(62, 8)]), _doc([(62, 4)])) == (0.0, 0.0, 0.0)
    assert compare_phase_sets(reference.model_dump(), reference.model_dump()) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="different phases"):
        compare_phase_sets(reference, _doc([], initial=(225, 2)))
