"""MLPropertiesMaker: every property of one MACE model in one job."""

from __future__ import annotations

import pytest
from jobflow import run_locally

from mlip_finetune.evaluation.jobs import MLPropertiesMaker
from mlip_finetune.evaluation.properties import PropertySettings
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
from mlip_finetune.schemas.properties import ModelPropertiesDocument
from mlip_finetune.utils import sha256_file


def test_ml_properties_maker_runs_mace_in_one_job(
    tmp_path, monkeypatch, si_primitive, random_mace_si
):
    monkeypatch.chdir(tmp_path)
    settings = PhaseTransitionSettings(
        grid_points={1: 5, 2: 3, 3: 3, 4: 3}, max_steps=20, supercell_atom_limit=4, band_npoints=5
    )
    maker = MLPropertiesMaker(
        device="cpu",
        property_settings=PropertySettings(
            max_steps=200,
            supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            phase_transition_settings=settings,
        ),
    )
    job = maker.make(si_primitive, model_path=str(random_mace_si), label="random")
    assert job.name == "ml properties"
    responses = run_locally(job, create_folders=True, ensure_success=True)
    assert len(responses) == 1  # one job for every property
    doc = ModelPropertiesDocument.model_validate(responses[job.uuid][1].output)
    # An untrained model: only completeness and bookkeeping are asserted.
    assert doc.label == "random"
    assert doc.engine == "mace"
    assert doc.model_path == str(random_mace_si)
    assert doc.model_sha256 == sha256_file(random_mace_si)
    for name in ("eos", "elastic", "slack"):
        assert (getattr(doc, name) is None) == (name in doc.failures)
    assert doc.eos is None or doc.eos.model_sha256 == doc.model_sha256
    assert doc.phase_transitions is not None
    assert doc.phase_transitions.label == "random"
    assert doc.phase_transition_settings == settings
    assert doc.wall_times["total"] >= doc.wall_times["eos"] > 0


def test_ml_properties_maker_validates_at_build_time():
    with pytest.raises(ValueError, match="at least 5 distinct"):
        MLPropertiesMaker(property_settings=PropertySettings(volume_strains=(-0.01, 0.0, 0.01)))
    with pytest.raises(ValueError, match="positive"):
        MLPropertiesMaker(property_settings=PropertySettings(fmax=0.0))
    # a Maker read back from JSON carries its settings as a dict
    maker = MLPropertiesMaker(property_settings=PropertySettings(fmax=5e-3).model_dump())
    assert PropertySettings.model_validate(maker.property_settings).fmax == 5e-3


def test_ml_properties_job_is_tagged_and_defaults_are_the_papers(si_primitive):
    maker = MLPropertiesMaker()
    assert maker.property_settings == PropertySettings()
    assert maker.property_settings.phase_transitions
    assert maker.property_settings.max_steps == 2000
    job = maker.make(si_primitive, model_path="model.model", label="foundation")
    assert job_tag(job) == JobTag(kind=JobKind.GPU, stage=Stage.PROPERTIES)
