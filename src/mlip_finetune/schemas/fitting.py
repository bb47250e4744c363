"""Documents and settings of the fine-tuning stage (paper §3.1–3.2, §4.3).

The strategy Enum, the training settings and every document a fine-tuning, distillation or
data-efficiency job returns; the fitting layer (:mod:`mlip_finetune.fitting`) fills them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field

from mlip_finetune.schemas.evaluation import ValidationMetrics  # noqa: TC001


class FineTuneStrategy(StrEnum):
    """How the foundation model is adapted (paper Fig. 1, §3.1).

    Each member has one :class:`~mlip_finetune.fitting.strategies.StrategySpec` (backend,
    default settings, preparation and export steps) in
    :data:`mlip_finetune.fitting.strategies.STRATEGIES`.
    """

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


class TrainSettings(BaseModel):
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
        description="Isolated-atom energies (eV): 'estimated' = the foundation's E0s with the "
        "DFT energies shifted onto them by least squares on the training set, 'foundation' = "
        "unchanged, 'average', or a dict literal {Z: eV}.",
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


#: Former name of :class:`TrainSettings` (it carries equitrain's settings as well as mace's).
MaceTrainSettings = TrainSettings


class ReplayInfo(BaseModel):
    """The replay set a multi-head model was trained with."""

    path: str = Field(description="Extended-XYZ file mace read (REF_* keys).")
    sha256: str
    n_structures: int
    source: str = Field(description="The user's file it was subsampled from, or 'built'.")


class EpochRecord(BaseModel):
    """Validation errors a training backend (mace or equitrain) logged after one epoch."""

    epoch: int
    head: str = Field(description="mace head the errors refer to.")
    loss: float = Field(description="Validation loss (the backend's weighted Huber loss).")
    energy_mae_mev_per_atom: float = Field(
        description="Energy MAE (meV/atom).",
        validation_alias=AliasChoices("energy_mae_mev_per_atom", "energy_mae"),
    )
    force_mae_mev_per_angstrom: float = Field(
        description="Force MAE (meV/Å).",
        validation_alias=AliasChoices("force_mae_mev_per_angstrom", "force_mae"),
    )
    stress_mae_gpa: float | None = Field(
        default=None,
        description="Stress MAE (GPa), converted from the backend's log (meV/Å³ for mace, "
        "eV/Å³ for equitrain); None when the backend logged none.",
    )


class MaceTrainResult(BaseModel):
    """What one training run of a backend (mace or equitrain) produced."""

    model_path: str = Field(description="The final plain MACE model file.")
    log_path: str = Field(description="Captured stdout/stderr of the training process.")
    epochs: list[EpochRecord] = Field(description="Per-epoch validation errors, in order.")
    args: list[str] = Field(description="The exact command line arguments used.")
    wall_time_s: float = Field(description="Training wall time (s).")
    multihead_active: bool = Field(description="Whether mace ran multi-head fine-tuning.")


class FineTuneDocument(BaseModel):
    """One fine-tuned model: where it is, how it was trained, how good it is."""

    strategy: FineTuneStrategy
    backend: str = Field(default="mace", description="Training library: 'mace' or 'equitrain'.")
    model_path: str = Field(description="Plain MACE model file, loadable by MACECalculator.")
    model_sha256: str
    foundation_name: str = Field(description="Foundation model name ('standin' for a stand-in).")
    foundation_path: str | None = None
    foundation_sha256: str | None = None
    foundation_is_standin: bool = False
    hyperparameters: dict = Field(
        description="TrainSettings requested (model_dump()), E0s made explicit."
    )
    effective_hyperparameters: dict = Field(
        default_factory=dict,
        description="Read back from what ran: mace's log (lr, weight_decay, loss, heads, "
        "multihead, frozen layers; mlip_finetune.fitting.mace.log.read_mace_log) or "
        "equitrain's argument list.",
    )
    train_args: list[str] = Field(
        validation_alias=AliasChoices("train_args", "mace_args"),
        description="The exact command line of the training backend (mace or equitrain); "
        "documents stored before the rename call it ``mace_args``.",
    )
    multihead_active: bool = Field(
        description="Read back from mace's log: whether mace ran multi-head fine-tuning."
    )
    replay: ReplayInfo | None = Field(
        default=None, description="Multihead: the replay set trained on the foundation's head."
    )
    e0s: dict[int, float] = Field(description="Isolated-atom energies in the model {Z: eV}.")
    e0s_source: str = Field(description="How E0s were obtained (mace's --E0s value, explained).")
    dft_energy_shift: dict[int, float] = Field(
        default_factory=dict,
        description="Per-element shift δ_Z (eV/atom) subtracted from DFT energies before "
        "training, moving them onto the foundation's energy zero; empty when unshifted.",
    )
    n_train_structures: int
    max_frame_index: int | None = Field(
        default=None,
        description="Training frames limited to frame_index <= this (data-efficiency curve).",
    )
    n_train_atoms: int
    n_valid_structures: int
    epochs: list[EpochRecord] = Field(description="mace's per-epoch validation errors.")
    validation: ValidationMetrics = Field(description="Fine-tuned model vs DFT, validation set.")
    training: ValidationMetrics = Field(description="Fine-tuned model vs DFT, training set.")
    foundation_validation: ValidationMetrics = Field(
        description="The foundation model vs DFT on the same validation set."
    )
    wall_time_s: float = Field(description="Training wall time (s).")
    device: str
    versions: dict[str, str]


class DataEfficiencyPoint(BaseModel):
    """One model of a data-efficiency curve: a strategy trained on a training subset."""

    strategy: FineTuneStrategy
    max_frame_index: int | None = Field(description="Frames with frame_index <= this.")
    n_train_structures: int
    n_train_atoms: int
    validation: ValidationMetrics = Field(description="Against DFT on the full validation set.")
    wall_time_s: float = Field(description="Training wall time (s).")
    model_path: str


class DataEfficiencyDocument(BaseModel):
    """Validation errors against training-set size, per strategy (paper §3.2, Fig. 2b, SI 7.3).

    Training sets grow from the outermost frames of each trajectory inwards (§4.2).
    """

    points: list[DataEfficiencyPoint] = Field(description="Sorted by strategy, then size.")
    foundation_validation: ValidationMetrics = Field(
        description="The foundation on the same validation set (the horizontal line)."
    )
    plot_path: str | None = Field(
        default=None,
        description="PNG of force MAE vs size, drawn there by the report layer "
        "(mlip_finetune.report.plots.plot_data_efficiency); None: the report's directory.",
    )


class SurrogateDocument(BaseModel):
    """A distilled student and how it compares with its teacher (Radova et al. 2025)."""

    teacher_path: str
    teacher_sha256: str
    student_path: str = Field(description="Plain MACE model file of the student.")
    student_sha256: str
    architecture: dict[str, str] = Field(description="Student's mace architecture arguments.")
    teacher_parameters: int = Field(description="Trainable parameters of the teacher.")
    student_parameters: int = Field(description="Trainable parameters of the student.")
    n_train_structures: int
    n_valid_structures: int
    student_vs_teacher: ValidationMetrics = Field(
        description="Student against teacher labels on held-out structures (no offset)."
    )
    student_vs_dft: ValidationMetrics | None = Field(
        default=None, description="Student against the DFT validation statics, if given."
    )
    teacher_vs_dft: ValidationMetrics | None = None
    timing_atoms: int = Field(description="Atoms of the supercell used for timing.")
    teacher_time_s: float = Field(description="Median energy+forces+stress call (s).")
    student_time_s: float = Field(description="Median energy+forces+stress call (s).")
    speed_ratio: float = Field(description="teacher_time_s / student_time_s (> 1: faster).")
    epochs: list[EpochRecord]
    wall_time_s: float = Field(description="Labelling + training wall time (s).")
