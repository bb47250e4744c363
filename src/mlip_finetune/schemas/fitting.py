"""Documents of the fine-tuning stage (paper §3.1–3.2, §4.3)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlip_finetune.fitting.mace_backend import EpochRecord  # noqa: TC001
from mlip_finetune.fitting.strategies import FineTuneStrategy  # noqa: TC001
from mlip_finetune.fitting.training import ReplayInfo  # noqa: TC001
from mlip_finetune.schemas.evaluation import ValidationMetrics  # noqa: TC001


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
        description="MaceTrainSettings requested (model_dump()), E0s made explicit."
    )
    effective_hyperparameters: dict = Field(
        default_factory=dict,
        description="Read back from what ran: mace's log (lr, weight_decay, loss, heads, "
        "multihead, frozen layers; mlip_finetune.fitting.mace_backend.read_mace_log) or "
        "equitrain's argument list.",
    )
    mace_args: list[str] = Field(
        description="The exact command line of the training backend (mace or equitrain)."
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
    plot_path: str | None = Field(default=None, description="PNG of force MAE vs size.")
