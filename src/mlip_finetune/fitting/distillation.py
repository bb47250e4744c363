"""Surrogate distillation: a smaller, faster MACE student of a fine-tuned teacher.

Radova et al. (npj Comput. Mater. 11, 237 (2025), arXiv 2502.15582) fine-tune a foundation
model with frozen layers and then distil it into a cheaper potential trained on structures
labelled by the fine-tuned model. Here the teacher is any fine-tuned model of this package;
the student is a small MACE trained from scratch (mace-torch) on teacher-labelled rattled and
strained supercells of the material (hiphive MC rattle, paper §4.2 style, plus a random
strain), and the document reports student-vs-teacher errors on held-out teacher-labelled
structures, both against DFT when validation statics are given, and the speed ratio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jobflow import Job, Maker, job
from pydantic import BaseModel, Field

from mlip_finetune.fitting.mace_backend import EpochRecord  # noqa: TC001
from mlip_finetune.fitting.strategies import MaceTrainSettings
from mlip_finetune.schemas.evaluation import ValidationMetrics  # noqa: TC001

if TYPE_CHECKING:
    from pymatgen.core import Structure


def _student_training() -> MaceTrainSettings:
    """Scratch-training defaults (paper §4.3 multi-head values) for the student."""
    return MaceTrainSettings(lr=0.01, weight_decay=5e-7, max_num_epochs=200, batch_size=4)


class DistillationSettings(BaseModel):
    """How the student is built and trained."""

    n_structures: int = Field(default=60, description="Teacher-labelled structures.")
    n_validation: int = Field(default=10, description="Of which held out for validation.")
    rattle_amplitudes: tuple[float, ...] = Field(
        default=(0.01, 0.03, 0.05, 0.1),
        description="hiphive MC-rattle amplitudes (Å), used in turn.",
    )
    max_strain: float = Field(default=0.03, description="Random symmetric strain bound.")
    min_atoms: int = Field(default=32, description="Supercells hold at least this many atoms.")
    architecture: dict[str, str] = Field(
        default_factory=lambda: {
            "model": "MACE",
            "num_channels": "32",
            "max_L": "0",
            "num_interactions": "2",
            "correlation": "2",
            "max_ell": "2",
        },
        description="mace architecture arguments of the student (r_max: the teacher's unless "
        "given). Invariant (L = 0) messages and 32 channels by default.",
    )
    train: MaceTrainSettings = Field(
        default_factory=_student_training,
        description="Training of the student (E0s: the teacher's, passed explicitly).",
    )
    timing_repeats: int = Field(default=5, description="Energy+force calls timed per model.")
    seed: int = 7


class SurrogateDocument(BaseModel):
    """A distilled student and how it compares with its teacher."""

    teacher_path: str
    teacher_sha256: str
    student_path: str = Field(description="Plain MACE model file of the student.")
    student_sha256: str
    architecture: dict[str, str] = Field(description="Student's mace architecture arguments.")
    teacher_parameters: int = Field(description="Trainable parameters of the teacher.")
    student_parameters: int = Field(description="Trainable parameters of the student.")
    n_train_structures: int
    n_valid_structures: int
    student_vs_teacher: ValidationMetrics = Field(
        description="Student against teacher labels on held-out structures (no offset)."
    )
    student_vs_dft: ValidationMetrics | None = Field(
        default=None, description="Student against the DFT validation statics, if given."
    )
    teacher_vs_dft: ValidationMetrics | None = None
    timing_atoms: int = Field(description="Atoms of the supercell used for timing.")
    teacher_time_s: float = Field(description="Median energy+forces+stress call (s).")
    student_time_s: float = Field(description="Median energy+forces+stress call (s).")
    speed_ratio: float = Field(description="teacher_time_s / student_time_s (> 1: faster).")
    epochs: list[EpochRecord]
    wall_time_s: float = Field(description="Labelling + training wall time (s).")


def distillation_structures(structure: Structure, settings: DistillationSettings) -> list:
    """Rattled and strained supercells of the material for teacher labelling.

    Parameters
    ----------
    structure
        The material (any cell; its primitive cell is replicated).
    settings
        Counts, amplitudes (Å), strain bound and the minimum supercell size.

    Returns
    -------
    list of pymatgen.core.Structure
        ``settings.n_structures`` structures: strain (:func:`strain_and_rattle` without
        rattle), then hiphive MC rattle (:func:`mc_rattle`) with the amplitudes in turn.
    """
    from mlip_finetune.data.utils import mc_rattle, strain_and_rattle

    rng = np.random.default_rng(settings.seed)
    prim = structure.get_primitive_structure()
    reps = 1
    while len(prim) * reps**3 < settings.min_atoms:
        reps += 1
    base = prim * (reps, reps, reps)
    out = []
    for i in range(settings.n_structures):
        strained = strain_and_rattle(base, rng, settings.max_strain, 0.0)
        amplitude = settings.rattle_amplitudes[i % len(settings.rattle_amplitudes)]
        out.append(mc_rattle(strained, amplitude=amplitude, seed=settings.seed + i))
    return out


def _parameters(model_path: str) -> int:
    from mlip_finetune.calculators import mace_calculator

    model = mace_calculator(model_path, device="cpu").models[0]
    return sum(p.numel() for p in model.parameters())


def time_calculator(calculator: object, structure: Structure, repeats: int = 5) -> float:
    """Median wall time of one energy+forces+stress evaluation (s).

    Parameters
    ----------
    calculator
        ASE calculator.
    structure
        Structure evaluated (positions nudged between calls so nothing is cached).
    repeats
        Timed calls, after one untimed warm-up call.

    Returns
    -------
    float
        Median time (s).
    """
    atoms = structure.to_ase_atoms()
    atoms.calc = calculator
    atoms.get_forces()
    times = []
    for i in range(repeats):
        atoms.positions[0, 0] += 1e-4 * (i + 1)
        start = time.perf_counter()
        atoms.get_potential_energy()
        atoms.get_forces()
        atoms.get_stress()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@dataclass
class SurrogateMaker(Maker):
    """Distil a fine-tuned teacher into a smaller MACE student (Radova et al. 2025).

    Parameters
    ----------
    name
        Job name.
    settings
        Structures, student architecture and training.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    name: str = "distil surrogate"
    settings: DistillationSettings = field(default_factory=DistillationSettings)
    device: str = "auto"

    def make(
        self,
        structure: Structure,
        teacher_model_path: str,
        dft_validation: list | None = None,
        training_data: object | None = None,
    ) -> Job:
        """Return the distillation job.

        Parameters
        ----------
        structure
            The material.
        teacher_model_path
            The fine-tuned teacher (e.g. ``FineTuneDocument.model_path`` or its reference).
        dft_validation
            Optional DFT statics to measure student and teacher against DFT.
        training_data
            If given, the :class:`~mlip_finetune.schemas.data.TrainingDataDocument` of
            ``dft_validation``: only its validation frames are used (the teacher was trained
            on the others).

        Returns
        -------
        jobflow.Job
            Output: :class:`SurrogateDocument`.
        """
        distil = distil_surrogate(
            structure,
            teacher_model_path,
            settings=self.settings,
            device=self.device,
            dft_validation=dft_validation,
            training_data=training_data,
        )
        distil.name = self.name
        return distil


