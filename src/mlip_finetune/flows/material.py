"""One material end to end: data → DFT statics → fine-tuning → phonons → report."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from jobflow import Flow, Maker, job

from mlip_finetune.data.jobs import TrainingDataMaker
from mlip_finetune.dft.jobs import ReferenceStaticsMaker, RelaxMaker, StaticMaker
from mlip_finetune.evaluation.forgetting import forgetting_check
from mlip_finetune.evaluation.jobs import (
    MLPhononMaker,
    MLPropertiesMaker,
    phonons_from_statics,
    property_errors,
)
from mlip_finetune.fitting.data_efficiency import DataEfficiencyMaker
from mlip_finetune.fitting.distillation import SurrogateMaker  # noqa: TC001
from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.fitting.strategies import FineTuneStrategy
from mlip_finetune.schemas.report import MaterialReportDocument, ModelRow

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlip_finetune.foundation import FoundationModel


@job
def frame_structures(training_data: object) -> list:
    """Return the structures of a TrainingDataDocument's frames, in order."""
    from mlip_finetune.schemas.data import TrainingDataDocument

    return [f.structure for f in TrainingDataDocument.model_validate(training_data).frames]


@job
def phonon_displacements(
    structure: Structure, supercell_matrix: list, displacement: float
) -> list[Structure]:
    """Return phonopy's displaced supercells of a structure (for DFT statics)."""
    from mlip_finetune.evaluation.phonons import displaced_supercells

    _, supercells = displaced_supercells(structure, supercell_matrix, displacement)
    return supercells


def _phonon_static_name(static_maker: object) -> str:
    """``"dft phonon displacement"``, or ``"vasp phonon static"`` for VASP makers."""
    return (
        "vasp phonon static"
        if static_maker.name.startswith("vasp")
        else ("dft phonon displacement")
    )


def _dft_settings_summary(static_maker: object) -> dict:
    """Engine-neutral record of the DFT settings: DFTSettings, or VASP's INCAR preset."""
    settings = getattr(static_maker, "settings", None)
    if settings is not None:
        return settings.model_dump(mode="json")
    generator = static_maker.vasp_maker.input_set_generator
    return {
        "engine": "vasp",
        "incar": dict(getattr(generator, "preset_incar", {}) or {}),
        "user_incar_settings": dict(generator.user_incar_settings or {}),
        "kspacing": getattr(generator, "kspacing", None),
        "potcar_functional": generator.user_potcar_functional,
    }


