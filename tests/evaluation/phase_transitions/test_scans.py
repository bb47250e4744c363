"""Grid scans of mode subspaces and their local minima."""

from __future__ import annotations

import numpy as np
import pytest

from mlip_finetune.evaluation.phase_transitions.scans import grid_local_minima, scan_mode_subspace
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
from tests.evaluation.phase_transitions.conftest import cscl


def test_grid_local_minima():
    x = np.linspace(-1, 1, 21)
    well = -(x**2) + x**4  # minima at ±1/√2
    minima = grid_local_minima(well)
    assert sorted(x[list(m)][0] for m in minima) == pytest.approx([-0.7, 0.7])
    assert grid_local_minima(x**2) == []  # single (harmonic) minimum: origin excluded
    xx, yy = np.meshgrid(x, x, indexing="ij")
    assert len(grid_local_minima(xx**4 - xx**2 + yy**4 - yy**2)) == 4
    assert grid_local_minima(-(x**2)) == [(0,), (20,)]  # edges still fall outwards


def test_energy_function_batches_and_validates():
    structure = cscl()
    calls = []

    def energies(structures):
        calls.append(len(structures))
        return [0.0] * len(structures)

    patterns = np.zeros((2, 2, 3))
    patterns[0, 1, 2] = patterns[1, 1, 0] = 1.0
    amplitudes, grid = scan_mode_subspace(
        structure, patterns, energies, n_points=5, max_amplitude=0.2, batch_size=10
    )
    assert amplitudes.tolist() == pytest.approx([-0.2, -0.1, 0.0, 0.1, 0.2])
    assert grid.shape == (5, 5)
    assert calls == [10, 10, 5]
    with pytest.raises(ValueError, match="odd"):
        scan_mode_subspace(structure, patterns, energies, n_points=4, max_amplitude=0.2)
    with pytest.raises(ValueError, match="returned 0 energies"):
        scan_mode_subspace(structure, patterns, lambda _: [], n_points=3, max_amplitude=0.2)
    with pytest.raises(ValueError, match="odd number"):
        PhaseTransitionSettings(grid_points={1: 20})
