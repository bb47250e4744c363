"""Tests of :mod:`mlip_finetune.data.frames` (paper §4.2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mlip_finetune.data.frames import (
    FrameSelectionError,
    is_validation_scale,
    progressive_training_subsets,
    select_energy_spaced_frames,
)
from mlip_finetune.schemas.data import TrainingFrame


@pytest.mark.parametrize(
    ("energies", "n_frames", "fraction", "expected"),
    [
        # targets 0, -3, -6, -9
        (np.arange(0.0, -10.5, -1.0), 4, 0.9, [0, 3, 6, 9]),
        ([0.0, -0.5, -3.5, -2.0, -6.1, -5.0, -9.5, -10.0], 4, 0.9, [0, 2, 4, 6]),
        # one step below several targets: the next frames take the following steps
        ([0.0, -9.5, -9.8, -9.9, -10.0], 4, 0.9, [0, 1, 2, 3]),
        # FIRE overshoot upwards is skipped
        # targets 0, -4.5, -9
        ([0.0, 0.3, -1.0, -5.0, -4.0, -9.5, -10.0], 3, 0.9, [0, 3, 5]),
        ([0.0, -1.0, -2.0], 2, 1.0, [0, 2]),
        ([0.0, -1.0, -2.0, -3.0, -4.0], 3, 0.5, [0, 1, 2]),
    ],
)
def test_select_energy_spaced_frames(energies, n_frames, fraction, expected):
    assert select_energy_spaced_frames(energies, n_frames, fraction) == expected


@pytest.mark.parametrize(
    ("energies", "match"),
    [
        ([0.0, -9.5, -10.0], "3 steps cannot give 4"),
        ([0.0, 0.5, 0.2, 0.1, -10.0], "only 2 distinct steps"),
        ([0.0, 0.1, 0.2, 0.05], "did not decrease"),
        ([1.0, 1.0, 1.0, 1.0], "did not decrease"),
    ],
)
def test_select_energy_spaced_frames_short_trajectories(energies, match):
    with pytest.raises(FrameSelectionError, match=match):
        select_energy_spaced_frames(energies, 4, 0.9)


@pytest.mark.parametrize(("n_frames", "fraction"), [(1, 0.9), (4, 0.0), (4, 1.5)])
def test_select_energy_spaced_frames_bad_arguments(n_frames, fraction):
    with pytest.raises(ValueError, match=r"n_frames|fraction") as info:
        select_energy_spaced_frames(np.arange(0.0, -10.0, -1.0), n_frames, fraction)
    assert not isinstance(info.value, FrameSelectionError)


def test_is_validation_scale():
    assert is_validation_scale(0.0)
    assert is_validation_scale(1e-12)
    assert not is_validation_scale(0.025)
    assert is_validation_scale(-0.05, validation_volume_scale=-0.05)


def test_progressive_training_subsets(si_primitive):
    frames = [
        TrainingFrame(
            structure=si_primitive,
            trajectory_index=trajectory,
            volume_scale=scale,
            frame_index=frame,
            relaxation_step=10 * frame,
            foundation_energy=-frame,
            split="validation" if scale == 0.0 else "train",
        )
        for (trajectory, scale), frame in itertools.product(enumerate([-0.05, 0.0, 0.05]), range(3))
    ]
    subsets = progressive_training_subsets(frames)
    assert [len(subset) for subset in subsets] == [2, 4, 6]
    assert {(f.trajectory_index, f.frame_index) for f in subsets[0]} == {(0, 0), (2, 0)}
    assert all(f.split == "train" for subset in subsets for f in subset)
    assert subsets[-1] == [f for f in frames if f.split == "train"]
    assert progressive_training_subsets([f for f in frames if f.split == "validation"]) == []
