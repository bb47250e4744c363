"""Selection of training frames from relaxation trajectories, splits and subsets (§4.2).

Energies in eV.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence


class FrameSelectionError(ValueError):
    """A relaxation trajectory cannot provide the requested energy-spaced frames."""


def select_energy_spaced_frames(
    energies: Sequence[float] | np.ndarray,
    n_frames: int = 4,
    fraction: float = 0.9,
) -> list[int]:
    """Pick trajectory steps equally spaced in energy (paper §4.2).

    Targets are ``E_k = E_0 + k / (n_frames - 1) * fraction * (E_end - E_0)`` for
    ``k = 0 .. n_frames - 1``, with ``E_0`` the first and ``E_end`` the last energy ("four
    configurations equally spaced in energy from the starting structure until 90 % of
    convergence"). Frame ``k`` is the first step after frame ``k - 1`` whose energy is at or
    below ``E_k``; FIRE energies are not monotone, hence "first". Frame 0 is always step 0.
    Because ``E_end <= E_k`` for every target, the last step always qualifies, so a
    selection fails only when the trajectory is too short to give distinct steps.

    Parameters
    ----------
    energies
        Energy of every step (eV), shape (n_steps + 1,).
    n_frames
        Number of frames to select, at least 2.
    fraction
        Fraction of the total energy drop spanned by the targets, in (0, 1].

    Returns
    -------
    list of int
        Strictly increasing step indices, ``n_frames`` of them, the first being 0.

    Raises
    ------
    ValueError
        If ``n_frames < 2`` or ``fraction`` is outside (0, 1].
    FrameSelectionError
        If the energy did not decrease along the trajectory, or fewer than ``n_frames``
        distinct steps meet the targets (e.g. a relaxation converged in fewer steps).
    """
    if n_frames < 2:  # noqa: PLR2004  (two points define the energy spacing)
        raise ValueError(f"n_frames must be at least 2, got {n_frames}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    energies = np.asarray(energies, dtype=float)
    if energies.ndim != 1 or energies.size < n_frames:
        raise FrameSelectionError(
            f"a trajectory of {energies.size} steps cannot give {n_frames} distinct frames"
        )
    e_start, e_end = energies[0], energies[-1]
    if not e_end < e_start:
        raise FrameSelectionError(
            f"energy did not decrease along the trajectory ({e_start:.6f} → {e_end:.6f} eV)"
        )
    targets = e_start + np.arange(n_frames) / (n_frames - 1) * fraction * (e_end - e_start)
    selected = [0]
    for k, target in enumerate(targets[1:], start=1):
        later = np.flatnonzero(energies[selected[-1] + 1 :] <= target)
        if later.size == 0:
            raise FrameSelectionError(
                f"only {k} distinct steps of a {energies.size}-step trajectory reach the "
                f"energy targets; {n_frames} frames were requested"
            )
        selected.append(selected[-1] + 1 + int(later[0]))
    return selected


def is_validation_scale(volume_scale: float, validation_volume_scale: float = 0.0) -> bool:
    """Whether a trajectory of this volume scale is validation data (paper §4.2).

    Parameters
    ----------
    volume_scale
        Volume scaling of the trajectory, as a fraction.
    validation_volume_scale
        Volume scaling whose trajectory is held out (0 % in the paper).

    Returns
    -------
    bool
        ``True`` when the two agree to 1e-9.
    """
    return math.isclose(volume_scale, validation_volume_scale, abs_tol=1e-9)


class _HasFrameIndex(Protocol):
    frame_index: int
    split: str


FrameT = TypeVar("FrameT", bound=_HasFrameIndex)


def progressive_training_subsets(frames: Sequence[FrameT]) -> list[list[FrameT]]:
    """Grow the training set from the outermost frames inwards (paper §4.2, last sentences).

    Subset ``k`` holds every training frame with ``frame_index <= k``: subset 0 the starting
    (most distorted) structure of each training trajectory, the last subset all of them.
    Validation frames never appear.

    Parameters
    ----------
    frames
        Frames with ``frame_index`` and ``split`` attributes, e.g.
        :class:`mlip_finetune.schemas.data.TrainingFrame`.

    Returns
    -------
    list of list
        ``max(frame_index) + 1`` subsets, each in the order of ``frames``; empty if there is
        no training frame.
    """
    train = [frame for frame in frames if frame.split == "train"]
    if not train:
        return []
    n_subsets = max(frame.frame_index for frame in train) + 1
    return [[frame for frame in train if frame.frame_index <= k] for k in range(n_subsets)]
