"""The foundation MACE inside equitrain's fine-tuning wrappers, one :class:`EquitrainMode` each.

equitrain's delta and LoRA wrappers exist only in its Python API (DESIGN.md, known traps);
:func:`build_finetune_wrapper` is what the driver (:mod:`mlip_finetune.fitting.equitrain.driver`)
hands to ``equitrain.train`` instead of a model file.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from mlip_finetune.fitting.equitrain.delta import check_delta_options, wrap_delta
from mlip_finetune.fitting.equitrain.lora import check_lora_options, wrap_lora

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import torch


class EquitrainMode(StrEnum):
    """How the foundation's weights are updated: ω = ω0 + Δω with ω0 frozen."""

    #: Full-rank Δω, one per base parameter (paper "Equitrain", §4.4).
    DELTA = "delta"
    #: Low-rank ΔW = (α/r)·B·A on the radial-MLP matrices.
    LORA = "lora"


class EquitrainModeSpec(NamedTuple):
    """What one mode needs: a check of its options and the wrapper it builds."""

    check: Callable[[int | None], None]
    wrap: Callable[..., torch.nn.Module]


#: The one registry of equitrain modes.
MODES: dict[EquitrainMode, EquitrainModeSpec] = {
    EquitrainMode.DELTA: EquitrainModeSpec(check_delta_options, wrap_delta),
    EquitrainMode.LORA: EquitrainModeSpec(check_lora_options, wrap_lora),
}


def check_mode(mode: str, lora_rank: int | None) -> EquitrainMode:
    """Check a mode and its options before anything runs.

    Parameters
    ----------
    mode
        ``"delta"`` or ``"lora"`` (or the :class:`EquitrainMode`).
    lora_rank
        LoRA's rank: required for ``"lora"``, refused for ``"delta"``.

    Returns
    -------
    EquitrainMode
        The mode.

    Raises
    ------
    ValueError
        For an unknown mode, a LoRA without rank or a rank with the delta.
    """
    try:
        checked = EquitrainMode(mode)
    except ValueError:
        raise ValueError(f"Unknown equitrain mode {mode!r}; use 'delta' or 'lora'.") from None
    MODES[checked].check(lora_rank)
    return checked


class _WeightFlags:
    """The two attributes equitrain's ``MaceWrapper`` reads from its arguments."""

    def __init__(self, forces_weight: float, stress_weight: float) -> None:
        self.forces_weight = forces_weight
        self.stress_weight = stress_weight


def build_finetune_wrapper(
    foundation_model: str | Path | torch.nn.Module,
    mode: EquitrainMode | str,
    *,
    lora_rank: int | None = None,
    lora_alpha: float | None = None,
    e0s: dict[int, float] | None = None,
    dtype: str | None = None,
    compute_forces: bool = True,
    compute_stress: bool = True,
) -> torch.nn.Module:
    """Wrap a foundation MACE model in equitrain's delta or LoRA fine-tuning wrapper.

    Parameters
    ----------
    foundation_model
        MACE model file or a loaded MACE model (modified in place: E0s, dtype).
    mode
        ``"delta"``: ``DeltaFineTuneWrapper``, one zero-initialised Δω per base parameter
        (:mod:`~mlip_finetune.fitting.equitrain.delta`). ``"lora"``: ``LoRAFineTuneWrapper``,
        ΔW = (α/r)·B·A on every ``*.weight`` matrix (for MACE: the radial MLPs), B = 0 and
        A ~ N(0, 1/d_in) at the start (:mod:`~mlip_finetune.fitting.equitrain.lora`).
    lora_rank, lora_alpha
        LoRA rank r of every adapted matrix (equitrain's ``min_rank``) and α (None: scale 1).
    e0s
        ``{Z: E0}`` (eV) written into the model's atomic-energy buffer (not a parameter, so
        the base parameters stay the foundation's); None keeps the foundation's.
    dtype
        ``"float64"``/``"float32"``: cast the model; None keeps its dtype.
    compute_forces, compute_stress
        Whether the wrapper returns forces (eV/Å) and stress (eV/Å³, shape (batch, 3, 3)).

    Returns
    -------
    torch.nn.Module
        An equitrain ``AbstractWrapper`` whose ``forward`` takes a PyG batch and returns
        ``{"energy", "forces", "stress"}``; only the delta (or A, B) require gradients.

    Raises
    ------
    ValueError
        For an unknown mode or a LoRA without rank.
    """
    import mace  # noqa: F401  (mace before e3nn)
    import torch
    from equitrain.backends.torch_wrappers import MaceWrapper

    mode = check_mode(mode, lora_rank)
    model = foundation_model
    if not isinstance(model, torch.nn.Module):
        model = torch.load(model, map_location="cpu", weights_only=False)
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    if e0s is not None:
        _set_e0s(model, e0s)
    flags = _WeightFlags(1.0 if compute_forces else 0.0, 1.0 if compute_stress else 0.0)
    base = MaceWrapper(flags, model)
    return MODES[mode].wrap(base, lora_rank=lora_rank, lora_alpha=lora_alpha)


def _set_e0s(model: torch.nn.Module, e0s: dict[int, float]) -> None:
    """Write ``{Z: E0}`` (eV) into a MACE model's atomic-energy buffer (others kept)."""
    import torch

    buffer = model.atomic_energies_fn.atomic_energies
    zs = [int(z) for z in model.atomic_numbers]
    current = buffer.reshape(-1, len(zs))[0].tolist()
    values = [float(e0s.get(z, e)) for z, e in zip(zs, current, strict=True)]
    with torch.no_grad():
        buffer.copy_(torch.tensor(values, dtype=buffer.dtype).expand_as(buffer))
