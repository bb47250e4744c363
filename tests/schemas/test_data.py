import pytest
from monty.json import jsanitize
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from mlip_finetune.schemas.data import RelaxationRecord, TrainingDataDocument, TrainingFrame


def _frame(split="train"):
    s = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    return TrainingFrame(
        structure=s,
        trajectory_index=1,
        volume_scale=-0.05,
        frame_index=0,
        relaxation_step=0,
        foundation_energy=-10.7,
        split=split,
    )


def test_frame_split_is_train_or_validation():
    assert _frame("validation").split == "validation"
    with pytest.raises(ValidationError):
        _frame("test")


def test_training_data_document_round_trip():
    relax = RelaxationRecord(
        trajectory_index=1,
        volume_scale=-0.05,
        n_steps=12,
        converged=True,
        final_fmax=1e-3,
        energy_start=-10.7,
        energy_end=-10.8,
    )
    doc = TrainingDataDocument(
        formula="Si",
        protocol="primitive",
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        n_atoms_supercell=2,
        frames=[_frame(), _frame("validation")],
        relaxations=[relax],
        n_train=1,
        n_validation=1,
        seed=0,
        foundation_model_path="/models/m.model",
        foundation_model_sha256="0" * 64,
    )
    again = TrainingDataDocument.model_validate(jsanitize(doc, strict=True, enum_values=True))
    assert [f.split for f in again.frames] == ["train", "validation"]
    assert again.frames[0].structure == doc.frames[0].structure
    assert again.wall_time_s == 0.0