@job(output_schema=SurrogateDocument)
def distil_surrogate(
    structure: Structure,
    teacher_model_path: str,
    *,
    settings: DistillationSettings,
    device: str = "auto",
    dft_validation: list | None = None,
    training_data: object | None = None,
) -> SurrogateDocument:
    """Label structures with the teacher, train the student, compare them.

    Parameters
    ----------
    structure
        The material.
    teacher_model_path
        Teacher MACE model file.
    settings
        :class:`DistillationSettings`.
    device
        Torch device for labelling, training and timing.
    dft_validation
        Optional DFT statics (:class:`~mlip_finetune.schemas.dft.StaticDocument`).
    training_data
        Optional TrainingDataDocument of ``dft_validation``; only its validation frames are
        then compared.

    Returns
    -------
    SurrogateDocument
        Student file, errors against the teacher (and DFT), parameter counts, speed ratio.

    Raises
    ------
    ValueError
        If fewer than 2 structures would remain for training.
    mlip_finetune.fitting.mace_backend.TrainingError
        If the student's training fails or diverges.
    """
    from pymatgen.core import Structure as PmgStructure

    from mlip_finetune.calculators import mace_calculator, resolve_device
    from mlip_finetune.evaluation.metrics import energy_offset_per_atom, validation_metrics
    from mlip_finetune.fitting.e0s import model_e0s
    from mlip_finetune.fitting.replay import label_with_model
    from mlip_finetune.fitting.training import train_model
    from mlip_finetune.schemas.dft import StaticDocument
    from mlip_finetune.utils import sha256_file

    if settings.n_structures - settings.n_validation < 2:  # noqa: PLR2004
        raise ValueError(
            f"{settings.n_structures} structures with {settings.n_validation} held out leave "
            "too few to train a student."
        )
    start = time.perf_counter()
    device = resolve_device(device)
    structure = PmgStructure.from_dict(structure.as_dict())
    labelled = label_with_model(
        distillation_structures(structure, settings),
        teacher_model_path,
        label="distillation",
        device=device,
    )
    valid, train = labelled[: settings.n_validation], labelled[settings.n_validation :]
    teacher = mace_calculator(teacher_model_path, device=device)
    architecture = {"r_max": str(float(teacher.models[0].r_max))} | settings.architecture
    train_settings = settings.train.model_copy(
        update={"E0s": repr(model_e0s(teacher_model_path)), "seed": settings.seed}
    )
    outcome = train_model(
        "scratch",
        train_settings,
        train=train,
        valid=valid,
        foundation_model_path=teacher_model_path,
        work_dir=Path.cwd() / "student",
        device=device,
        name="surrogate",
        architecture=architecture,
    )
    student = mace_calculator(outcome.model_path, device=device)
    dft_metrics: dict[str, ValidationMetrics] = {}
    if dft_validation:
        statics = [StaticDocument.model_validate(s) for s in dft_validation]
        if training_data is not None:
            from mlip_finetune.fitting.jobs import split_statics

            statics = split_statics(training_data, statics)[1]
        for key, calc in (("student", student), ("teacher", teacher)):
            offset = energy_offset_per_atom(calc, statics)
            dft_metrics[key] = validation_metrics(calc, statics, energy_offset_per_atom=offset)
    timing_structure = train[0].structure
    teacher_time = time_calculator(teacher, timing_structure, settings.timing_repeats)
    student_time = time_calculator(student, timing_structure, settings.timing_repeats)
    return SurrogateDocument(
        teacher_path=str(teacher_model_path),
        teacher_sha256=sha256_file(teacher_model_path),
        student_path=outcome.model_path,
        student_sha256=sha256_file(outcome.model_path),
        architecture=architecture,
        teacher_parameters=_parameters(teacher_model_path),
        student_parameters=_parameters(outcome.model_path),
        n_train_structures=len(train),
        n_valid_structures=len(valid),
        student_vs_teacher=validation_metrics(student, valid),
        student_vs_dft=dft_metrics.get("student"),
        teacher_vs_dft=dft_metrics.get("teacher"),
        timing_atoms=len(timing_structure),
        teacher_time_s=teacher_time,
        student_time_s=student_time,
        speed_ratio=teacher_time / student_time,
        epochs=outcome.result.epochs,
        wall_time_s=time.perf_counter() - start,
    )
