"""Tests of :mod:`mlip_finetune.foundation.elements`: elements a model covers."""

from __future__ import annotations

import pytest

from mlip_finetune.foundation.elements import (
    TEACHER_ATOMIC_NUMBERS,
    InvalidModelFileError,
    UnsupportedElementError,
    check_foundation_elements,
    check_model_elements,
    check_teacher_elements,
    model_elements,
)


def test_model_elements(random_mace_nacl):
    assert model_elements(random_mace_nacl) == [11, 17]
    check_model_elements(random_mace_nacl, [11, 17, 11])
    with pytest.raises(UnsupportedElementError, match="Si"):
        check_model_elements(random_mace_nacl, [11, 14])


def test_model_elements_are_read_from_the_file_without_a_calculator(random_mace_si, monkeypatch):
    from mlip_finetune.core import calculators

    def no_calculator(*args, **kwargs):
        raise AssertionError("no calculator should be built")

    monkeypatch.setattr(calculators, "mace_calculator", no_calculator)
    assert model_elements(random_mace_si) == [14]


def test_a_corrupt_model_file_is_named(tmp_path):
    corrupt = tmp_path / "corrupt.model"
    corrupt.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InvalidModelFileError) as info:
        model_elements(corrupt)
    message = str(info.value)
    assert str(corrupt) in message
    assert "not a torch file (UnpicklingError:" in message


def test_a_file_that_is_no_pickle_at_all(tmp_path):
    cif = tmp_path / "Si.cif"
    cif.write_text("data_Si\n_cell_length_a 5.468\n")
    with pytest.raises(InvalidModelFileError, match=r"not a torch file \(UnpicklingError"):
        model_elements(cif)


def test_a_torch_file_holding_a_dict(tmp_path):
    import torch

    path = tmp_path / "state.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(InvalidModelFileError, match="holding a dict, not a MACE model"):
        model_elements(path)


def test_a_missing_model_file(tmp_path):
    with pytest.raises(InvalidModelFileError, match="does not exist"):
        check_model_elements(tmp_path / "nope.model", [14])


def test_invalid_model_file_is_an_input_error():
    from mlip_finetune.core.errors import InputError

    assert issubclass(InvalidModelFileError, InputError)
    assert issubclass(UnsupportedElementError, InputError)
    assert issubclass(UnsupportedElementError, ValueError)


def test_teacher_elements():
    check_teacher_elements([1, 14, 94])
    with pytest.raises(UnsupportedElementError, match=r"cannot cover Ts, Og: its teacher CHGNet"):
        check_teacher_elements([14, 118, 117])


def test_teacher_table_is_chgnet_s():
    pytest.importorskip("chgnet")
    from chgnet.model import CHGNet

    model = CHGNet.load(verbose=False)
    assert model.atom_embedding.embedding.num_embeddings == len(TEACHER_ATOMIC_NUMBERS)
    assert model.composition_model.fc.in_features == len(TEACHER_ATOMIC_NUMBERS)
    assert tuple(range(1, 95)) == TEACHER_ATOMIC_NUMBERS


def test_foundation_elements_of_a_standin(tmp_path, random_mace_si):
    from mlip_finetune.foundation import FoundationModel

    placeholder = FoundationModel(
        name="standin", path=str(tmp_path / "later.model"), sha256="0" * 64, is_standin=True
    )
    check_foundation_elements(placeholder, [8, 92])  # not built yet: the teacher's table
    with pytest.raises(UnsupportedElementError, match="CHGNet"):
        check_foundation_elements(placeholder, [118])
    built = placeholder.model_copy(update={"path": str(random_mace_si)})
    with pytest.raises(UnsupportedElementError, match="no parameters for O"):
        check_foundation_elements(built, [8])  # built: its own table too
    plain = FoundationModel(name="x", path=str(random_mace_si), sha256="0" * 64)
    check_foundation_elements(plain, [14])