@dataclass
class MaterialFlowMaker(Maker):
    """Fine-tune a foundation model for one material and compare phonons with DFT.

    Stages (paper §4.1–4.5): foundation-model training data (:class:`TrainingDataMaker`),
    one DFT static per frame (:class:`ReferenceStaticsMaker`, jobs ``"dft static i/N"``),
    one :class:`FineTuneMaker` per strategy, DFT relaxation and DFT phonons on displaced
    supercells (jobs ``"dft phonon displacement i/N"``), ML phonons for the foundation and
    every fine-tuned model (:class:`MLPhononMaker`, all displacements in one job), and a
    ``material report`` job with the comparison table and the band-structure plot.
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
    """

    name: str = "finetune material"
    training_data_maker: TrainingDataMaker = field(default_factory=TrainingDataMaker)
    static_maker: Maker = field(default_factory=StaticMaker)
    finetune_makers: list[FineTuneMaker] = field(default_factory=lambda: [FineTuneMaker()])
    relax_maker: Maker | None = field(default_factory=RelaxMaker)
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
        mlip_finetune.foundation.UnsupportedElementError
            If the foundation lacks an element of the structure (checked now, not on a node).
        ValueError
            If no fine-tuning strategy is given or two share a strategy, the surrogate's
            teacher is not one of them, a data-efficiency curve is asked for with fewer
            than 2 frames per trajectory or for a strategy that is not trained, or only one of
            the two property makers is given.
        """
        from mlip_finetune.data.utils import primitive_standard
        from mlip_finetune.evaluation.phonons import phonon_supercell_matrix, resolve_mesh
        from mlip_finetune.foundation import check_model_elements

        strategies = [m.strategy for m in self.finetune_makers]
        if not strategies:
            raise ValueError("MaterialFlowMaker needs at least one FineTuneMaker.")
        if len({str(s) for s in strategies}) != len(strategies):
            raise ValueError(f"Strategies must be distinct, got {strategies}.")
        check_model_elements(foundation.path, [site.specie.Z for site in structure])

        unit_cell = primitive_standard(structure)
        label = label or unit_cell.composition.reduced_formula
        matrix = self.phonon_supercell_matrix or phonon_supercell_matrix(
            unit_cell, self.phonon_min_length
        )
        mesh = resolve_mesh(unit_cell, self.phonon_mesh)

        data = self.training_data_maker.make(unit_cell, foundation.path, foundation.sha256)
        structures = frame_structures(data.output)
        structures.name = "frame structures"
        statics = ReferenceStaticsMaker(static_maker=self.static_maker).make(structures.output)
        jobs = [data, structures, statics]

        provenance = {
            "foundation_name": foundation.name,
            "foundation_sha256": foundation.sha256,
            "foundation_is_standin": foundation.is_standin,
        }
        finetunes = [
            maker.make(data.output, statics.output, foundation.path, **provenance)
            for maker in self.finetune_makers
        ]
        jobs += finetunes
        data_efficiency = None
        if self.data_efficiency:
            data_efficiency = self._data_efficiency(
                data.output,
                statics.output,
                foundation_path=foundation.path,
                finetunes=finetunes,
                label=label,
                provenance=provenance,
            )
            jobs.append(data_efficiency)

        dft_jobs, dft_phonons = self._dft_phonons(unit_cell, matrix, mesh)
        jobs += dft_jobs

        ml_maker = self.ml_phonon_maker.update_kwargs(
            {"supercell_matrix": matrix, "displacement": self.displacement, "mesh": mesh}
        )
        ml_phonons = [ml_maker.make(unit_cell, foundation.path, "foundation")]
        ml_phonons[0].name = "ml phonons foundation"
        for ft, maker in zip(finetunes, self.finetune_makers, strict=True):
            strategy = str(getattr(maker.strategy, "value", maker.strategy))
            phon = ml_maker.make(unit_cell, ft.output.model_path, strategy)
            phon.name = f"ml phonons {strategy}"
            ml_phonons.append(phon)
        jobs += ml_phonons
        surrogate = surrogate_phonons = None
        if self.surrogate_maker is not None:
            surrogate, surrogate_phonons = self._surrogate(
                unit_cell, finetunes, statics.output, data.output, ml_maker
            )
            jobs += [surrogate, surrogate_phonons]

        models = {"foundation": foundation.path} | {
            str(getattr(m.strategy, "value", m.strategy)): ft.output.model_path
            for m, ft in zip(self.finetune_makers, finetunes, strict=True)
        }
        if surrogate is not None:
            models["surrogate"] = surrogate.output.student_path
        evaluation_jobs, evaluation = self._evaluation(
            unit_cell, models, dft_phonons, [*ml_phonons, surrogate_phonons]
        )
        jobs += evaluation_jobs

        report = material_report(
            label=label,
            formula=unit_cell.composition.reduced_formula,
            foundation=foundation.model_dump(),
            finetunes=[ft.output for ft in finetunes],
            dft_phonons=dft_phonons.output,
            ml_phonons=[p.output for p in ml_phonons],
            dft_settings=_dft_settings_summary(self.static_maker),
            phonon_mesh=mesh,
            supercell_matrix=[list(map(int, row)) for row in matrix],
            report_dir=self.report_dir,
            data_efficiency=data_efficiency.output if data_efficiency else None,
            surrogate=surrogate.output if surrogate else None,
            surrogate_phonons=surrogate_phonons.output if surrogate_phonons else None,
            **evaluation,
        )
        report.name = "material report"
        jobs.append(report)
        return Flow(jobs, output=report.output, name=f"{self.name} {label}")

    def _dft_phonons(self, unit_cell: Structure, matrix: object, mesh: list[int]) -> tuple:
        """DFT reference phonons: relax, displace, one static per displacement, assemble."""
        jobs = []
        reference_cell = unit_cell
        if self.relax_maker is not None:
            relax = self.relax_maker.make(unit_cell)
            jobs.append(relax)
            reference_cell = relax.output.structure
        displaced = phonon_displacements(reference_cell, matrix, self.displacement)
        displaced.name = "phonon displacements"
        phonon_statics_maker = ReferenceStaticsMaker(
            name="dft phonon statics",
            # the same DFT settings (and engine: GPAW or VASP) as the training statics
            static_maker=replace(self.static_maker, name=_phonon_static_name(self.static_maker)),
        )
        phonon_statics = phonon_statics_maker.make(displaced.output)
        dft_phonons = phonons_from_statics(
            reference_cell,
            matrix,
            self.displacement,
            phonon_statics.output,
            label="dft",
            mesh=mesh,
            fc_calculator=self.ml_phonon_maker.fc_calculator,
        )
        dft_phonons.name = "dft phonons"
        jobs += [displaced, phonon_statics, dft_phonons]
        return jobs, dft_phonons

    def _evaluation(
        self, unit_cell: Structure, models: dict, dft_phonons: object, ml_phonons: list
    ) -> tuple[list, dict]:
        """Property suite and forgetting check jobs, and the report's inputs from them."""
        if (self.ml_properties_maker is None) != (self.dft_properties_maker is None):
            raise ValueError("Give both ml_properties_maker and dft_properties_maker, or none.")
        jobs: list = []
        out: dict = {}
        if self.ml_properties_maker is not None:
            ml = []
            for label, path in models.items():
                props = self.ml_properties_maker.make(unit_cell, path, label)
                props.name = f"ml properties {label}"
                ml.append(props)
            dft = self.dft_properties_maker.make(unit_cell)
            errors = property_errors(
                [p.output for p in ml],
                dft.output,
                model_phonons=[p.output for p in ml_phonons if p is not None],
                reference_phonons=dft_phonons.output,
            )
            errors.name = "property errors"
            jobs += [*ml, dft, errors]
            out |= {
                "properties": [p.output for p in ml],
                "dft_properties": dft.output,
                "property_errors": errors.output,
            }
        if self.forgetting:
            check = forgetting_check(
                unit_cell,
                models["foundation"],
                {k: v for k, v in models.items() if k != "foundation"},
                device=self.ml_phonon_maker.device,
            )
            check.name = "forgetting check"
            jobs.append(check)
            out["forgetting"] = check.output
        return jobs, out

    def _surrogate(
        self,
        unit_cell: Structure,
        finetunes: list,
        statics: object,
        training_data: object,
        ml_maker: MLPhononMaker,
    ) -> tuple:
        """Distillation job of the teacher strategy's model and the student's phonons."""
        names = [str(getattr(m.strategy, "value", m.strategy)) for m in self.finetune_makers]
        teacher = str(self.surrogate_teacher or names[0])
        if teacher not in names:
            raise ValueError(f"Surrogate teacher {teacher!r} is not among {names}.")
        surrogate = self.surrogate_maker.make(
            unit_cell,
            finetunes[names.index(teacher)].output.model_path,
            dft_validation=statics,
            training_data=training_data,
        )
        phonons = ml_maker.make(unit_cell, surrogate.output.student_path, "surrogate")
        phonons.name = "ml phonons surrogate"
        return surrogate, phonons

    def _data_efficiency(
        self,
        training_data: object,
        statics: object,
        *,
        foundation_path: str,
        finetunes: list,
        label: str,
        provenance: dict,
    ) -> Flow:
        n_frames = self.training_data_maker.n_frames
        if n_frames < 2:  # noqa: PLR2004
            raise ValueError("A data-efficiency curve needs at least 2 frames per trajectory.")
        pairs = list(zip(self.finetune_makers, finetunes, strict=True))
        if self.data_efficiency_strategies is not None:
            traced = {str(FineTuneStrategy(s)) for s in self.data_efficiency_strategies}
            trained = {str(m.strategy) for m in self.finetune_makers}
            if not traced or not traced <= trained:
                raise ValueError(
                    f"Data-efficiency strategies {sorted(traced)} must be a non-empty subset of "
                    f"the trained strategies {sorted(trained)}."
                )
            pairs = [(m, ft) for m, ft in pairs if str(m.strategy) in traced]
        plot = (
            str(Path(self.report_dir) / f"{label}_data_efficiency.png") if self.report_dir else None
        )
        return DataEfficiencyMaker(
            finetune_makers=[m for m, _ in pairs],
            frame_indices=tuple(range(n_frames - 1)),
            plot_path=plot,
        ).make(
            training_data,
            statics,
            foundation_path,
            include=[ft.output for _, ft in pairs],
            **provenance,
        )


