"""A foundation's architecture as mace arguments; one head of a model."""

import pytest

from mlip_finetune.fitting.mace.heads import extract_head, foundation_architecture


def test_foundation_architecture(random_mace_si):
    architecture = foundation_architecture(random_mace_si)
    assert architecture["model"] == "ScaleShiftMACE"
    assert float(architecture["r_max"]) == 4.5
    assert architecture["hidden_irreps"] == "8x0e+8x1o"
    assert architecture["MLP_irreps"] == "8x0e"
    assert architecture["num_interactions"] == "2"
    assert architecture["correlation"] == "2"
    assert architecture["max_ell"] == "2"
    assert architecture["num_radial_basis"] == "8"
    assert architecture["num_cutoff_basis"] == "5"
    assert architecture["interaction"] == "RealAgnosticResidualInteractionBlock"
    assert all(isinstance(value, str) for value in architecture.values())


def test_extract_head_refuses_a_missing_head(random_mace_si, tmp_path):
    with pytest.raises(ValueError, match=r"has heads .*'Default'.*, not 'pt_head'"):
        extract_head(random_mace_si, "pt_head", tmp_path / "out.model")
    assert not (tmp_path / "out.model").exists()
