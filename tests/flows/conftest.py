"""Material-flow test helpers: a cheap stand-in for DFT (statics with a small MACE model)
and the MongoDB server of the cluster tests (for test_documents)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from jobflow import Job, Maker, job

from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job
from tests.remote.conftest import mongo_server  # noqa: F401  (the MongoDB of test_documents)


@job(output_schema=StaticDocument)
def model_static(
    structure: object, model_path: str, label: str = "", metadata: dict | None = None
) -> StaticDocument:
    """Label one structure with a MACE model file, as a DFT static would."""
    from mlip_finetune.core.labelling import label_with_model
    from mlip_finetune.dft.jobs import as_structure

    (doc,) = label_with_model([as_structure(structure)], model_path, label=label)
    return doc.model_copy(update={"label": label, "metadata": dict(metadata or {})})


@dataclass
class ModelStaticMaker(Maker):
    """The interface of a DFT static Maker, computed with a MACE model (seconds, not hours).

    Parameters
    ----------
    name
        Job name.
    model_path
        MACE model file standing in for DFT.
    stage
        Stage of the jobs' tags.
    """

    name: str = "dft static"
    model_path: str = ""
    stage: Stage = Stage.DFT_STATICS

    phonon_static_name: ClassVar[str] = "dft phonon displacement"

    def settings_record(self) -> dict:
        """Return the record of the "DFT" settings: the model."""
        return {"engine": "mace", "model_path": self.model_path}

    def phonon_static_maker(self) -> ModelStaticMaker:
        """Return this maker for the phonon displacements."""
        return replace(self, name=self.phonon_static_name, stage=Stage.DFT_PHONONS)

    def make(self, structure: object, label: str = "", metadata: dict | None = None) -> Job:
        """Return a job that labels one structure with the model."""
        static = model_static(structure, self.model_path, label=label, metadata=metadata)
        static.name = self.name
        return tag_job(static, JobKind.DFT, self.stage)