@job(output_schema=MaterialReportDocument)
def material_report(
    *,
    label: str,
    formula: str,
    foundation: dict,
    finetunes: list,
    dft_phonons: object,
    ml_phonons: list,
    dft_settings: dict,
    phonon_mesh: list[int],
    supercell_matrix: list[list[int]],
    report_dir: str | None,
    data_efficiency: object | None = None,
    surrogate: object | None = None,
    surrogate_phonons: object | None = None,
    properties: list | None = None,
    dft_properties: object | None = None,
    property_errors: list | None = None,
    forgetting: object | None = None,
) -> MaterialReportDocument:
    """Compare every model with DFT and write the band-structure overlay.

    Returns
    -------
    MaterialReportDocument
        One row per model: validation energy/force/stress MAE (energy after removing each
        model's per-atom offset to DFT on the training frames; for the surrogate, on the
        validation frames) and phonon MAE (THz) on the common q-mesh; the data-efficiency
        curve, surrogate, property suite with its errors against DFT, and forgetting check
        when given. Plots: the combined band overlay, one band PNG per model, the EOS curves
        and U(Q) along one-dimensional unstable modes.
    """
    from mlip_finetune.evaluation.metrics import phonon_frequency_mae, phonon_property_errors
    from mlip_finetune.foundation import FoundationModel
    from mlip_finetune.report.plots import plot_band_structures
    from mlip_finetune.report.property_plots import model_plots
    from mlip_finetune.schemas.evaluation import PhononDocument
    from mlip_finetune.schemas.fitting import FineTuneDocument

    found = FoundationModel.model_validate(foundation)
    fts = [FineTuneDocument.model_validate(f) for f in finetunes]
    ref = PhononDocument.model_validate(dft_phonons)
    phonons = [PhononDocument.model_validate(p) for p in ml_phonons]

    out_dir = Path(report_dir) if report_dir else Path.cwd()
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = plot_band_structures([ref, *phonons], out_dir / f"{label}_bands.png")

    rows = []
    foundation_metrics = fts[0].foundation_validation
    rows.append(
        ModelRow(
            label="foundation",
            kind="foundation",
            model_name=found.display_name,
            model_path=found.path,
            model_sha256=found.sha256,
            energy_mae_mev_per_atom=foundation_metrics.energy_mae,
            force_mae_mev_per_angstrom=foundation_metrics.force_mae,
            stress_mae_gpa=foundation_metrics.stress_mae,
            phonon_mae_thz=phonon_frequency_mae(phonons[0], ref),
            max_frequency_thz=phonons[0].max_frequency,
            has_imaginary_modes=phonons[0].has_imaginary_modes,
            phonon_property_errors=phonon_property_errors(phonons[0], ref),
        )
    )
    for ft, phon in zip(fts, phonons[1:], strict=True):
        rows.append(
            ModelRow(
                label=ft.strategy.value,
                kind="finetuned",
                model_name=(
                    f"scratch (architecture of {found.display_name})"
                    if ft.strategy is FineTuneStrategy.SCRATCH
                    else f"{found.display_name} + {ft.strategy.value}"
                ),
                model_path=ft.model_path,
                model_sha256=ft.model_sha256,
                energy_mae_mev_per_atom=ft.validation.energy_mae,
                force_mae_mev_per_angstrom=ft.validation.force_mae,
                stress_mae_gpa=ft.validation.stress_mae,
                phonon_mae_thz=phonon_frequency_mae(phon, ref),
                max_frequency_thz=phon.max_frequency,
                has_imaginary_modes=phon.has_imaginary_modes,
                phonon_property_errors=phonon_property_errors(phon, ref),
            )
        )
    surrogate_doc = None
    if surrogate is not None and surrogate_phonons is not None:
        from mlip_finetune.fitting.distillation import SurrogateDocument

        surrogate_doc = SurrogateDocument.model_validate(surrogate)
        phon = PhononDocument.model_validate(surrogate_phonons)
        metrics = surrogate_doc.student_vs_dft
        rows.append(
            ModelRow(
                label="surrogate",
                kind="surrogate",
                model_name=f"surrogate of {Path(surrogate_doc.teacher_path).stem} "
                f"({surrogate_doc.speed_ratio:.1f}× faster)",
                model_path=surrogate_doc.student_path,
                model_sha256=surrogate_doc.student_sha256,
                energy_mae_mev_per_atom=metrics.energy_mae if metrics else float("nan"),
                force_mae_mev_per_angstrom=metrics.force_mae if metrics else float("nan"),
                stress_mae_gpa=metrics.stress_mae if metrics else None,
                phonon_mae_thz=phonon_frequency_mae(phon, ref),
                max_frequency_thz=phon.max_frequency,
                has_imaginary_modes=phon.has_imaginary_modes,
                phonon_property_errors=phonon_property_errors(phon, ref),
            )
        )
    plots = model_plots(
        [ref, *phonons, *([surrogate_phonons] if surrogate_phonons else [])],
        properties,
        dft_properties,
        out_dir,
        label,
    )
    return MaterialReportDocument(
        formula=formula,
        material_label=label,
        foundation_name=found.display_name,
        foundation_is_standin=found.is_standin,
        rows=rows,
        dft_max_frequency_thz=ref.max_frequency,
        dft_has_imaginary_modes=ref.has_imaginary_modes,
        phonon_mesh=list(phonon_mesh),
        phonon_supercell_matrix=supercell_matrix,
        n_train_structures=fts[0].n_train_structures,
        n_valid_structures=fts[0].n_valid_structures,
        dft_engine=str(dft_settings.get("engine", "")),
        dft_settings=dft_settings,
        band_structure_plot=str(plot),
        report_dir=str(out_dir.resolve()),
        data_efficiency=data_efficiency,
        surrogate=surrogate_doc,
        properties=properties or [],
        dft_properties=dft_properties,
        property_errors=property_errors or [],
        forgetting=forgetting,
        plots=plots,
    )
