"""The fine-tuning Maker: job names and tags, and the train/validation split."""

import pytest

from mlip_finetune.fitting.jobs import FineTuneMaker, split_statics
from mlip_finetune.fitting.strategies import FineTuneStrategy, default_settings
from mlip_finetune.schemas.jobs import JobKind, job_tag
from tests.fitting.conftest import labelled_statics, training_data_document


@pytest.mark.parametrize("strategy", list(FineTuneStrategy))
def test_finetune_jobs_are_named_and_tagged_by_strategy(strategy):
    job = FineTuneMaker(strategy=strategy).make(None, [], "f.model")
    assert job.name == f"finetune {strategy.value}"
    tag = job_tag(job)
    assert tag.kind is JobKind.GPU
    assert tag.stage_name == f"finetune {strategy.value}"


def test_data_efficiency_runs_are_tagged_with_their_stage():
    job = FineTuneMaker(strategy="lora").make(None, [], "f.model", max_frame_index=2)
    assert job.name == "finetune lora frames<=2"
    tag = job_tag(job)
    assert tag.kind is JobKind.GPU
    assert tag.stage_name == "data efficiency"


def test_maker_takes_the_papers_settings_unless_given():
    default = FineTuneMaker(strategy="multihead").make(None, [], "f.model")
    assert default.function_kwargs["settings"] == default_settings("multihead")
    mine = default_settings("transfer").model_copy(update={"max_num_epochs": 3})
    given = FineTuneMaker(strategy="transfer", hyperparameters=mine).make(None, [], "f.model")
    assert given.function_kwargs["settings"].max_num_epochs == 3
    with pytest.raises(ValueError, match="not a valid FineTuneStrategy"):
        FineTuneMaker(strategy="lora_ful").make(None, [], "f.model")


def test_subsets_grow_from_the_outermost_frames(random_mace_si):
    statics = labelled_statics(str(random_mace_si), 9)
    data = training_data_document(statics)
    sizes = [len(split_statics(data, statics, k)[0]) for k in (0, 1, 2)]
    assert sizes == [2, 4, 6]
    train0, valid0 = split_statics(data, statics, 0)
    assert [s.label for s in train0] == ["0", "3"]  # frame 0 of trajectories 0 and 1
    assert len(valid0) == 3  # the validation set is always complete
    with pytest.raises(ValueError, match="9 frames but 8 DFT statics"):
        split_statics(data, statics[:8])
    with pytest.raises(ValueError, match="Need training and validation frames"):
        split_statics(data, statics, -1)
