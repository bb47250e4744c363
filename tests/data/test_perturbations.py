"""Tests of :mod:`mlip_finetune.data.perturbations` (paper §4.2)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure

from mlip_finetune.data.perturbations import (
    D_MIN_FRACTION,
    RattleError,
    jitter_lattice,
    mc_rattle,
    scale_volume,
    strain_and_rattle,
)
from mlip_finetune.data.supercells import shortest_distance

A_SI = 5.468
D_NN_SI = A_SI * np.sqrt(3) / 4


def test_mc_rattle_amplitude_and_minimum_distance(si_cube64):
    rattled = mc_rattle(si_cube64, amplitude=0.1, seed=3)
    assert rattled.lattice == si_cube64.lattice
    assert [s.specie for s in rattled] == [s.specie for s in si_cube64]
    displacement = rattled.cart_coords - si_cube64.cart_coords
    displacement -= np.round(displacement @ np.linalg.inv(si_cube64.lattice.matrix)) @ (
        si_cube64.lattice.matrix
    )
    rms = np.sqrt(np.mean(np.sum(displacement**2, axis=1)))
    assert 0.05 < rms < 0.2
    assert shortest_distance(rattled) >= D_MIN_FRACTION * D_NN_SI
    assert shortest_distance(si_cube64) == pytest.approx(D_NN_SI)  # input untouched


def test_mc_rattle_respects_explicit_d_min(si_cube64):
    rattled = mc_rattle(si_cube64, amplitude=0.25, d_min=2.1, seed=5)
    assert shortest_distance(rattled) >= 2.1


def test_mc_rattle_is_seeded(si_cube64):
    first = mc_rattle(si_cube64, seed=11)
    np.testing.assert_array_equal(first.cart_coords, mc_rattle(si_cube64, seed=11).cart_coords)
    assert not np.allclose(first.cart_coords, mc_rattle(si_cube64, seed=12).cart_coords)


def test_mc_rattle_errors(si_primitive):
    with pytest.raises(ValueError, match="positive"):
        mc_rattle(si_primitive, amplitude=0.0)
    with pytest.raises(RattleError, match=r"d_min=3\.000"):
        mc_rattle(si_primitive, d_min=3.0, seed=1)


def test_jitter_lattice_bounds_over_many_seeds(si_primitive):
    reference = np.array([*si_primitive.lattice.abc, *si_primitive.lattice.angles])
    ratios = np.array(
        [
            np.array([*s.lattice.abc, *s.lattice.angles]) / reference
            for s in (jitter_lattice(si_primitive, 0.02, rng=seed) for seed in range(300))
        ]
    )
    assert ratios.min() >= 0.98 - 1e-12
    assert ratios.max() <= 1.02 + 1e-12
    # each parameter explores its whole range, independently of the others
    assert np.all(ratios.min(axis=0) < 0.982)
    assert np.all(ratios.max(axis=0) > 1.018)
    assert abs(np.corrcoef(ratios[:, 0], ratios[:, 1])[0, 1]) < 0.2


def test_jitter_lattice_keeps_fractional_coordinates(si_primitive):
    jittered = jitter_lattice(si_primitive, 0.02, rng=np.random.default_rng(7))
    np.testing.assert_allclose(jittered.frac_coords, si_primitive.frac_coords)
    assert jittered.lattice != si_primitive.lattice
    same = jitter_lattice(si_primitive, 0.0, rng=1)
    np.testing.assert_allclose(same.lattice.parameters, si_primitive.lattice.parameters)


def test_jitter_lattice_rejects_large_fraction(si_primitive):
    with pytest.raises(ValueError, match="max_fraction"):
        jitter_lattice(si_primitive, 0.5, rng=0)


@pytest.mark.parametrize("fraction", [-0.05, -0.025, 0.0, 0.025, 0.05])
def test_scale_volume(si_primitive, fraction):
    scaled = scale_volume(si_primitive, fraction)
    assert scaled.volume == pytest.approx(si_primitive.volume * (1 + fraction), rel=1e-12)
    np.testing.assert_allclose(scaled.lattice.angles, si_primitive.lattice.angles)
    np.testing.assert_allclose(scaled.frac_coords, si_primitive.frac_coords)
    lengths = np.array(scaled.lattice.abc) / np.array(si_primitive.lattice.abc)
    np.testing.assert_allclose(lengths, (1 + fraction) ** (1 / 3))


def test_scale_volume_rejects_collapse(si_primitive):
    with pytest.raises(ValueError, match="> -1"):
        scale_volume(si_primitive, -1.0)


def test_strain_and_rattle_is_seeded_and_bounded(si_primitive):
    first = strain_and_rattle(si_primitive, np.random.default_rng(4), 0.02, 0.05)
    again = strain_and_rattle(si_primitive, np.random.default_rng(4), 0.02, 0.05)
    np.testing.assert_array_equal(first.cart_coords, again.cart_coords)
    np.testing.assert_array_equal(first.lattice.matrix, again.lattice.matrix)
    assert isinstance(first, Structure)
    assert [s.specie for s in first] == [s.specie for s in si_primitive]
    # a symmetric strain of components <= 0.02 changes each length by at most ~2 × 2 %
    ratios = np.array(first.lattice.abc) / np.array(si_primitive.lattice.abc)
    assert np.all(np.abs(ratios - 1) < 0.05)
    assert not np.allclose(first.lattice.matrix, si_primitive.lattice.matrix)
    unchanged = strain_and_rattle(si_primitive, np.random.default_rng(4), 0.0, 0.0)
    np.testing.assert_allclose(unchanged.cart_coords, si_primitive.cart_coords, atol=1e-12)
