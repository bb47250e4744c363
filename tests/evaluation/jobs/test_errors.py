"""property_errors: every model against the reference, in one job."""

from __future__ import annotations

import pytest

from mlip_finetune.evaluation.jobs import property_errors
from mlip_finetune.evaluation.metrics import compare_properties
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag


def test_property_errors_compares_every_model(model_and_reference, cu_phonons):
    model, ref = model_and_reference
    # The job compares many models at once, in order.
    (job_errors,) = property_errors.original([model], ref)
    assert job_errors == compare_properties(model, ref)
    both = property_errors.original([model, ref], ref)
    assert [e.label for e in both] == ["transfer", "dft"]
    assert both[1] == compare_properties(ref, ref)
    doc, soft = cu_phonons
    (with_phonons,) = property_errors.original(
        [model], ref, model_phonons=[soft], reference_phonons=doc
    )
    assert with_phonons.stability_source == "phonons"
    with pytest.raises(ValueError, match="1 phonon documents for 2 models"):
        property_errors.original([model, ref], ref, model_phonons=[soft])


def test_property_errors_job_is_tagged(model_and_reference):
    model, ref = model_and_reference
    job = property_errors([model], ref)
    assert job_tag(job) == JobTag(kind=JobKind.LIGHT, stage=Stage.PROPERTIES)
