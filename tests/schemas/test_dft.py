import pytest
from monty.json import jsanitize
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from mlip_finetune.schemas.dft import StaticDocument


def _doc(**over):
    s = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    kw = {
        "label": "dft static 1/2",
        "structure": s,
        "energy": -10.8,
        "forces": [[0.0, 0.0, 0.1], [0.0, 0.0, -0.1]],
        "stress": [[0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]],
        "engine": "gpaw",
        "settings": {"encut": 350.0},
        "kpoints": [4, 4, 4],
        "wall_time_s": 12.0,
        "converged": True,
    }
    kw.update(over)
    return StaticDocument(**kw)


def test_static_document_round_trips_through_json():
    doc = _doc()
    again = StaticDocument.model_validate(jsanitize(doc, strict=True, enum_values=True))
    assert again.structure == doc.structure
    assert again.forces == doc.forces
    assert again.metadata == {}


def test_static_document_rejects_missing_fields():
    with pytest.raises(ValidationError):
        StaticDocument(label="x")
    with pytest.raises(ValidationError):
        _doc(energy="not a number")
