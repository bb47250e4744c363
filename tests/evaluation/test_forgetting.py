"""Forgetting check: models against the foundation's labels on replay prototypes."""

from __future__ import annotations

import shutil

import pytest
from jobflow import run_locally

from mlip_finetune.evaluation.forgetting import forgetting_check, forgetting_document
from mlip_finetune.schemas.properties import ForgettingDocument
from mlip_finetune.utils import sha256_file

N = 4


@pytest.fixture(scope="module")
def models(tmp_path_factory, random_mace_si):
    from tests.conftest import build_random_mace

    directory = tmp_path_factory.mktemp("forgetting")
    copy = directory / "copy.model"
    shutil.copy(random_mace_si, copy)
    return {
        "copy": str(copy),
        # Another network: forgets everything the foundation knew.
        "other": str(build_random_mace(directory / "other.model", [14], [-5.4], seed=1)),
        # The foundation's network with another atomic energy: only the energy zero moved.
        "shifted": str(build_random_mace(directory / "shifted.model", [14], [-3.0])),
    }


@pytest.fixture(scope="module")
def doc(random_mace_si, models):
    return forgetting_document(["Si"], str(random_mace_si), models, n=N, seed=3, device="cpu")


def test_foundation_and_identical_model_have_zero_error(doc, random_mace_si):
    assert [row.label for row in doc.rows] == ["foundation", "copy", "other", "shifted"]
    assert doc.elements == ["Si"]
    assert doc.n_structures == N
    assert len(doc.formulas) == N
    assert doc.foundation_sha256 == sha256_file(random_mace_si)
    for row in doc.rows[:2]:
        metrics = row.metrics
        assert metrics.n_structures == N
        assert metrics.energy_mae_mev_per_atom == pytest.approx(0.0, abs=1e-9)
        assert metrics.force_mae_mev_per_angstrom == pytest.approx(0.0, abs=1e-9)
        assert metrics.stress_mae_gpa == pytest.approx(0.0, abs=1e-9)
        assert row.element_energy_shifts["Si"] == pytest.approx(0.0, abs=1e-9)


def test_other_model_has_forgotten(doc):
    other = doc.rows[2].metrics
    assert other.force_mae_mev_per_angstrom > 1.0  # meV/Å
    assert other.energy_mae_mev_per_atom > 0.1  # meV/atom
    assert other.stress_mae_gpa > 1e-3  # GPa


def test_energy_zero_shift_is_not_forgetting(doc):
    shifted = doc.rows[3]
    # E0 -3.0 instead of -5.4 eV: model energies are 2.4 eV/atom higher.
    assert shifted.element_energy_shifts["Si"] == pytest.approx(-2.4, abs=1e-6)
    assert shifted.metrics.energy_mae_mev_per_atom < 1e-3
    assert shifted.metrics.force_mae_mev_per_angstrom == pytest.approx(0.0, abs=1e-9)


def test_forgetting_job_and_errors(tmp_path, monkeypatch, random_mace_si, models, si_primitive):
    monkeypatch.chdir(tmp_path)
    job = forgetting_check(
        si_primitive,
        str(random_mace_si),
        {"foundation": str(random_mace_si), "other": models["other"]},
        n=2,
        device="cpu",
    )
    responses = run_locally(job, create_folders=True, ensure_success=True)
    out = ForgettingDocument.model_validate(responses[job.uuid][1].output)
    assert [row.label for row in out.rows] == ["foundation", "other"]
    assert out.rows[1].metrics.force_mae_mev_per_angstrom > 0
    with pytest.raises(ValueError, match="not the foundation"):
        forgetting_document(["Si"], str(random_mace_si), {"foundation": models["other"]}, n=2)
    with pytest.raises(ValueError, match="not element symbols"):
        forgetting_document(["Xx"], str(random_mace_si), {}, n=2)
