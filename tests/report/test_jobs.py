"""The material report job: one row per model against DFT, from real small documents."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlip_finetune.evaluation.metrics import phonon_frequency_mae
from mlip_finetune.report.jobs import model_row
from mlip_finetune.schemas.report import MaterialReportDocument
from tests.report.conftest import (
    AL_MATRIX,
    FOUNDATION,
    GPAW_SETTINGS,
    build_report,
    surrogate_document,
    validation_metrics,
)


def test_report_has_one_row_per_model_against_dft(tmp_path, al_phonons):
    report = build_report(tmp_path, al_phonons)
    assert isinstance(report, MaterialReportDocument)
    rows = {row.label: row for row in report.rows}
    assert list(rows) == ["foundation", "transfer", "scratch"]
    assert [row.kind for row in report.rows] == ["foundation", "finetuned", "finetuned"]
    assert rows["foundation"].model_name == "tiny"
    assert rows["foundation"].model_path == "/models/tiny.model"
    assert rows["foundation"].model_sha256 == "f" * 64
    assert rows["transfer"].model_name == "tiny + transfer"
    assert rows["scratch"].model_name == "scratch (architecture of tiny)"
    assert rows["transfer"].model_sha256 == "t" * 64
    # the foundation's errors are those it had on the first model's validation set
    assert rows["foundation"].force_mae_mev_per_angstrom == 90.0
    assert rows["foundation"].energy_mae_mev_per_atom == 5.0
    assert rows["transfer"].force_mae_mev_per_angstrom == 20.0
    assert rows["scratch"].stress_mae_gpa == 0.01
    # frequencies scale with √(force scale): closer forces, closer phonons
    dft = al_phonons["dft"]
    for label, row in rows.items():
        assert row.phonon_mae_thz == pytest.approx(phonon_frequency_mae(al_phonons[label], dft))
        assert row.max_frequency_thz == pytest.approx(al_phonons[label].max_frequency)
    assert (
        rows["transfer"].phonon_mae_thz
        < rows["foundation"].phonon_mae_thz
        < rows["scratch"].phonon_mae_thz
    )
    assert rows["scratch"].phonon_property_errors.max_frequency == pytest.approx(
        100 * (math.sqrt(0.8) - 1), abs=0.5
    )
    assert report.dft_max_frequency_thz == pytest.approx(dft.max_frequency)
    assert report.dft_engine == "gpaw"
    assert report.dft_settings == GPAW_SETTINGS
    assert report.phonon_mesh == [8, 8, 8]
    assert report.phonon_supercell_matrix == AL_MATRIX
    assert (report.n_train_structures, report.n_valid_structures) == (16, 4)
    assert report.surrogate is None
    assert report.properties == []
    assert report.property_errors == []


def test_report_writes_its_plots_in_the_report_dir(tmp_path, al_phonons):
    report = build_report(tmp_path, al_phonons)
    out = tmp_path / "report"
    assert Path(report.report_dir) == out.resolve()
    assert Path(report.band_structure_plot) == out / "Al_bands.png"
    assert Path(report.band_structure_plot).read_bytes()[:4] == b"\x89PNG"
    # one band PNG per model, each against DFT; no EOS without a property suite
    assert report.plots
    assert all(Path(p).is_file() for p in report.plots.values())
    assert not any("eos" in name for name in report.plots)


def test_surrogate_row_and_standin_foundation(tmp_path, al_phonons):
    foundation = FOUNDATION | {"name": "standin", "is_standin": True}
    report = build_report(
        tmp_path,
        al_phonons,
        surrogate=surrogate_document(validation_metrics(30.0)),
        foundation=foundation,
    )
    assert report.foundation_is_standin
    assert report.foundation_name == "standin (stand-in, not MACE-MP)"
    surrogate = report.rows[-1]
    assert (surrogate.label, surrogate.kind) == ("surrogate", "surrogate")
    assert surrogate.model_name == "surrogate of transfer (4.0× faster)"
    assert surrogate.model_path == "/models/student.model"
    assert surrogate.force_mae_mev_per_angstrom == 30.0
    assert surrogate.phonon_mae_thz == pytest.approx(
        phonon_frequency_mae(al_phonons["surrogate"], al_phonons["dft"])
    )
    assert report.surrogate.speed_ratio == 4.0
    assert report.rows[1].model_name == "standin (stand-in, not MACE-MP) + transfer"


def test_surrogate_without_dft_metrics_has_nan_errors(tmp_path, al_phonons):
    report = build_report(tmp_path, al_phonons, surrogate=surrogate_document(None))
    surrogate = report.rows[-1]
    assert math.isnan(surrogate.energy_mae_mev_per_atom)
    assert math.isnan(surrogate.force_mae_mev_per_angstrom)
    assert surrogate.stress_mae_gpa is None


def test_model_row_without_metrics(al_phonons):
    row = model_row(
        label="x",
        kind="surrogate",
        model_name="x",
        model_path="/x",
        model_sha256="0" * 64,
        metrics=None,
        phonons=al_phonons["dft"],
        reference=al_phonons["dft"],
    )
    assert row.phonon_mae_thz == 0.0
    assert math.isnan(row.force_mae_mev_per_angstrom)
