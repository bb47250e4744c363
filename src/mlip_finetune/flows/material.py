"""One material end to end: data → DFT statics → fine-tuning → phonons → report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jobflow import Flow, Job, Maker

from mlip_finetune.core.errors import InputError
from mlip_finetune.data.jobs import TrainingDataMaker, frame_structures, make_frame_structures
from mlip_finetune.dft.jobs import DFTRelaxMaker, DFTStaticMaker, ReferenceStaticsMaker
from mlip_finetune.evaluation.forgetting import forgetting_check
from mlip_finetune.evaluation.jobs import MLPhononMaker, MLPropertiesMaker, property_errors
from mlip_finetune.fitting.data_efficiency import DataEfficiencyMaker
from mlip_finetune.fitting.distillation import SurrogateMaker  # noqa: TC001
from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.fitting.strategies import FineTuneStrategy
from mlip_finetune.flows.reference import dft_reference_phonons, phonon_displacements
from mlip_finetune.flows.validation import validate_material
from mlip_finetune.report.jobs import material_report
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlip_finetune.foundation import FoundationModel

__all__ = ["MaterialFlowMaker", "frame_structures", "material_report", "phonon_displacements"]


@dataclass
class _Material:
    """What every step of one material's flow needs: the cell, its label and phonon grid."""

    unit_cell: Structure
    label: str
    matrix: object
    mesh: list[int]
    foundation: FoundationModel

    @property
    def provenance(self) -> dict:
        """Foundation provenance recorded by every fine-tuning job."""
        return {
            "foundation_name": self.foundation.name,
            "foundation_sha256": self.foundation.sha256,
            "foundation_is_standin": self.foundation.is_standin,
        }


