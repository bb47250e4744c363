"""Documents of the fine-tuning stage (paper §3.1–3.2, §4.3)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlip_finetune.fitting.mace_backend import EpochRecord  # noqa: TC001
from mlip_finetune.fitting.strategies import FineTuneStrategy  # noqa: TC001
from mlip_finetune.schemas.evaluation import ValidationMetrics  # noqa: TC001


class FineTuneDocument(BaseModel):
    """One fine-tuned model: where it is, how it was trained, how good it is."""

    strategy: FineTuneStrategy
    model_path: str = Field(description="Plain MACE model file, loadable by MACECalculator.")
    model_sha256: str
    foundation_name: str = Field(description="Foundation model name ('standin' for a stand-in).")
    foundation_path: str | None = None
    foundation_sha256: str | None = None
    foundation_is_standin: bool = False
    hyperparameters: dict = Field(description="MaceTrainSettings as used (model_dump()).")
    mace_args: list[str] = Field(description="The exact mace run_train command line.")
    multihead_active: bool = Field(
        description="Read back from mace's log: whether mace ran multi-head fine-tuning."
    )
    e0s: dict[int, float] = Field(description="Isolated-atom energies in the model {Z: eV}.")
    e0s_source: str = Field(description="How E0s were obtained (mace's --E0s value, explained).")
    dft_energy_shift: dict[int, float] = Field(
        default_factory=dict,
        description="Per-element shift δ_Z (eV/atom) subtracted from DFT energies before "
        "training, moving them onto the foundation's energy zero; empty when unshifted.",
    )
    n_train_structures: int
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
