import pytest
from pydantic import ValidationError

from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings


def test_grid_points_must_be_odd_and_at_least_three():
    assert PhaseTransitionSettings(grid_points={1: 5, 2: 3}).grid_points == {1: 5, 2: 3}
    for bad in ({1: 4}, {1: 1}, {0: 5}):
        with pytest.raises(ValidationError, match="odd number"):
            PhaseTransitionSettings(grid_points=bad)
