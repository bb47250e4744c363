"""Surrogate distillation: a smaller, faster MACE student of a fine-tuned teacher.

Radova et al. (npj Comput. Mater. 11, 237 (2025), arXiv 2502.15582) fine-tune a foundation
model with frozen layers and then distil it into a cheaper potential trained on structures
labelled by the fine-tuned model. Here the teacher is any fine-tuned model of this package;
the student is a small MACE trained from scratch (mace-torch) on teacher-labelled rattled and
strained supercells of the material (hiphive MC rattle, paper §4.2 style, plus a random
strain), and the document reports student-vs-teacher errors on held-out teacher-labelled
structures, both against DFT when validation statics are given, and the speed ratio.

The machinery (labels from any teacher calculator, :func:`train_student` from scratch) is
also what builds the offline stand-in foundation from CHGNet
(:mod:`mlip_finetune.fitting.standin`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jobflow import Job, Maker, job
from pydantic import BaseModel, Field

from mlip_finetune.fitting.strategies import FineTuneStrategy
from mlip_finetune.schemas.fitting import SurrogateDocument, TrainSettings
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pymatgen.core import Structure

    from mlip_finetune.schemas.dft import StaticDocument
    from mlip_finetune.schemas.evaluation import ValidationMetrics
    from mlip_finetune.schemas.fitting import EpochRecord, MaceTrainResult

__all__ = [
    "DistillationSettings",
    "SurrogateDocument",
    "SurrogateMaker",
    "distil_surrogate",
    "distillation_structures",
    "time_calculator",
    "train_student",
]


def _student_training() -> TrainSettings:
    """Scratch-training defaults (paper §4.3 multi-head values) for the student."""
    return TrainSettings(lr=0.01, weight_decay=5e-7, max_num_epochs=200, batch_size=4)


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
    train: TrainSettings = Field(
        default_factory=_student_training,
        description="Training of the student (E0s: the teacher's, passed explicitly).",
    )
    timing_repeats: int = Field(default=5, description="Energy+force calls timed per model.")
    seed: int = 7


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
    from mlip_finetune.data.perturbations import mc_rattle, strain_and_rattle

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
    from mlip_finetune.core.calculators import mace_calculator

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


def train_student(
    train: Sequence[StaticDocument],
    valid: Sequence[StaticDocument],
    settings: TrainSettings,
    *,
    work_dir: Path,
    name: str,
    device: str,
    architecture: dict[str, str] | None = None,
    label: str = FineTuneStrategy.SCRATCH.value,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> MaceTrainResult:
    """Train a MACE student from scratch on teacher labels (mace-torch).

    Writes ``train.xyz`` and ``valid.xyz`` into ``work_dir`` and runs mace's scratch
    training there (:func:`~mlip_finetune.fitting.mace_backend.build_mace_train_args` with
    strategy ``scratch``, no foundation).

    Parameters
    ----------
    train, valid
        Teacher-labelled structures (eV, eV/Å, GPa).
    settings
        Training settings; their E0s and seed are used as given.
    work_dir
        Directory of the data files, checkpoints, log and ``<name>.model`` (created).
    name
        Model name.
    device
        ``"cpu"`` or ``"cuda"`` (already resolved).
    architecture
        mace architecture arguments of the student; None uses the settings' architecture
        fields (``model``, ``r_max``, ``num_channels``, ``max_L``, ...).
    label
        Name of the training in progress and error messages.
    on_epoch
        Called with each epoch's validation errors.

    Returns
    -------
    MaceTrainResult
        The student's model file and per-epoch validation errors.

    Raises
    ------
    mlip_finetune.fitting.mace_backend.TrainingError
        If the training fails or diverges.
    """
    from mlip_finetune.fitting.dataset import write_extxyz
    from mlip_finetune.fitting.mace.args import build_mace_train_args
    from mlip_finetune.fitting.mace.run import run_mace_train

    work_dir.mkdir(parents=True, exist_ok=True)
    args = build_mace_train_args(
        settings,
        strategy=FineTuneStrategy.SCRATCH,
        name=name,
        train_file=write_extxyz(train, work_dir / "train.xyz"),
        valid_file=write_extxyz(valid, work_dir / "valid.xyz"),
        work_dir=work_dir,
        device=device,
        architecture=architecture,
    )
    return run_mace_train(args, work_dir, label=label, on_epoch=on_epoch)


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
            Output: :class:`SurrogateDocument`; tagged GPU, stage surrogate.
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
        return tag_job(distil, JobKind.GPU, Stage.SURROGATE)


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

    from mlip_finetune.core.calculators import mace_calculator, resolve_device
    from mlip_finetune.core.labelling import label_with_model
    from mlip_finetune.core.provenance import sha256_file
    from mlip_finetune.evaluation.metrics import validation_metrics
    from mlip_finetune.fitting.e0s import model_e0s

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
    result = train_student(
        train,
        valid,
        settings.train.model_copy(
            update={"E0s": repr(model_e0s(teacher_model_path)), "seed": settings.seed}
        ),
        work_dir=(Path.cwd() / "student").resolve(),
        name="surrogate",
        device=device,
        architecture=architecture,
    )
    student = mace_calculator(result.model_path, device=device)
    dft_metrics = _against_dft(
        {"student": student, "teacher": teacher}, dft_validation, training_data
    )
    timing_structure = train[0].structure
    teacher_time = time_calculator(teacher, timing_structure, settings.timing_repeats)
    student_time = time_calculator(student, timing_structure, settings.timing_repeats)
    return SurrogateDocument(
        teacher_path=str(teacher_model_path),
        teacher_sha256=sha256_file(teacher_model_path),
        student_path=result.model_path,
        student_sha256=sha256_file(result.model_path),
        architecture=architecture,
        teacher_parameters=_parameters(teacher_model_path),
        student_parameters=_parameters(result.model_path),
        n_train_structures=len(train),
        n_valid_structures=len(valid),
        student_vs_teacher=validation_metrics(student, valid),
        student_vs_dft=dft_metrics.get("student"),
        teacher_vs_dft=dft_metrics.get("teacher"),
        timing_atoms=len(timing_structure),
        teacher_time_s=teacher_time,
        student_time_s=student_time,
        speed_ratio=teacher_time / student_time,
        epochs=result.epochs,
        wall_time_s=time.perf_counter() - start,
    )


def _against_dft(
    calculators: dict[str, object], dft_validation: list | None, training_data: object | None
) -> dict[str, ValidationMetrics]:
    """Each calculator against the DFT validation statics (mean per-atom offset removed)."""
    from mlip_finetune.evaluation.metrics import energy_offset_per_atom, validation_metrics
    from mlip_finetune.schemas.dft import StaticDocument

    if not dft_validation:
        return {}
    statics = [StaticDocument.model_validate(s) for s in dft_validation]
    if training_data is not None:
        from mlip_finetune.fitting.jobs import split_statics

        statics = split_statics(training_data, statics)[1]
    metrics = {}
    for key, calc in calculators.items():
        offset = energy_offset_per_atom(calc, statics)
        metrics[key] = validation_metrics(calc, statics, energy_offset_per_atom=offset)
    return metrics
