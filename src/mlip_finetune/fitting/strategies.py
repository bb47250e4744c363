"""Fine-tuning strategies as an Enum, with the paper's hyper-parameters as defaults.

Each strategy maps to one backend in :data:`mlip_finetune.fitting.backends.BACKENDS`; adding a
strategy means adding an Enum member, its defaults in :func:`default_settings` and a backend.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class FineTuneStrategy(StrEnum):
    """How the foundation model is adapted (paper Fig. 1, §3.1)."""

    #: All weights updated on the fine-tuning data only (mace-torch, paper "Transfer").
    TRANSFER = "transfer"
    #: The foundation's architecture with random initial weights, trained on the fine-tuning
    #: data only (paper "Scratch"); the architecture is read from the foundation file.
    SCRATCH = "scratch"


class MaceTrainSettings(BaseModel):
    """Hyper-parameters of one mace-torch training run (paper §4.3 defaults).

    Every field is passed to ``mace.cli.run_train`` by
    :func:`mlip_finetune.fitting.mace_backend.build_mace_train_args`.
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
    extra_args: dict[str, str] = Field(
        default_factory=dict,
        description="Further ``--key value`` pairs for mace's run_train, passed verbatim.",
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
        Transfer: (lr, wd) = (0.01, 5e-3). Scratch: the multi-head values (0.01, 5e-7) and
        E0s averaged over the training set (no foundation to borrow them from).
    """
    if strategy is FineTuneStrategy.TRANSFER:
        return MaceTrainSettings(lr=0.01, weight_decay=5e-3)
    if strategy is FineTuneStrategy.SCRATCH:
        return MaceTrainSettings(lr=0.01, weight_decay=5e-7, E0s="average")
    raise ValueError(f"No defaults for strategy {strategy!r}")
