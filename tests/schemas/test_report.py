"""The per-material comparison document and its rows."""

import pytest
from pydantic import ValidationError

from mlip_finetune.schemas.evaluation import PhononPropertyErrors, ValidationMetrics
from mlip_finetune.schemas.fitting import SurrogateDocument
from mlip_finetune.schemas.report import MaterialReportDocument, ModelRow


def _row(label, kind):
    return ModelRow(
        label=label,
        kind=kind,
        model_name=f"{label} model",
        model_path=f"/m/{label}.model",
        model_sha256="a" * 64,
        energy_mae_mev_per_atom=1.5,
        force_mae_mev_per_angstrom=40.0,
        stress_mae_gpa=None,
        phonon_mae_thz=0.2,
        max_frequency_thz=15.5,
        has_imaginary_modes=False,
        phonon_property_errors=PhononPropertyErrors.model_validate(
            dict.fromkeys(PhononPropertyErrors.model_fields, 0.5)
        ),
    )


def _surrogate():
    metrics = ValidationMetrics.model_validate(dict.fromkeys(ValidationMetrics.model_fields, 1))
    return SurrogateDocument(
        teacher_path="/m/transfer.model",
        teacher_sha256="b" * 64,
        student_path="/m/student.model",
        student_sha256="c" * 64,
        architecture={"num_channels": "32"},
        teacher_parameters=1000,
        student_parameters=100,
        n_train_structures=50,
        n_valid_structures=10,
        student_vs_teacher=metrics,
        timing_atoms=64,
        teacher_time_s=0.2,
        student_time_s=0.05,
        speed_ratio=4.0,
        epochs=[],
        wall_time_s=30.0,
    )


def _report(**update):
    fields = {
        "formula": "Si",
        "material_label": "Si",
        "foundation_name": "standin",
        "foundation_is_standin": True,
        "rows": [_row("foundation", "foundation"), _row("transfer", "finetuned")],
        "dft_max_frequency_thz": 15.3,
        "dft_has_imaginary_modes": False,
        "phonon_mesh": [8, 8, 8],
        "phonon_supercell_matrix": [[2, 0, 0], [0, 2, 0], [0, 0, 2]],
        "n_train_structures": 16,
        "n_valid_structures": 4,
        "dft_engine": "gpaw",
        "dft_settings": {"engine": "gpaw"},
        "band_structure_plot": None,
        "report_dir": "/r",
    }
    return MaterialReportDocument(**(fields | update))


def test_report_round_trip_with_a_surrogate():
    report = _report(surrogate=_surrogate())
    again = MaterialReportDocument.model_validate_json(report.model_dump_json())
    assert again == report
    assert again.surrogate.speed_ratio == 4.0
    assert [r.kind for r in again.rows] == ["foundation", "finetuned"]
    # optional parts default to absent or empty
    assert (report.data_efficiency, report.forgetting, report.properties) == (None, None, [])


def test_row_needs_its_errors():
    with pytest.raises(ValidationError):
        ModelRow.model_validate(_row("x", "finetuned").model_dump(exclude={"phonon_mae_thz"}))