@dataclass
class MaterialFlowMaker(Maker):
    """Fine-tune a foundation model for one material and compare phonons with DFT.

    Stages (paper §4.1–4.5): foundation-model training data (:class:`TrainingDataMaker`),
    one DFT static per frame (:class:`ReferenceStaticsMaker`, jobs ``"dft static i/N"``),
    one :class:`FineTuneMaker` per strategy, DFT relaxation and DFT phonons on displaced
    supercells (:func:`~mlip_finetune.flows.reference.dft_reference_phonons`, jobs
    ``"dft phonon displacement i/N"``), ML phonons for the foundation and
    every fine-tuned model (:class:`MLPhononMaker`, all displacements in one job), and a
    ``material report`` job (:func:`~mlip_finetune.report.jobs.material_report`).
    Optionally a data-efficiency curve of every strategy (:class:`DataEfficiencyMaker`), a
    distilled surrogate of one fine-tuned model (:class:`SurrogateMaker`) with its phonons,
    the property suite of every model and of DFT (EOS, elastic tensor, Slack κ, phase
    transitions; :class:`MLPropertiesMaker`, :class:`DFTPropertiesMaker` or
    :class:`~mlip_finetune.dft.vasp.VaspPropertiesMaker`) with the errors
    against DFT, and the forgetting check (errors against the foundation's labels on
    structures far from the material).

    Parameters
    ----------
    name
        Flow name.
    training_data_maker
        Data protocol (paper §4.2).
    static_maker
        DFT static of every frame and every phonon displacement: the same settings for both,
        so the comparison is consistent.
    finetune_makers
        One per strategy.
    relax_maker
        DFT relaxation of the input structure before the reference phonons; None skips it
        (the input is used as is).
    ml_phonon_maker
        Phonons with each ML model (each model relaxes the structure itself first).
    phonon_supercell_matrix
        3×3 supercell matrix for all phonon calculations; None derives it from
        ``phonon_min_length``.
    phonon_min_length
        Minimum supercell side (Å) when the matrix is None (paper §4.1: 20 Å).
    displacement
        Finite displacement (Å).
    phonon_mesh
        q-mesh for the phonon MAE; an int triple or a length (Å, phonopy's rule applied to
        the input cell).
    report_dir
        Where plots are written; None uses the report job's own directory.
    data_efficiency
        Also train every strategy on the growing training subsets (frames with
        ``frame_index <= k`` for k < ``n_frames - 1``; the full set is the main models) and
        plot validation force MAE against training-set size (paper §3.2).
    data_efficiency_strategies
        Strategies traced on that curve (each must be one of ``finetune_makers``); None traces
        all of them. Each costs ``n_frames - 1`` extra trainings, so a user may leave out the
        expensive ones (multihead trains on the replay set at every size).
    surrogate_maker
        If given, distil the model of ``surrogate_teacher`` into a smaller student and add
        its phonons as a ``surrogate`` row.
    surrogate_teacher
        Strategy whose model is the teacher; None takes the first strategy.
    ml_properties_maker, dft_properties_maker
        Property suite (paper §3.4–3.5, §4.5–4.6) for every model and for DFT; both or
        neither. The DFT one is a :class:`~mlip_finetune.evaluation.jobs.DFTPropertiesMaker`
        (GPAW) or a :class:`~mlip_finetune.dft.vasp.VaspPropertiesMaker` (atomate2's VASP
        elastic and EOS flows); any Maker whose ``make(structure)`` outputs a
        ``ModelPropertiesDocument`` works. Phonon-derived stability comes from the phonon
        jobs.
    forgetting
        Run the forgetting check (:func:`~mlip_finetune.evaluation.forgetting.forgetting_check`).
    max_dft_atoms
        Most atoms in one DFT static (training frame or phonon displacement); a larger cell
        is refused by :meth:`make` (:class:`~mlip_finetune.flows.validation.DFTSizeError`).
        It also caps atomate2's search for a 90° phonon supercell
        (:func:`~mlip_finetune.evaluation.supercells.atomate2_supercell_matrix`). None: no
        limit. The presets set it (``PresetSizes.max_dft_atoms``).
    preset
        Name of the preset that configured this maker (for messages only); None if none.
    """

    name: str = "finetune material"
    training_data_maker: TrainingDataMaker = field(default_factory=TrainingDataMaker)
    static_maker: Maker = field(default_factory=DFTStaticMaker)
    finetune_makers: list[FineTuneMaker] = field(default_factory=lambda: [FineTuneMaker()])
    relax_maker: Maker | None = field(default_factory=DFTRelaxMaker)
    ml_phonon_maker: MLPhononMaker = field(default_factory=MLPhononMaker)
    phonon_supercell_matrix: list[list[int]] | None = None
    phonon_min_length: float = 20.0
    displacement: float = 0.01
    phonon_mesh: list[int] | float = 50.0
    report_dir: str | None = None
    data_efficiency: bool = False
    data_efficiency_strategies: list[str] | None = None
    surrogate_maker: SurrogateMaker | None = None
    surrogate_teacher: str | None = None
    ml_properties_maker: MLPropertiesMaker | None = None
    dft_properties_maker: Maker | None = None
    forgetting: bool = False
    max_dft_atoms: int | None = None
    preset: str | None = None

    def make(
        self, structure: Structure, foundation: FoundationModel, label: str | None = None
    ) -> Flow:
        """Build the flow for one material.

        Parameters
        ----------
        structure
            The material (any cell; its primitive standard cell is used).
        foundation
            Resolved foundation model (:func:`~mlip_finetune.foundation.resolve_foundation_model`
            or :func:`~mlip_finetune.standin.build_standin_foundation`).
        label
            Material label for the report; default the reduced formula.

        Returns
        -------
        jobflow.Flow
            Output: :class:`~mlip_finetune.schemas.report.MaterialReportDocument`.

        Raises
        ------
        mlip_finetune.core.errors.InputError
            Everything :func:`~mlip_finetune.flows.validation.validate_material` checks, now
            and not on a node: the structure (non-periodic, partial occupancies, atoms too
            close), elements missing from the foundation, the stand-in's teacher or the DFT
            engine, a foundation file that is not a MACE model, cells too big for the preset.
        ValueError
            (an ``InputError`` too) If no fine-tuning strategy is given or two share a
            strategy, the surrogate's teacher is not one of them, a data-efficiency curve is
            asked for with fewer than 2 frames per trajectory or for a strategy that is not
            trained, or only one of the two property makers is given.
        """
        material = self._material(structure, foundation, label)
        data_jobs = self._data_steps(material)
        data, statics = data_jobs[0], data_jobs[-1]
        finetunes = self._finetune_steps(material, data, statics)
        jobs = [*data_jobs, *finetunes]
        data_efficiency = self._data_efficiency(material, data, statics, finetunes)
        jobs += [data_efficiency] if data_efficiency is not None else []
        dft_jobs, dft_phonons = self._reference_steps(material)
        ml_maker, ml_phonons = self._ml_phonon_steps(material, finetunes)
        jobs += [*dft_jobs, *ml_phonons]
        surrogate, surrogate_phonons = self._surrogate(material, finetunes, statics, data, ml_maker)
        jobs += [surrogate, surrogate_phonons] if surrogate is not None else []
        models = self._models(foundation, finetunes, surrogate)
        evaluation_jobs, evaluation = self._evaluation(
            material.unit_cell, models, dft_phonons, [*ml_phonons, surrogate_phonons]
        )
        report = self._report_step(
            material,
            finetunes=finetunes,
            dft_phonons=dft_phonons,
            ml_phonons=ml_phonons,
            data_efficiency=data_efficiency,
            surrogate=surrogate,
            surrogate_phonons=surrogate_phonons,
            evaluation=evaluation,
        )
        jobs += [*evaluation_jobs, report]
        return Flow(jobs, output=report.output, name=f"{self.name} {material.label}")

    def _material(
        self, structure: Structure, foundation: FoundationModel, label: str | None
    ) -> _Material:
        """Check the strategies and everything at the door; the cell and phonon grid."""
        from mlip_finetune.evaluation.phonons import resolve_mesh

        strategies = [m.strategy for m in self.finetune_makers]
        if not strategies:
            raise InputError("MaterialFlowMaker needs at least one FineTuneMaker.")
        if len({str(s) for s in strategies}) != len(strategies):
            raise InputError(f"Strategies must be distinct, got {strategies}.")
        workload = validate_material(structure, foundation, self)
        unit_cell = workload.unit_cell
        return _Material(
            unit_cell=unit_cell,
            label=label or unit_cell.composition.reduced_formula,
            matrix=workload.phonon_matrix,
            mesh=resolve_mesh(unit_cell, self.phonon_mesh),
            foundation=foundation,
        )

    def _data_steps(self, material: _Material) -> list[Job]:
        """Training data, its frames' structures and one DFT static per frame (§4.2)."""
        foundation = material.foundation
        data = self.training_data_maker.make(material.unit_cell, foundation.path, foundation.sha256)
        structures = make_frame_structures(data.output)
        statics = ReferenceStaticsMaker(static_maker=self.static_maker).make(structures.output)
        return [data, structures, statics]

    def _finetune_steps(self, material: _Material, data: Job, statics: Job) -> list[Job]:
        """One fine-tuning job per strategy, on the training data labelled by DFT (§4.3)."""
        return [
            maker.make(data.output, statics.output, material.foundation.path, **material.provenance)
            for maker in self.finetune_makers
        ]

    def _reference_steps(self, material: _Material) -> tuple[list[Job], Job]:
        """DFT reference phonons (:func:`~mlip_finetune.flows.reference.dft_reference_phonons`)."""
        return dft_reference_phonons(
            material.unit_cell,
            material.matrix,
            material.mesh,
            static_maker=self.static_maker,
            relax_maker=self.relax_maker,
            displacement=self.displacement,
            fc_calculator=self.ml_phonon_maker.fc_calculator,
        )

    def _ml_phonon_steps(
        self, material: _Material, finetunes: list[Job]
    ) -> tuple[MLPhononMaker, list[Job]]:
        """Phonons of the foundation and of every fine-tuned model, on the DFT grid."""
        ml_maker = self.ml_phonon_maker.update_kwargs(
            {
                "supercell_matrix": material.matrix,
                "displacement": self.displacement,
                "mesh": material.mesh,
            }
        )
        models = [(material.foundation.path, "foundation")] + [
            (ft.output.model_path, _strategy_name(maker.strategy))
            for ft, maker in zip(finetunes, self.finetune_makers, strict=True)
        ]
        ml_phonons = []
        for model_path, model_label in models:
            phonons = ml_maker.make(material.unit_cell, model_path, model_label)
            phonons.name = f"ml phonons {model_label}"
            tag_job(phonons, JobKind.GPU, Stage.ML_PHONONS)
            ml_phonons.append(phonons)
        return ml_maker, ml_phonons

    def _models(
        self, foundation: FoundationModel, finetunes: list[Job], surrogate: Job | None
    ) -> dict:
        """Label → model path (or reference to it) of every model the suite evaluates."""
        models = {"foundation": foundation.path} | {
            _strategy_name(m.strategy): ft.output.model_path
            for m, ft in zip(self.finetune_makers, finetunes, strict=True)
        }
        if surrogate is not None:
            models["surrogate"] = surrogate.output.student_path
        return models

    def _report_step(
        self,
        material: _Material,
        *,
        finetunes: list[Job],
        dft_phonons: Job,
        ml_phonons: list[Job],
        data_efficiency: Flow | None,
        surrogate: Job | None,
        surrogate_phonons: Job | None,
        evaluation: dict,
    ) -> Job:
        """Build the report job (:func:`~mlip_finetune.report.jobs.material_report`)."""
        unit_cell = material.unit_cell
        report = material_report(
            label=material.label,
            formula=unit_cell.composition.reduced_formula,
            foundation=material.foundation.model_dump(),
            finetunes=[ft.output for ft in finetunes],
            dft_phonons=dft_phonons.output,
            ml_phonons=[p.output for p in ml_phonons],
            dft_settings=self.static_maker.settings_record(),
            phonon_mesh=material.mesh,
            supercell_matrix=[list(map(int, row)) for row in material.matrix],
            report_dir=self.report_dir,
            data_efficiency=data_efficiency.output if data_efficiency else None,
            surrogate=surrogate.output if surrogate else None,
            surrogate_phonons=surrogate_phonons.output if surrogate_phonons else None,
            **evaluation,
        )
        report.name = "material report"
        tag_job(report, JobKind.LIGHT, Stage.REPORT)
        return report

    def _evaluation(
        self, unit_cell: Structure, models: dict, dft_phonons: Job, ml_phonons: list
    ) -> tuple[list, dict]:
        """Property suite and forgetting check jobs, and the report's inputs from them."""
        if (self.ml_properties_maker is None) != (self.dft_properties_maker is None):
            raise InputError("Give both ml_properties_maker and dft_properties_maker, or none.")
        jobs: list = []
        out: dict = {}
        if self.ml_properties_maker is not None:
            property_jobs, out = self._property_steps(unit_cell, models, dft_phonons, ml_phonons)
            jobs += property_jobs
        if self.forgetting:
            check = forgetting_check(
                unit_cell,
                models["foundation"],
                {k: v for k, v in models.items() if k != "foundation"},
                device=self.ml_phonon_maker.device,
            )
            check.name = "forgetting check"
            tag_job(check, JobKind.GPU, Stage.FORGETTING)
            jobs.append(check)
            out["forgetting"] = check.output
        return jobs, out

    def _property_steps(
        self, unit_cell: Structure, models: dict, dft_phonons: Job, ml_phonons: list
    ) -> tuple[list, dict]:
        """Property suite of every model and of DFT, and the errors against DFT (§4.5)."""
        ml = []
        for label, path in models.items():
            props = self.ml_properties_maker.make(unit_cell, path, label)
            props.name = f"ml properties {label}"
            tag_job(props, JobKind.GPU, Stage.PROPERTIES)
            ml.append(props)
        dft = self.dft_properties_maker.make(unit_cell)
        errors = property_errors(
            [p.output for p in ml],
            dft.output,
            model_phonons=[p.output for p in ml_phonons if p is not None],
            reference_phonons=dft_phonons.output,
        )
        errors.name = "property errors"
        tag_job(errors, JobKind.LIGHT, Stage.PROPERTIES)
        out = {
            "properties": [p.output for p in ml],
            "dft_properties": dft.output,
            "property_errors": errors.output,
        }
        return [*ml, dft, errors], out

    def _surrogate(
        self,
        material: _Material,
        finetunes: list[Job],
        statics: Job,
        data: Job,
        ml_maker: MLPhononMaker,
    ) -> tuple[Job | None, Job | None]:
        """Distillation job of the teacher strategy's model and the student's phonons."""
        if self.surrogate_maker is None:
            return None, None
        unit_cell = material.unit_cell
        names = [_strategy_name(m.strategy) for m in self.finetune_makers]
        teacher = str(self.surrogate_teacher or names[0])
        if teacher not in names:
            raise InputError(f"Surrogate teacher {teacher!r} is not among {names}.")
        surrogate = self.surrogate_maker.make(
            unit_cell,
            finetunes[names.index(teacher)].output.model_path,
            dft_validation=statics.output,
            training_data=data.output,
        )
        phonons = ml_maker.make(unit_cell, surrogate.output.student_path, "surrogate")
        phonons.name = "ml phonons surrogate"
        tag_job(phonons, JobKind.GPU, Stage.ML_PHONONS)
        return surrogate, phonons

    def _data_efficiency(
        self, material: _Material, data: Job, statics: Job, finetunes: list[Job]
    ) -> Flow | None:
        """Data-efficiency curve of the traced strategies (:class:`DataEfficiencyMaker`)."""
        if not self.data_efficiency:
            return None
        n_frames = self.training_data_maker.n_frames
        if n_frames < 2:  # noqa: PLR2004
            raise InputError("A data-efficiency curve needs at least 2 frames per trajectory.")
        pairs = list(zip(self.finetune_makers, finetunes, strict=True))
        if self.data_efficiency_strategies is not None:
            traced = {str(FineTuneStrategy(s)) for s in self.data_efficiency_strategies}
            trained = {str(m.strategy) for m in self.finetune_makers}
            if not traced or not traced <= trained:
                raise InputError(
                    f"Data-efficiency strategies {sorted(traced)} must be a non-empty subset of "
                    f"the trained strategies {sorted(trained)}."
                )
            pairs = [(m, ft) for m, ft in pairs if str(m.strategy) in traced]
        plot = (
            str(Path(self.report_dir) / f"{material.label}_data_efficiency.png")
            if self.report_dir
            else None
        )
        return DataEfficiencyMaker(
            finetune_makers=[m for m, _ in pairs],
            frame_indices=tuple(range(n_frames - 1)),
            plot_path=plot,
        ).make(
            data.output,
            statics.output,
            material.foundation.path,
            include=[ft.output for _, ft in pairs],
            **material.provenance,
        )


def _strategy_name(strategy: object) -> str:
    """Return a strategy's name (its value for a :class:`FineTuneStrategy`)."""
    return str(getattr(strategy, "value", strategy))
