"""The per-material comparison document (foundation vs fine-tuned vs DFT)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlip_finetune.schemas.evaluation import PhononPropertyErrors  # noqa: TC001
from mlip_finetune.schemas.fitting import (  # noqa: TC001
    DataEfficiencyDocument,
    SurrogateDocument,
)
from mlip_finetune.schemas.properties import (  # noqa: TC001
    ForgettingDocument,
    ModelPropertiesDocument,
    PropertyErrors,
)


class ModelRow(BaseModel):
    """One model's errors against the DFT reference."""

    label: str = Field(description="'foundation', the strategy name, or 'surrogate'.")
    kind: str = Field(description="'foundation', 'finetuned' or 'surrogate'.")
    model_name: str = Field(description="Display name; stand-ins say so.")
    model_path: str
    model_sha256: str
    energy_mae_mev_per_atom: float = Field(description="Validation energy MAE (meV/atom).")
    force_mae_mev_per_angstrom: float = Field(description="Validation force MAE (meV/Å).")
    stress_mae_gpa: float | None = Field(description="Validation stress MAE (GPa).")
    phonon_mae_thz: float = Field(description="Phonon frequency MAE over the q-mesh (THz).")
    max_frequency_thz: float = Field(description="Largest phonon frequency on the mesh (THz).")
    has_imaginary_modes: bool
    phonon_property_errors: PhononPropertyErrors = Field(
        description="Relative errors of ω_max, ω_mean, DOS and 300 K thermal properties (%)."
    )


class MaterialReportDocument(BaseModel):
    """Final comparison table of one material run (output of the ``material report`` job)."""

    formula: str
    material_label: str = Field(description="User label of the material (file stem).")
    foundation_name: str
    foundation_is_standin: bool
    rows: list[ModelRow]
    dft_max_frequency_thz: float = Field(description="DFT largest phonon frequency (THz).")
    dft_has_imaginary_modes: bool
    phonon_mesh: list[int] = Field(description="q-mesh of the phonon MAE.")
    phonon_supercell_matrix: list[list[int]]
    n_train_structures: int
    n_valid_structures: int
    dft_engine: str
    dft_settings: dict
    band_structure_plot: str | None = Field(description="PNG path of the overlaid bands.")
    report_dir: str
    data_efficiency: DataEfficiencyDocument | None = Field(
        default=None, description="Validation errors vs training-set size, if requested."
    )
    surrogate: SurrogateDocument | None = Field(
        default=None, description="Distilled student of one fine-tuned model, if requested."
    )
    properties: list[ModelPropertiesDocument] = Field(
        default_factory=list,
        description="EOS, elastic, Slack κ, phase transitions of every model (if requested).",
    )
    dft_properties: ModelPropertiesDocument | None = Field(
        default=None, description="The same properties with DFT (the reference)."
    )
    property_errors: list[PropertyErrors] = Field(
        default_factory=list, description="Every model's property errors against DFT."
    )
    forgetting: ForgettingDocument | None = Field(
        default=None, description="Errors against the foundation's labels off the material."
    )
    plots: dict[str, str] = Field(
        default_factory=dict, description="Further PNGs: per-model bands, EOS, U(Q)."
    )
