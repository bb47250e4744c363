import pytest
from jobflow import Flow, job
from pydantic import ValidationError

from mlip_finetune.schemas.jobs import (
    METADATA_KEY,
    STAGE_ORDER,
    JobKind,
    JobTag,
    Stage,
    job_tag,
    tag_job,
    tag_metadata,
)


@job
def _add(a: int, b: int) -> int:
    return a + b


def test_tag_job_sets_and_reads_back_the_tag():
    j = _add(1, 2)
    j.metadata = {"caller": "kept"}
    assert job_tag(j) is None
    assert tag_job(j, JobKind.DFT, Stage.DFT_STATICS) is j
    tag = job_tag(j)
    assert tag == JobTag(kind=JobKind.DFT, stage=Stage.DFT_STATICS)
    assert tag.stage_name == "dft statics"
    assert j.metadata["caller"] == "kept"
    # jobflow-remote stores the metadata dict: the tag reads back from it alone
    assert job_tag(dict(j.metadata)) == tag


def test_tag_a_flow_tags_every_job_and_detail_names_the_stage():
    a, b = _add(1, 2), _add(3, 4)
    flow = Flow([Flow([a]), b])
    tag_job(flow, JobKind.GPU, Stage.FINETUNE, detail="lora")
    for j in (a, b):
        assert job_tag(j).stage_name == "finetune lora"
        assert j.metadata[METADATA_KEY]["kind"] == "gpu"


def test_tag_validation():
    with pytest.raises(ValidationError):
        JobTag(kind="quantum", stage=Stage.DATA)
    assert job_tag({METADATA_KEY: "not a tag"}) is None
    assert job_tag({METADATA_KEY: {"stage": "data"}}) is None


def test_stage_order_is_pipeline_order():
    assert STAGE_ORDER[0] is Stage.DATA
    assert STAGE_ORDER.index(Stage.DFT_STATICS) < STAGE_ORDER.index(Stage.FINETUNE)
    assert STAGE_ORDER.index(Stage.ML_PHONONS) < STAGE_ORDER.index(Stage.REPORT)
    assert STAGE_ORDER[-1] is Stage.OTHER


def test_decorator_metadata_equals_what_tag_job_sets():
    for kind in JobKind:
        for stage in Stage:
            assert tag_metadata(kind, stage) == tag_job(_add(1, 2), kind, stage).metadata
    assert tag_metadata(JobKind.GPU, Stage.FINETUNE, "lora")[METADATA_KEY]["detail"] == "lora"
