"""The ML property job: EOS, elastic tensor, Slack κ and phase transitions of one model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobflow import Maker, job

from mlip_finetune.evaluation.properties import properties_from_calculator
from mlip_finetune.evaluation.property_settings import PropertySettings, check_property_grid
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_metadata
from mlip_finetune.schemas.properties import ModelPropertiesDocument

if TYPE_CHECKING:
    from pymatgen.core import Structure


@dataclass
class MLPropertiesMaker(Maker):
    """EOS, elastic tensor, Slack κ and phase transitions of one MACE model, in one job.

    One job per model, the model loaded once (paper §3.4–3.5, §4.5–4.6): ML evaluation does
    not pay one job per strained or scaled structure. Defaults are the paper's.

    Parameters
    ----------
    name
        Job name.
    property_settings
        The protocol (:class:`~mlip_finetune.evaluation.property_settings.PropertySettings`):
        relaxation (``fmax`` 1 meV/Å, 2000 steps), EOS volumes, elastic strains, Slack
        temperature, phase-transition search (on) and its phonons.
    device
        Torch device for MACE, ``"auto"`` picks CUDA when available.
    """

    name: str = "ml properties"
    property_settings: PropertySettings = field(default_factory=PropertySettings)
    device: str = "auto"

    def __post_init__(self) -> None:
        """Reject an unusable EOS grid or relaxation threshold when the Maker is built.

        Raises
        ------
        ValueError
            If fewer than 5 distinct volume strains, a strain ≤ −1, or a non-positive
            ``fmax``/``max_steps`` is given.
        """
        settings = PropertySettings.model_validate(self.property_settings)
        check_property_grid(settings.volume_strains, settings.fmax, settings.max_steps)

    @job(
        output_schema=ModelPropertiesDocument,
        metadata=tag_metadata(JobKind.GPU, Stage.PROPERTIES),
    )
    def make(self, structure: Structure, model_path: str, label: str) -> ModelPropertiesDocument:
        """Compute every property with one MACE model file.

        Parameters
        ----------
        structure
            Unit cell (Å), preferably primitive.
        model_path
            Plain MACE model file, loaded once (:func:`mlip_finetune.core.calculators.
            mace_calculator`, float64).
        label
            Stored as the documents' label (``"foundation"``, ``"transfer"``, …).

        Returns
        -------
        ModelPropertiesDocument
            See :func:`~mlip_finetune.evaluation.properties.properties_from_calculator`;
            ``model_path`` and sha256 recorded.
        """
        from mlip_finetune.core.calculators import mace_calculator
        from mlip_finetune.core.provenance import sha256_file
        from mlip_finetune.dft.jobs import as_structure

        calculator = mace_calculator(model_path, device=self.device)
        return properties_from_calculator(
            as_structure(structure),
            calculator,
            label,
            self.property_settings,
            engine="mace",
            model_path=str(model_path),
            model_sha256=sha256_file(model_path),
        )
