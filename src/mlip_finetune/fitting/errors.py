"""Errors of the training backends (mace and equitrain)."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """A training process (mace or equitrain) failed."""


class TrainingDivergedError(TrainingError):
    """The loss became NaN or infinite."""
