"""The full-rank delta (paper "Equitrain", §4.4): ω = ω0 + Δω, Δω = 0 at the start."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def check_delta_options(lora_rank: int | None) -> None:
    """Refuse LoRA's options for the full-rank delta.

    Parameters
    ----------
    lora_rank
        Must be None.

    Raises
    ------
    ValueError
        If a rank is given.
    """
    if lora_rank is not None:
        raise ValueError("The full-rank delta takes no lora_rank (it is LoRA's only).")


def wrap_delta(
    base: torch.nn.Module, *, lora_rank: int | None, lora_alpha: float | None
) -> torch.nn.Module:
    """Wrap equitrain's ``MaceWrapper`` in ``DeltaFineTuneWrapper``.

    One zero-initialised Δω per base parameter; the base parameters are frozen.

    Parameters
    ----------
    base
        equitrain ``MaceWrapper`` around the foundation.
    lora_rank, lora_alpha
        Not used (the delta is full rank); present so that every mode takes the same options.

    Returns
    -------
    torch.nn.Module
        The delta wrapper.
    """
    del lora_rank, lora_alpha
    from equitrain.finetune.delta_torch import DeltaFineTuneWrapper

    return DeltaFineTuneWrapper(base)
