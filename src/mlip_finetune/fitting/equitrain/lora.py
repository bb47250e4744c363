"""Low-rank LoRA (§4.4 variant): ΔW = (α/r)·B·A on every adapted weight matrix.

equitrain adapts only parameters named ``*.weight`` with two or more dimensions
(``finetune/lora_torch.py`` line 35, ``_is_lora_param``): in MACE the radial MLPs
(``interactions.*.conv_tp_weights.layer*.weight``). Its rank is set per matrix by a fraction
of min(d_out, d_in) and a floor ``min_rank``; a fixed rank r is asked for as ``min_rank=r``
with a vanishing fraction, so every adapted matrix gets exactly rank r (even where
r > min(d_out, d_in)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: equitrain's LoRA rank = max(min_rank, ceil(fraction·min(d_out, d_in))): with this fraction
#: the ceiling is 1 and min_rank alone sets the rank.
LORA_RANK_FRACTION = 1e-9


def check_lora_options(lora_rank: int | None) -> None:
    """Require a LoRA rank of at least 1.

    Parameters
    ----------
    lora_rank
        Rank r of every adapted matrix.

    Raises
    ------
    ValueError
        If the rank is missing or below 1.
    """
    if lora_rank is None or lora_rank < 1:
        raise ValueError(f"LoRA needs a rank >= 1, got lora_rank={lora_rank!r}.")


def wrap_lora(
    base: torch.nn.Module, *, lora_rank: int | None, lora_alpha: float | None
) -> torch.nn.Module:
    """Wrap equitrain's ``MaceWrapper`` in ``LoRAFineTuneWrapper`` of a fixed rank.

    B = 0 and A ~ N(0, 1/d_in) at the start; the base parameters are frozen.

    Parameters
    ----------
    base
        equitrain ``MaceWrapper`` around the foundation.
    lora_rank
        Rank r of every adapted matrix (equitrain's ``min_rank``), checked by
        :func:`check_lora_options`.
    lora_alpha
        Scaling α of the update (None: scale 1).

    Returns
    -------
    torch.nn.Module
        The LoRA wrapper.
    """
    from equitrain.finetune.lora_torch import LoRAFineTuneWrapper

    return LoRAFineTuneWrapper(
        base, rank_fraction=LORA_RANK_FRACTION, min_rank=int(lora_rank), alpha=lora_alpha
    )
