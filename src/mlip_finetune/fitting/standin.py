"""An offline stand-in foundation: a small MACE distilled from CHGNet.

This machine (and many compute nodes) cannot download MACE-MP-0b3. CHGNet ships its weights
inside its wheel and loads offline, so distilling a small MACE from CHGNet labels (the
surrogate idea of Radova et al., arXiv 2502.15582) gives a real, offline foundation for local
end-to-end runs. It is always labelled "stand-in" and never silently replaces MACE-MP-0b3
(DESIGN.md, "Models and offline machines").

The distillation is :mod:`mlip_finetune.fitting.distillation`'s: teacher labels from
:func:`mlip_finetune.core.labelling.label_structures` (teacher = CHGNet) and a student
trained from scratch by :func:`mlip_finetune.fitting.distillation.train_student`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from mlip_finetune.core.provenance import package_versions, sha256_file
from mlip_finetune.fitting.distillation import train_student
from mlip_finetune.fitting.strategies import FOUNDATION_ONLY_FIELDS
from mlip_finetune.foundation import STANDIN, FoundationModel
from mlip_finetune.foundation.elements import check_teacher_elements
from mlip_finetune.schemas.fitting import TrainSettings

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from mlip_finetune.schemas.dft import StaticDocument

__all__ = [
    "StandinReport",
    "StandinSettings",
    "TeacherPhonons",
    "build_standin_foundation",
    "chgnet_calculator",
    "compare_with_teacher",
    "label_with_chgnet",
    "read_standin_report",
    "standin_model_path",
    "standin_structures",
]

logger = logging.getLogger(__name__)

#: Phonon MAE against the teacher (THz) below which the stand-in's "foundation" rows reflect
#: its teacher, a real universal potential, rather than the student's own softness.
TEACHER_PHONON_TARGET_THZ = 0.3
#: Minimum phonon supercell height (Å) and q-mesh length (Å) of the teacher comparison:
#: the ``local`` preset's phonon supercells, a coarse mesh (seconds for both models).
TEACHER_PHONON_MIN_LENGTH = 7.0
TEACHER_PHONON_MESH = 20.0


class StandinSettings(BaseModel):
    """How the stand-in foundation is built."""

    n_material: int = Field(default=120, description="Perturbed supercells of the material itself.")
    n_elemental: int = Field(
        default=12, description="Perturbed elemental bcc/fcc cells per element."
    )
    min_supercell_atoms: int = Field(default=8, description="Smallest supercell size (atoms).")
    max_strain: float = Field(default=0.04, description="Max |linear strain| per component.")
    max_rattle: float = Field(default=0.15, description="Max rattle standard deviation (Å).")
    n_harmonic: int = Field(
        default=24,
        ge=0,
        description=(
            "Small-amplitude rattles of the material's phonon supercell (no strain), so the "
            "student learns the teacher's force constants and not only its forces far from "
            "equilibrium."
        ),
    )
    harmonic_min_length: float = Field(
        default=TEACHER_PHONON_MIN_LENGTH,
        gt=0,
        description=(
            "Minimum height (Å) of that supercell, the phonon supercell rule of "
            "mlip_finetune.evaluation.supercells.phonon_supercell_matrix."
        ),
    )
    harmonic_rattle: tuple[float, float] = Field(
        default=(0.005, 0.03),
        description="Range (Å) of the small rattles' standard deviations, one per structure.",
    )
    train: TrainSettings = Field(
        default_factory=lambda: TrainSettings(
            lr=0.01,
            weight_decay=5e-7,
            E0s="average",
            max_num_epochs=60,
            batch_size=8,
            valid_batch_size=16,
            energy_weight=10.0,
            forces_weight=100.0,
            stress_weight=100.0,
            huber_delta=0.01,
            r_max=5.0,
            num_channels=32,
            max_L=1,
            correlation=2,
            scheduler_patience=3,
        ),
        description="mace settings of the distillation (a small MACE, trained from scratch).",
    )
    seed: int = Field(default=7, description="Random seed of structures and training.")


class TeacherPhonons(BaseModel):
    """How closely a stand-in's phonons track its teacher's (:func:`compare_with_teacher`)."""

    phonon_mae_thz: float = Field(
        description="Student vs teacher phonon frequency MAE over the q-mesh (THz)."
    )
    max_frequency_thz: float = Field(description="The student's largest frequency (THz).")
    teacher_max_frequency_thz: float = Field(description="The teacher's largest frequency (THz).")
    supercell_matrix: list[list[int]] = Field(description="Phonon supercell of the comparison.")
    n_atoms: int = Field(description="Atoms of that supercell.")
    target_thz: float = Field(
        default=TEACHER_PHONON_TARGET_THZ, description="The MAE a stand-in should stay below."
    )

    @property
    def on_target(self) -> bool:
        """True if the phonon MAE is below :attr:`target_thz`."""
        return self.phonon_mae_thz < self.target_thz

    def line(self) -> str:
        """One line for the command line and the logs."""
        verdict = "within" if self.on_target else "ABOVE"
        return (
            f"phonons vs teacher: MAE {self.phonon_mae_thz:.2f} THz ({verdict} the "
            f"{self.target_thz:g} THz target), ω_max {self.max_frequency_thz:.2f} THz vs "
            f"{self.teacher_max_frequency_thz:.2f} THz, {self.n_atoms}-atom supercell"
        )


class StandinReport(BaseModel):
    """Provenance of a built stand-in, stored next to the model as ``standin.json``."""

    model_path: str
    sha256: str
    elements: list[str]
    formula: str
    n_structures: int
    teacher: str = Field(description="Teacher model and version.")
    build_time_s: float = Field(description="Labelling + training wall time (s).")
    valid_force_mae: float | None = Field(description="Student vs teacher force MAE (meV/Å).")
    valid_energy_mae: float | None = Field(description="Student vs teacher (meV/atom).")
    teacher_phonons: TeacherPhonons | None = Field(
        default=None,
        description="The student's phonons against its teacher's (None: not compared yet).",
    )
    settings: dict


def _key(structure: Structure, settings: StandinSettings) -> str:
    """Cache key of a stand-in: the material's cell and the build settings (16 hex digits)."""
    # The stand-in trains from scratch: settings scratch training ignores do not change the
    # model, so they are not part of the cache key (adding such fields keeps caches valid).
    payload = json.dumps(
        {
            "formula": structure.composition.reduced_formula,
            "lattice": np.round(structure.lattice.parameters, 3).tolist(),
            "n": len(structure),
            "settings": settings.model_dump(
                mode="json", exclude={"train": set(FOUNDATION_ONLY_FIELDS)}
            ),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def standin_structures(structure: Structure, settings: StandinSettings) -> list[Structure]:
    """Generate the structures the stand-in is distilled on.

    Parameters
    ----------
    structure
        The material. Supercells of its primitive cell with at least
        ``settings.min_supercell_atoms`` atoms are strained (random symmetric strain up to
        ``max_strain``) and rattled (Gaussian, σ uniform in [0, ``max_rattle``] Å); elemental
        bcc and fcc cells of each element at volumes from the element's atomic radius ±10 %
        are added so the student sees each element outside the material too; last,
        ``n_harmonic`` small rattles of the material's phonon supercell
        (:func:`_harmonic_structures`).
    settings
        Counts and amplitudes.

    Returns
    -------
    list of pymatgen.core.Structure
        ``n_material + n_elemental · n_elements + n_harmonic`` structures, in that order.
    """
    from pymatgen.core import Lattice
    from pymatgen.core import Structure as PmgStructure

    from mlip_finetune.data.perturbations import strain_and_rattle

    rng = np.random.default_rng(settings.seed)
    prim = structure.get_primitive_structure()
    reps = 1
    while len(prim) * reps**3 < settings.min_supercell_atoms:
        reps += 1
    base = prim * (reps, reps, reps) if reps > 1 else prim.copy()
    out = [
        strain_and_rattle(base, rng, settings.max_strain, settings.max_rattle)
        for _ in range(settings.n_material)
    ]
    for element in structure.composition.elements:
        radius = float(element.atomic_radius or 1.5)
        for i in range(settings.n_elemental):
            kind = "bcc" if i % 2 else "fcc"
            scale = 1.0 + rng.uniform(-0.1, 0.1)
            if kind == "fcc":
                a = 2 * np.sqrt(2) * radius * scale
                cell = PmgStructure.from_spacegroup(
                    "Fm-3m", Lattice.cubic(a), [element], [[0, 0, 0]]
                )
            else:
                a = 4 * radius / np.sqrt(3) * scale
                cell = PmgStructure.from_spacegroup(
                    "Im-3m", Lattice.cubic(a), [element], [[0, 0, 0]]
                )
            out.append(strain_and_rattle(cell, rng, settings.max_strain, settings.max_rattle))
    return out + _harmonic_structures(prim, settings, rng)


def _harmonic_structures(
    prim: Structure, settings: StandinSettings, rng: np.random.Generator
) -> list[Structure]:
    """Small rattles of the phonon supercell: the teacher's force constants to learn.

    Rattles of up to 0.15 Å in the small supercells of ``n_material`` sample the teacher far
    from equilibrium, where a soft crystal's forces are anharmonic; a student fitted to them
    alone got hcp Mg's phonons to 0.14 THz of CHGNet's but fcc Al's to 1.54 THz (ω_max 5.83
    against 3.43 THz) and Si's to 1.06 THz. These structures sample the harmonic regime on
    the supercell of the phonon comparison (:func:`compare_with_teacher`), so the student's
    force constants are fixed at the same q-points as the teacher's. The displacements are
    hiphive's (``generate_rattled_structures``, Gaussian per Cartesian component), with one
    standard deviation per structure drawn from ``settings.harmonic_rattle``. Measured on the
    same input cells, 24 of them took Si from 1.32 to 0.93 THz and Al from 1.54 to 1.11 THz
    (docs/presets.md), at twice the build time.
    """
    if settings.n_harmonic == 0:
        return []
    from hiphive.structure_generation import generate_rattled_structures
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlip_finetune.evaluation.supercells import phonon_supercell_matrix

    matrix = phonon_supercell_matrix(prim, settings.harmonic_min_length)
    atoms = prim.make_supercell(matrix, in_place=False).to_ase_atoms()
    low, high = settings.harmonic_rattle
    return [
        AseAtomsAdaptor.get_structure(
            generate_rattled_structures(atoms, 1, float(std), seed=int(seed))[0]
        )
        for std, seed in zip(
            rng.uniform(low, high, settings.n_harmonic),
            rng.integers(0, 2**31 - 1, settings.n_harmonic),
            strict=True,
        )
    ]


def chgnet_calculator() -> Calculator:
    """CHGNet's ASE calculator on the CPU (weights ship in its wheel, no download)."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(model=CHGNet.load(verbose=False), use_device="cpu")


def label_with_chgnet(structures: list[Structure]) -> list[StaticDocument]:
    """Label structures with CHGNet (weights ship in its wheel, no download).

    Parameters
    ----------
    structures
        Structures to label.

    Returns
    -------
    list of mlip_finetune.schemas.dft.StaticDocument
        Energy (eV), forces (eV/Å), stress (GPa, ASE sign), engine ``"chgnet"``, labels
        ``"chgnet i"``; ``kpoints`` ``[1, 1, 1]`` as the stand-in has always recorded (a
        model has no k-point mesh; nothing reads it).
    """
    from mlip_finetune.core.labelling import label_structures

    return label_structures(
        structures, chgnet_calculator(), label="chgnet", engine="chgnet", kpoints=[1, 1, 1]
    )


def compare_with_teacher(
    structure: Structure,
    model_path: str | Path,
    teacher: Calculator | None = None,
    *,
    min_length: float = TEACHER_PHONON_MIN_LENGTH,
    mesh: float = TEACHER_PHONON_MESH,
) -> TeacherPhonons:
    """Compare a stand-in's phonons with its teacher's on the same cell.

    Both models see the same primitive cell (the input geometry, relaxed by neither, so the
    comparison measures the force constants, not two equilibrium volumes) and the same
    displaced supercells (:func:`~mlip_finetune.evaluation.supercells.phonon_supercell_matrix`
    at ``min_length``); force constants with symfc, the MAE of
    :func:`~mlip_finetune.evaluation.metrics.phonon_frequency_mae` (paper §3.3) with the
    teacher as the reference.

    Parameters
    ----------
    structure
        The material (Å).
    model_path
        The stand-in's MACE model file.
    teacher
        The teacher's ASE calculator; None loads CHGNet (:func:`chgnet_calculator`).
    min_length
        Minimum phonon supercell height (Å).
    mesh
        q-mesh length (Å, phonopy's rule).

    Returns
    -------
    TeacherPhonons
        MAE and both largest frequencies (THz), the supercell used.
    """
    from mlip_finetune.core.calculators import mace_calculator
    from mlip_finetune.evaluation.metrics import phonon_frequency_mae
    from mlip_finetune.evaluation.phonons import phonon_document_from_calculator
    from mlip_finetune.evaluation.supercells import phonon_supercell_matrix

    cell = structure.get_primitive_structure()
    matrix = phonon_supercell_matrix(cell, min_length)
    docs = {
        name: phonon_document_from_calculator(cell, calc, name, matrix, mesh=mesh)
        for name, calc in (
            ("teacher", teacher if teacher is not None else chgnet_calculator()),
            ("stand-in", mace_calculator(model_path, device="cpu")),
        )
    }
    return TeacherPhonons(
        phonon_mae_thz=phonon_frequency_mae(docs["stand-in"], docs["teacher"]),
        max_frequency_thz=docs["stand-in"].max_frequency,
        teacher_max_frequency_thz=docs["teacher"].max_frequency,
        supercell_matrix=[[int(x) for x in row] for row in matrix],
        n_atoms=round(len(cell) * abs(np.linalg.det(np.asarray(matrix)))),
    )


def standin_model_path(
    structure: Structure,
    cache_dir: str | Path | None = None,
    settings: StandinSettings | None = None,
) -> Path:
    """Return where the stand-in of a material is (or would be) cached; builds nothing.

    Parameters
    ----------
    structure, cache_dir, settings
        As for :func:`build_standin_foundation`.

    Returns
    -------
    pathlib.Path
        ``<cache_dir>/standin/<key>/standin.model``.
    """
    from mlip_finetune.core.settings import get_settings

    settings = settings or StandinSettings()
    root = Path(cache_dir) if cache_dir is not None else get_settings().cache_dir
    return root / "standin" / _key(structure, settings) / "standin.model"


def build_standin_foundation(
    structure: Structure,
    cache_dir: str | Path | None = None,
    settings: StandinSettings | None = None,
    *,
    force: bool = False,
    compare_phonons: bool = True,
) -> FoundationModel:
    """Build (or load from cache) the CHGNet-distilled stand-in foundation for a material.

    Parameters
    ----------
    structure
        The material the stand-in must cover.
    cache_dir
        Cache root; default ``MLIPFinetuneSettings().cache_dir``. The model lands in
        ``<cache_dir>/standin/<key>/standin.model`` with ``standin.json`` beside it.
    settings
        Build settings; part of the cache key.
    force
        Rebuild even when cached.
    compare_phonons
        Compare the stand-in's phonons with its teacher's (:func:`compare_with_teacher`,
        seconds) and record them in ``standin.json``; a cached stand-in without the
        comparison gets it now. False skips it (the test suite's tiny stand-ins).

    Returns
    -------
    FoundationModel
        ``is_standin=True``, name ``"standin"``; the comparison, if made, is logged and is in
        ``standin.json`` (:func:`read_standin_report`).

    Raises
    ------
    UnsupportedElementError
        If the teacher (CHGNet) lacks an element of the material, before anything is built.
    RuntimeError
        If a cached model does not match its recorded sha256.
    """
    check_teacher_elements(el.Z for el in structure.composition.elements)
    model_path = standin_model_path(structure, cache_dir, settings)
    settings = settings or StandinSettings()
    directory = model_path.parent
    report_path = directory / "standin.json"
    if model_path.is_file() and report_path.is_file() and not force:
        report = StandinReport.model_validate_json(report_path.read_text())
        if sha256_file(model_path) != report.sha256:
            raise RuntimeError(
                f"Cached stand-in {model_path} does not match its recorded sha256; delete "
                f"{directory} to rebuild it."
            )
        logger.info("Using cached stand-in foundation %s", model_path)
        # the cache may have been moved: trust the directory, not the recorded path
        report = report.model_copy(update={"model_path": str(model_path.resolve())})
        if compare_phonons and report.teacher_phonons is None:
            report = _with_teacher_phonons(structure, report, report_path)
        return _as_foundation(report)
    directory.mkdir(parents=True, exist_ok=True)
    report = _distil(structure, settings, directory)
    report_path.write_text(report.model_dump_json(indent=2))
    logger.info("Stand-in built in %.0f s: %s", report.build_time_s, model_path)
    if compare_phonons:
        report = _with_teacher_phonons(structure, report, report_path)
    return _as_foundation(report)


def _with_teacher_phonons(
    structure: Structure, report: StandinReport, report_path: Path
) -> StandinReport:
    """Compare the stand-in's phonons with its teacher's, record and log the comparison.

    A comparison that fails (phonopy or symfc on an unusual cell) is logged and not
    recorded: it is a diagnostic, and the stand-in stays usable.
    """
    try:
        phonons = compare_with_teacher(structure, report.model_path)
    except (RuntimeError, ValueError) as error:
        logger.warning("Stand-in phonons could not be compared with the teacher's: %s", error)
        return report
    report = report.model_copy(update={"teacher_phonons": phonons})
    report_path.write_text(report.model_dump_json(indent=2))
    (logger.info if phonons.on_target else logger.warning)("Stand-in %s", phonons.line())
    return report


def read_standin_report(model_path: str | Path) -> StandinReport | None:
    """Return the ``standin.json`` next to a stand-in model, or None if there is none.

    Parameters
    ----------
    model_path
        The stand-in's model file.

    Returns
    -------
    StandinReport or None
        The build record, with the teacher comparison if one was made.
    """
    path = Path(model_path).parent / "standin.json"
    return StandinReport.model_validate_json(path.read_text()) if path.is_file() else None


def _distil(structure: Structure, settings: StandinSettings, directory: Path) -> StandinReport:
    """Label the stand-in's structures with CHGNet and train the student in ``directory``."""
    from chgnet import __version__ as chgnet_version

    start = time.perf_counter()
    structures = standin_structures(structure, settings)
    logger.info("Stand-in: labelling %d structures with CHGNet", len(structures))
    docs = label_with_chgnet(structures)
    order = np.random.default_rng(settings.seed).permutation(len(docs))
    n_valid = max(2, len(docs) // 10)
    logger.info("Stand-in: training a small MACE on CHGNet labels")
    result = train_student(
        [docs[i] for i in order[n_valid:]],
        [docs[i] for i in order[:n_valid]],
        settings.train.model_copy(update={"seed": settings.seed}),
        work_dir=directory,
        name="standin",
        device="cpu",
        label="stand-in",
        on_epoch=lambda r: logger.info(
            "stand-in epoch %d: loss %.4g, force MAE %.1f meV/Å",
            r.epoch,
            r.loss,
            r.force_mae_mev_per_angstrom,
        ),
    )
    last = result.epochs[-1] if result.epochs else None
    return StandinReport(
        model_path=str((directory / "standin.model").resolve()),
        sha256=sha256_file(result.model_path),
        elements=[el.symbol for el in structure.composition.elements],
        formula=structure.composition.reduced_formula,
        n_structures=len(docs),
        teacher=f"CHGNet {chgnet_version}",
        build_time_s=time.perf_counter() - start,
        valid_force_mae=last.force_mae_mev_per_angstrom if last else None,
        valid_energy_mae=last.energy_mae_mev_per_atom if last else None,
        settings=settings.model_dump(mode="json") | {"versions": package_versions()},
    )


def _as_foundation(report: StandinReport) -> FoundationModel:
    """Return the stand-in as a foundation model, described as a stand-in."""
    return FoundationModel(
        name=STANDIN,
        path=report.model_path,
        sha256=report.sha256,
        is_standin=True,
        description=(
            f"STAND-IN: small MACE distilled from {report.teacher} on {report.n_structures} "
            f"{report.formula} structures (not MACE-MP-0b3)"
        ),
    )
