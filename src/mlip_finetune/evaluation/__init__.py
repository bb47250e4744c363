"""Evaluation stage: phonons with phonopy + symfc and errors against a reference."""

from mlip_finetune.core.relax import relax_structure
from mlip_finetune.evaluation.jobs import MLPhononMaker, phonons_from_statics
from mlip_finetune.evaluation.metrics import (
    energy_offset_per_atom,
    phonon_frequency_mae,
    validation_metrics,
)
from mlip_finetune.evaluation.phonons import (
    displaced_supercells,
    model_forces,
    n_displacements,
    phonon_document_from_calculator,
    phonon_document_from_forces,
    resolve_mesh,
)
from mlip_finetune.evaluation.supercells import phonon_supercell_matrix, preserves_point_group

__all__ = [
    "MLPhononMaker",
    "displaced_supercells",
    "energy_offset_per_atom",
    "model_forces",
    "n_displacements",
    "phonon_document_from_calculator",
    "phonon_document_from_forces",
    "phonon_frequency_mae",
    "phonon_supercell_matrix",
    "phonons_from_statics",
    "preserves_point_group",
    "relax_structure",
    "resolve_mesh",
    "validation_metrics",
]
