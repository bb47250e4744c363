"""The fine-tuning strategies: one registry of what each one is and needs.

:data:`STRATEGIES` holds one :class:`StrategySpec` per
:class:`~mlip_finetune.schemas.fitting.FineTuneStrategy`: its training backend, the paper's
hyper-parameters, whether it starts from the foundation's weights, and its own steps around
the backend run (multihead's replay set and foundation file, scratch's architecture, the
equitrain wrapper options, multihead's head export).
:func:`~mlip_finetune.fitting.training.train_model` only walks these steps. Adding a strategy
means adding an Enum member, its :class:`StrategySpec` here and its arguments in the backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from mlip_finetune.schemas.fitting import FineTuneStrategy, MaceTrainSettings, TrainSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from mlip_finetune.schemas.dft import StaticDocument
    from mlip_finetune.schemas.fitting import EpochRecord, MaceTrainResult, ReplayInfo

__all__ = [
    "BACKENDS",
    "FOUNDATION_ONLY_FIELDS",
    "STRATEGIES",
    "BackendRun",
    "FineTuneStrategy",
    "MaceTrainSettings",
    "StrategySpec",
    "TrainSettings",
    "TrainingBackend",
    "TrainingContext",
    "default_settings",
]

logger = logging.getLogger(__name__)


class TrainingBackend(StrEnum):
    """The library that trains a strategy."""

    #: mace-torch's ``run_train`` (:mod:`mlip_finetune.fitting.mace_backend`).
    MACE = "mace"
    #: equitrain's delta/LoRA wrappers (:mod:`mlip_finetune.fitting.equitrain_backend`).
    EQUITRAIN = "equitrain"


@dataclass
class TrainingContext:
    """What the steps of one training run read, and what the preparation step fills in.

    Built by :func:`~mlip_finetune.fitting.training.train_model` after the data files are
    written; energies are already on the foundation's zero.
    """

    strategy: FineTuneStrategy
    settings: TrainSettings
    name: str
    train: list[StaticDocument]
    train_file: Path
    valid_file: Path
    work_dir: Path
    device: str
    foundation_model_path: str
    requested_architecture: dict[str, str] | None = None
    on_epoch: Callable[[EpochRecord], None] | None = None
    #: Foundation file the backend starts from (None: random weights).
    backend_foundation: str | None = None
    #: mace architecture arguments of a scratch training (None: from the settings).
    architecture: dict[str, str] | None = None
    #: Multihead's replay set.
    replay: ReplayInfo | None = None


class BackendRun(NamedTuple):
    """What a backend returned: its raw result and the settings read back from what ran."""

    result: MaceTrainResult
    effective: dict


@dataclass(frozen=True)
class StrategySpec:
    """Everything that is particular to one strategy.

    Parameters
    ----------
    backend
        The training library.
    defaults
        :class:`TrainSettings` fields the paper sets for this strategy (§4.3).
    from_foundation
        Starts from the foundation's weights (all but scratch).
    average_e0s
        Whether ``E0s="average"`` is allowed (mace's multi-head mode refuses it).
    prepare
        Fills the :class:`TrainingContext` before the backend runs, e.g. the replay set.
    backend_options
        Extra keyword arguments of the backend for this strategy (equitrain's wrapper).
    export
        Turns the backend's run into the plain single-head model file handed on; None hands
        on the backend's model file.
    """

    backend: TrainingBackend
    defaults: Mapping[str, Any]
    from_foundation: bool = True
    average_e0s: bool = True
    prepare: Callable[[TrainingContext], None] | None = None
    backend_options: Callable[[TrainSettings], dict[str, Any]] | None = None
    export: Callable[[TrainingContext, BackendRun], str] | None = None


def multihead_foundation(foundation_model_path: str, work_dir: Path) -> str:
    """Return a foundation file mace's multi-head mode can read.

    mace-torch 0.3.16 (``run_train.py``, E0s ``"foundation"`` of the replay head) squeezes an
    atomic-energy buffer of shape (1, n_elements) and then indexes it, which fails for a
    single-element foundation saved by mace itself (shape (1, 1) → 0-d). Such a file is
    copied with the buffer reshaped to (n_elements,), the layout mace builds itself for
    one head; weights and energies are unchanged. Other files are returned as they are.

    Parameters
    ----------
    foundation_model_path
        Foundation MACE model file.
    work_dir
        Where the reshaped copy is written (``foundation_for_multihead.model``).

    Returns
    -------
    str
        The file to hand to mace.
    """
    import mace  # noqa: F401  (mace before e3nn, DESIGN.md)
    import torch

    model = torch.load(foundation_model_path, map_location="cpu", weights_only=False)
    buffer = model.atomic_energies_fn.atomic_energies
    if buffer.ndim != 2 or buffer.shape != (1, 1):  # noqa: PLR2004
        return foundation_model_path
    model.atomic_energies_fn.atomic_energies = buffer.reshape(-1).clone()
    path = work_dir / "foundation_for_multihead.model"
    torch.save(model, path)
    logger.info("multihead: single-element foundation E0 buffer reshaped for mace (%s)", path)
    return str(path)


def _prepare_multihead(context: TrainingContext) -> None:
    """Multihead: the replay set of the material's elements and a foundation mace reads."""
    from mlip_finetune.fitting.replay import prepare_replay_set

    elements = sorted({str(site.specie) for s in context.train for site in s.structure})
    context.replay = prepare_replay_set(
        context.settings,
        elements,
        context.foundation_model_path,
        context.work_dir,
        context.device,
    )
    context.backend_foundation = multihead_foundation(
        context.foundation_model_path, context.work_dir
    )


def _prepare_scratch(context: TrainingContext) -> None:
    """Scratch: the requested architecture, or the foundation's (random weights, §4.3)."""
    from mlip_finetune.fitting.mace.heads import foundation_architecture

    context.architecture = context.requested_architecture or foundation_architecture(
        context.foundation_model_path
    )


def _export_multihead(context: TrainingContext, run: BackendRun) -> str:
    """Multihead: the material's ``Default`` head of the two-head model, as a plain file."""
    from mlip_finetune.fitting.mace.heads import extract_head

    if not run.effective.get("multihead"):
        raise RuntimeError(
            f"mace did not run multi-head fine-tuning (log {run.result.log_path}); "
            "refusing to hand on a transfer-learned model as 'multihead'."
        )
    out = context.work_dir / f"{context.name}_default_head.model"
    return str(extract_head(run.result.model_path, "Default", out))


def _delta_options(_settings: TrainSettings) -> dict[str, Any]:
    """lora_full: equitrain's full-rank delta wrapper."""
    return {"mode": "delta", "lora_rank": None, "lora_alpha": None}


def _lora_options(settings: TrainSettings) -> dict[str, Any]:
    """lora: equitrain's LoRA wrapper with the settings' rank and α."""
    return {"mode": "lora", "lora_rank": settings.lora_rank, "lora_alpha": settings.lora_alpha}


def _paper(lr: float, weight_decay: float, **more: object) -> Mapping[str, Any]:
    return MappingProxyType({"lr": lr, "weight_decay": weight_decay, **more})


#: The registry: one :class:`StrategySpec` per strategy (paper §4.3, §4.4, SI 7.7).
STRATEGIES: Mapping[FineTuneStrategy, StrategySpec] = MappingProxyType(
    {
        FineTuneStrategy.TRANSFER: StrategySpec(TrainingBackend.MACE, _paper(0.01, 5e-3)),
        FineTuneStrategy.MULTIHEAD: StrategySpec(
            TrainingBackend.MACE,
            _paper(0.01, 5e-7),
            average_e0s=False,
            prepare=_prepare_multihead,
            export=_export_multihead,
        ),
        FineTuneStrategy.LORA_FULL: StrategySpec(
            TrainingBackend.EQUITRAIN, _paper(0.01, 10.0), backend_options=_delta_options
        ),
        FineTuneStrategy.LORA: StrategySpec(
            TrainingBackend.EQUITRAIN, _paper(0.01, 10.0), backend_options=_lora_options
        ),
        FineTuneStrategy.FREEZE: StrategySpec(TrainingBackend.MACE, _paper(0.01, 5e-3)),
        FineTuneStrategy.SCRATCH: StrategySpec(
            TrainingBackend.MACE,
            _paper(0.01, 5e-7, E0s="average"),
            from_foundation=False,
            prepare=_prepare_scratch,
        ),
    }
)

#: Training backend of each strategy (read from :data:`STRATEGIES`).
BACKENDS: Mapping[FineTuneStrategy, TrainingBackend] = MappingProxyType(
    {strategy: spec.backend for strategy, spec in STRATEGIES.items()}
)

#: Fields that only strategies starting from a foundation read (replay, freezing, LoRA); a
#: scratch training ignores them, so caches keyed on scratch settings leave them out.
FOUNDATION_ONLY_FIELDS: frozenset[str] = frozenset(
    {"replay_file", "n_replay", "weight_pt_head", "frozen_layers", "lora_rank", "lora_alpha"}
)


def default_settings(strategy: FineTuneStrategy | str) -> TrainSettings:
    """Return the paper's hyper-parameters for a strategy (§4.3).

    Parameters
    ----------
    strategy
        The fine-tuning strategy.

    Returns
    -------
    TrainSettings
        Common to all: AdamW, Huber loss with (w_E, w_F, w_S) = (10, 100, 1000), δ = 0.01,
        ReduceLROnPlateau, 200 epochs. (lr, wd) per strategy:

        - transfer (0.01, 5e-3) and freeze (the same; SI 7.7 freezes the first layer, f1);
        - multihead (0.01, 5e-7) with 100 replay structures;
        - lora_full, the paper's "Equitrain" (0.01, 10), the decay acting on Δω only;
        - lora (0.01, 10), rank 4, α = 1: not in the paper, which uses full rank; the same
          optimiser settings as lora_full so that the two differ only in the rank;
        - scratch: the multi-head values (0.01, 5e-7) and E0s averaged over the training set
          (no foundation to borrow them from).

    Raises
    ------
    ValueError
        For a value that is not a :class:`FineTuneStrategy`.
    """
    return TrainSettings(**STRATEGIES[FineTuneStrategy(strategy)].defaults)
