"""The report job of one material: every model against DFT, with its plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jobflow import job

from mlip_finetune.fitting.strategies import FineTuneStrategy
from mlip_finetune.schemas.report import MaterialReportDocument, ModelRow

if TYPE_CHECKING:
    from mlip_finetune.schemas.evaluation import PhononDocument, ValidationMetrics


def model_row(
    *,
    label: str,
    kind: str,
    model_name: str,
    model_path: str,
    model_sha256: str,
    metrics: ValidationMetrics | None,
    phonons: PhononDocument,
    reference: PhononDocument,
) -> ModelRow:
    """Return one model's row of the report: validation errors and phonons against DFT.

    Parameters
    ----------
    label
        ``"foundation"``, the strategy name or ``"surrogate"``.
    kind
        ``"foundation"``, ``"finetuned"`` or ``"surrogate"``.
    model_name
        Display name of the model.
    model_path, model_sha256
        Model file and its SHA-256.
    metrics
        The model's validation errors against DFT (energy meV/atom, forces meV/Å, stress
        GPa); None gives NaN energy and force errors and no stress error.
    phonons
        The model's phonons.
    reference
        DFT phonons on the same q-mesh.

    Returns
    -------
    ModelRow
        Validation MAEs, phonon frequency MAE (THz), largest frequency (THz), the
        imaginary-mode flag and the phonon property errors (%).
    """
    from mlip_finetune.evaluation.metrics import phonon_frequency_mae, phonon_property_errors

    return ModelRow(
        label=label,
        kind=kind,
        model_name=model_name,
        model_path=model_path,
        model_sha256=model_sha256,
        energy_mae_mev_per_atom=metrics.energy_mae_mev_per_atom
        if metrics is not None
        else float("nan"),
        force_mae_mev_per_angstrom=metrics.force_mae_mev_per_angstrom
        if metrics is not None
        else float("nan"),
        stress_mae_gpa=metrics.stress_mae_gpa if metrics is not None else None,
        phonon_mae_thz=phonon_frequency_mae(phonons, reference),
        max_frequency_thz=phonons.max_frequency,
        has_imaginary_modes=phonons.has_imaginary_modes,
        phonon_property_errors=phonon_property_errors(phonons, reference),
    )


def _finetuned_name(strategy: FineTuneStrategy, foundation_name: str) -> str:
    """Display name of a fine-tuned model; a scratch model only shares the architecture."""
    if strategy is FineTuneStrategy.SCRATCH:
        return f"scratch (architecture of {foundation_name})"
    return f"{foundation_name} + {strategy.value}"


def _model_rows(
    foundation: object,
    finetunes: list,
    phonons: list[PhononDocument],
    reference: PhononDocument,
    *,
    surrogate: object | None,
    surrogate_phonons: PhononDocument | None,
) -> list[ModelRow]:
    """Rows of the foundation, of every fine-tuned model and of the surrogate, in order."""
    rows = [
        model_row(
            label="foundation",
            kind="foundation",
            model_name=foundation.display_name,
            model_path=foundation.path,
            model_sha256=foundation.sha256,
            metrics=finetunes[0].foundation_validation,
            phonons=phonons[0],
            reference=reference,
        )
    ]
    rows += [
        model_row(
            label=ft.strategy.value,
            kind="finetuned",
            model_name=_finetuned_name(ft.strategy, foundation.display_name),
            model_path=ft.model_path,
            model_sha256=ft.model_sha256,
            metrics=ft.validation,
            phonons=phon,
            reference=reference,
        )
        for ft, phon in zip(finetunes, phonons[1:], strict=True)
    ]
    if surrogate is not None and surrogate_phonons is not None:
        rows.append(
            model_row(
                label="surrogate",
                kind="surrogate",
                model_name=f"surrogate of {Path(surrogate.teacher_path).stem} "
                f"({surrogate.speed_ratio:.1f}× faster)",
                model_path=surrogate.student_path,
                model_sha256=surrogate.student_sha256,
                metrics=surrogate.student_vs_dft,
                phonons=surrogate_phonons,
                reference=reference,
            )
        )
    return rows


def _plot_data_efficiency(data_efficiency: object | None, out_dir: Path) -> object | None:
    """Draw the data-efficiency curve (paper Fig. 2b) where its document says, or in out_dir.

    Returns the curve document with ``plot_path`` set to the PNG, or None without a curve.
    """
    if data_efficiency is None:
        return None
    from mlip_finetune.report.plots import plot_data_efficiency
    from mlip_finetune.schemas.fitting import DataEfficiencyDocument

    curve = DataEfficiencyDocument.model_validate(data_efficiency)
    path = Path(curve.plot_path) if curve.plot_path else out_dir / "data_efficiency.png"
    curve.plot_path = str(plot_data_efficiency(curve, path).resolve())
    return curve


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
    from mlip_finetune.foundation import FoundationModel
    from mlip_finetune.report.plots import plot_band_structures
    from mlip_finetune.report.property_plots import model_plots
    from mlip_finetune.schemas.evaluation import PhononDocument
    from mlip_finetune.schemas.fitting import FineTuneDocument, SurrogateDocument

    found = FoundationModel.model_validate(foundation)
    fts = [FineTuneDocument.model_validate(f) for f in finetunes]
    ref = PhononDocument.model_validate(dft_phonons)
    phonons = [PhononDocument.model_validate(p) for p in ml_phonons]

    out_dir = Path(report_dir) if report_dir else Path.cwd()
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = plot_band_structures([ref, *phonons], out_dir / f"{label}_bands.png")
    data_efficiency = _plot_data_efficiency(data_efficiency, out_dir)

    surrogate_doc = surrogate_phonon_doc = None
    if surrogate is not None and surrogate_phonons is not None:
        surrogate_doc = SurrogateDocument.model_validate(surrogate)
        surrogate_phonon_doc = PhononDocument.model_validate(surrogate_phonons)
    rows = _model_rows(
        found, fts, phonons, ref, surrogate=surrogate_doc, surrogate_phonons=surrogate_phonon_doc
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
