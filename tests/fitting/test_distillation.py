"""Surrogate distillation: a real tiny student trained on teacher labels."""

from pathlib import Path

import pytest
from jobflow import run_locally

from mlip_finetune.fitting.distillation import (
    DistillationSettings,
    SurrogateMaker,
    distillation_structures,
)
from mlip_finetune.schemas.fitting import SurrogateDocument, TrainSettings
from mlip_finetune.schemas.jobs import JobKind, job_tag
from tests.fitting.conftest import labelled_statics as _labelled


def test_structures_are_rattled_supercells(si_primitive):
    settings = DistillationSettings(n_structures=8, min_atoms=16)
    structures = distillation_structures(si_primitive, settings)
    assert len(structures) == 8
    assert all(len(s) == 16 for s in structures)
    assert len({round(s.volume, 6) for s in structures}) == 8  # strained differently


def test_student_is_smaller_and_learns_the_teacher(tmp_path, monkeypatch, si_primitive):
    from tests.conftest import build_random_mace

    monkeypatch.chdir(tmp_path)
    teacher = str(build_random_mace(tmp_path / "teacher.model", [14], [-5.4], seed=3))
    settings = DistillationSettings(
        n_structures=14,
        n_validation=4,
        min_atoms=8,
        architecture={
            "model": "MACE",
            "num_channels": "4",
            "max_L": "0",
            "num_interactions": "1",
            "correlation": "1",
        },
        train=TrainSettings(lr=0.01, weight_decay=5e-7, max_num_epochs=8, batch_size=2),
        timing_repeats=2,
    )
    dft = _labelled(teacher, 3)
    job = SurrogateMaker(settings=settings, device="cpu").make(si_primitive, teacher, dft)
    assert job.name == "distil surrogate"
    tag = job_tag(job)
    assert (tag.kind, tag.stage_name) == (JobKind.GPU, "surrogate")
    responses = run_locally(job, create_folders=True, ensure_success=True)
    doc = SurrogateDocument.model_validate(responses[job.uuid][1].output)
    assert doc.student_parameters < doc.teacher_parameters
    assert doc.n_train_structures == 10
    assert doc.student_vs_teacher.n_structures == 4
    # it learnt: the last epoch's validation force error is below the first's
    assert doc.epochs[-1].force_mae_mev_per_angstrom < doc.epochs[0].force_mae_mev_per_angstrom
    assert doc.student_vs_dft is not None
    assert doc.teacher_vs_dft is not None
    assert doc.speed_ratio == pytest.approx(doc.teacher_time_s / doc.student_time_s)
    assert doc.architecture["r_max"] == "4.5"  # the teacher's cutoff
    # the student was trained from scratch in the job's "student" directory
    student = Path(doc.student_path)
    assert (student.parent.name, student.name) == ("student", "surrogate.model")
    assert (student.parent / "train.xyz").is_file()


def test_too_few_structures_is_refused(si_primitive, random_mace_si):
    from mlip_finetune.fitting.distillation import distil_surrogate

    with pytest.raises(ValueError, match="too few"):
        distil_surrogate.original(
            si_primitive,
            str(random_mace_si),
            settings=DistillationSettings(n_structures=5, n_validation=4),
        )
