"""Fine-tuning strategies as an Enum, with the paper's hyper-parameters as defaults.

Each strategy maps to one training backend in :data:`BACKENDS` (``"mace"``: mace-torch's
``run_train``; ``"equitrain"``: equitrain's delta/LoRA wrappers); adding a strategy means
adding an Enum member, its backend, its defaults in :func:`default_settings` and its branch in
the backend module.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class FineTuneStrategy(StrEnum):
    """How the foundation model is adapted (paper Fig. 1, §3.1)."""

    #: All weights updated on the fine-tuning data only (mace-torch, paper "Transfer").
    TRANSFER = "transfer"
    #: Multi-head fine-tuning (mace-torch): a new head for the material and the foundation's
    #: head trained on a replay set, one shared backbone (paper "Multihead", §3.1, §4.3).
    MULTIHEAD = "multihead"
    #: Full-rank additive update ω = ω0 + Δω with the base frozen and weight decay on Δω only
    #: (equitrain delta wrapper; paper "Equitrain", §4.4).
    LORA_FULL = "lora_full"
    #: Low-rank additive update ΔW = B·A of rank r (equitrain LoRA wrapper; paper §4.4).
    LORA = "lora"
    #: Transfer learning with the first N layers frozen (mace-torch ``--freeze``; paper SI 7.7,
    #: Radova et al. 2025).
    FREEZE = "freeze"
    #: The foundation's architecture with random initial weights, trained on the fine-tuning
    #: data only (paper "Scratch"); the architecture is read from the foundation file.
    SCRATCH = "scratch"


#: Training backend of each strategy.
BACKENDS: dict[FineTuneStrategy, Literal["mace", "equitrain"]] = {
    FineTuneStrategy.TRANSFER: "mace",
    FineTuneStrategy.MULTIHEAD: "mace",
    FineTuneStrategy.LORA_FULL: "equitrain",
    FineTuneStrategy.LORA: "equitrain",
    FineTuneStrategy.FREEZE: "mace",
    FineTuneStrategy.SCRATCH: "mace",
}


class MaceTrainSettings(BaseModel):
    """Hyper-parameters of one training run, mace-torch or equitrain (paper §4.3 defaults).

    The common fields are passed to ``mace.cli.run_train`` by
    :func:`mlip_finetune.fitting.mace_backend.build_mace_train_args` or to equitrain by
    :func:`mlip_finetune.fitting.equitrain_backend.run_equitrain_finetune`; the
    strategy-specific ones (replay, frozen layers, LoRA rank) only by their strategy.
    """

    optimizer: Literal["adamw", "adam"] = Field(default="adamw", description="Optimiser.")
    lr: float = Field(default=0.01, description="Learning rate.")
    weight_decay: float = Field(default=5e-3, description="AdamW weight decay.")
    scheduler: Literal["ReduceLROnPlateau", "ExponentialLR"] = Field(
        default="ReduceLROnPlateau", description="Learning-rate scheduler."
    )
    lr_factor: float = Field(default=0.8, description="ReduceLROnPlateau factor.")
    scheduler_patience: int = Field(default=5, description="ReduceLROnPlateau patience (epochs).")
    max_num_epochs: int = Field(default=200, description="Maximum number of epochs (paper: 200).")
    patience: int = Field(
        default=2048, description="Early stop after this many epochs without improvement."
    )
    batch_size: int = Field(default=4, description="Training batch size (structures).")
    valid_batch_size: int = Field(default=4, description="Validation batch size (structures).")
    loss: Literal["huber", "weighted", "universal"] = Field(
        default="huber", description="Loss: weighted sum of Huber losses (paper §4.3)."
    )
    huber_delta: float = Field(default=0.01, description="Huber δ (paper: 0.01).")
    energy_weight: float = Field(default=10.0, description="Energy loss weight w_E (paper: 10).")
    forces_weight: float = Field(default=100.0, description="Force loss weight w_F (paper: 100).")
    stress_weight: float = Field(
        default=1000.0, description="Stress loss weight w_S (paper: 1000)."
    )
    E0s: str = Field(
        default="estimated",
        description="Isolated-atom energies: 'estimated' = the foundation's E0s corrected by "
        "least squares on the training set (mace), 'foundation' = unchanged, 'average', or a "
        "dict literal {Z: eV}.",
    )
    seed: int = Field(default=123, description="Random seed.")
    default_dtype: Literal["float64", "float32"] = Field(
        default="float64", description="Training precision."
    )
    eval_interval: int = Field(default=1, description="Validate every N epochs.")
    ema: bool = Field(default=False, description="Exponential moving average of weights.")
    # Architecture for training from scratch when no architecture is given explicitly
    # (FineTuneMaker passes the foundation's, read by foundation_architecture).
    model: str = Field(default="MACE", description="mace model class for scratch training.")
    r_max: float = Field(default=6.0, description="Cutoff radius for scratch training (Å).")
    num_channels: int = Field(default=128, description="Channels for scratch training.")
    max_L: int = Field(  # noqa: N815  (mace's own argument name)
        default=1, description="Max L of messages for scratch training."
    )
    num_interactions: int = Field(default=2, description="Interaction layers (scratch).")
    correlation: int = Field(default=3, description="Body order - 1 (scratch).")
    # Multi-head fine-tuning (paper §4.3: replay set of 100 randomly chosen structures).
    replay_file: str | None = Field(
        default=None,
        description="Multihead: extended-XYZ replay set with REF_energy/REF_forces/REF_stress "
        "(a local file, never downloaded); None builds one by labelling diverse structures of "
        "the material's elements with the foundation (mlip_finetune.fitting.replay).",
    )
    n_replay: int = Field(default=100, description="Multihead: replay structures used.")
    weight_pt_head: float = Field(
        default=1.0, description="Multihead: weight of the replay (foundation) head's loss."
    )
    # Frozen transfer learning (SI 7.7).
    frozen_layers: int = Field(
        default=1,
        description="Freeze: mace ``--freeze N``, the leading layers kept at the foundation's "
        "weights. mace 0.3.16 counts the model's children: 1–4 freeze the node embedding "
        "(radial embedding, spherical harmonics and atomic energies carry no trainable "
        "weights), 5 adds the interactions, 6 the products, 7 the readouts.",
    )
    # Low-rank LoRA (§4.4).
    lora_rank: int = Field(
        default=4,
        description="LoRA: rank r of ΔW = B·A. equitrain 1.0 adapts only parameters named "
        "'*.weight' with ≥ 2 dimensions, which in MACE are the radial-MLP matrices "
        "(mlip_finetune.fitting.equitrain_backend).",
    )
    lora_alpha: float = Field(default=1.0, description="LoRA: scaling α (update α/r·B·A).")
    extra_args: dict[str, str] = Field(
        default_factory=dict,
        description="Further ``--key value`` pairs for mace's run_train, passed verbatim.",
    )


#: Fields that only strategies starting from a foundation read (replay, freezing, LoRA); a
#: scratch training ignores them, so caches keyed on scratch settings leave them out.
FOUNDATION_ONLY_FIELDS: frozenset[str] = frozenset(
    {"replay_file", "n_replay", "weight_pt_head", "frozen_layers", "lora_rank", "lora_alpha"}
)


def default_settings(strategy: FineTuneStrategy) -> MaceTrainSettings:
    """Return the paper's hyper-parameters for a strategy (§4.3).

    Parameters
    ----------
    strategy
        The fine-tuning strategy.

    Returns
    -------
    MaceTrainSettings
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
    strategy = FineTuneStrategy(strategy)
    if strategy in (FineTuneStrategy.TRANSFER, FineTuneStrategy.FREEZE):
        return MaceTrainSettings(lr=0.01, weight_decay=5e-3)
    if strategy is FineTuneStrategy.MULTIHEAD:
        return MaceTrainSettings(lr=0.01, weight_decay=5e-7)
    if strategy in (FineTuneStrategy.LORA_FULL, FineTuneStrategy.LORA):
        return MaceTrainSettings(lr=0.01, weight_decay=10.0)
    return MaceTrainSettings(lr=0.01, weight_decay=5e-7, E0s="average")
