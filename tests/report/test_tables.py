"""Report tables from stored report documents (JSON dicts), and the regenerated files."""

from __future__ import annotations

import json

import pytest

from mlip_finetune.report.tables import (
    as_json_dict,
    data_efficiency_table,
    forgetting_table,
    models_table,
    properties_table,
    report_tables,
    stability_summary,
    to_markdown,
    write_report_files,
)
from tests.report.conftest import validation_metrics


def _properties(label, b0, kappa, new_phases=None):
    phases = None if new_phases is None else {"new_phases": [{}] * new_phases}
    return {
        "label": label,
        "eos": {"b0": b0, "v0": 16.5},
        "elastic": {"k_vrh": b0 + 1.0, "g_vrh": 25.0},
        "slack": {"kappa": kappa, "debye_temperature": 400.0},
        "phase_transitions": phases,
    }


def _with_properties(report):
    return report | {
        "dft_properties": _properties("dft", 76.0, 20.0, new_phases=1),
        "properties": [_properties("foundation", 70.0, 15.0, new_phases=0)],
        "property_errors": [
            {
                "label": "foundation",
                "b0": -7.9,
                "v0": 1.0,
                "k_vrh": -7.7,
                "g_vrh": 0.0,
                "slack_kappa": -25.0,
                "debye_temperature": 0.0,
                "phase_f1": 0.0,
            }
        ],
    }


def test_models_table_has_one_row_per_model_and_the_dft_reference(al_report):
    title, header, rows = models_table(al_report)
    assert title == ("Al (Al): models vs DFT (gpaw), validation set of 4 frames; foundation tiny")
    assert header[0] == "model"
    assert "phonon MAE (THz)" in header
    assert [row[0] for row in rows] == [
        "foundation",
        "transfer",
        "scratch",
        "surrogate",
        "DFT reference",
    ]
    assert all(len(row) == len(header) for row in rows)
    foundation = dict(zip(header, rows[0], strict=True))
    assert foundation["F MAE (meV/Å)"] == "90.0"
    assert foundation["E MAE (meV/atom)"] == "5.00"
    assert foundation["S MAE (GPa)"] == "0.010"
    assert foundation["imaginary"] == "no"
    mae = al_report["rows"][0]["phonon_mae_thz"]
    assert foundation["phonon MAE (THz)"] == f"{mae:.3f}"
    dft = dict(zip(header, rows[-1], strict=True))
    assert dft["ω_max (THz)"] == f"{al_report['dft_max_frequency_thz']:.2f}"
    assert dft["F MAE (meV/Å)"] == ""


def test_missing_values_are_dashes(al_report):
    report = json.loads(json.dumps(al_report))
    report["rows"][0]["stress_mae_gpa"] = None
    _, header, rows = models_table(report)
    assert rows[0][header.index("S MAE (GPa)")] == "-"


def test_optional_tables_are_none_without_their_data(al_report):
    assert properties_table(al_report) is None
    assert forgetting_table(al_report) is None
    assert data_efficiency_table(al_report) is None
    assert [t[0] for t in report_tables(al_report)] == [models_table(al_report)[0]]
    assert stability_summary([]) is None


def test_properties_table_values_and_errors(al_report):
    title, header, rows = properties_table(_with_properties(al_report))
    assert title == "properties vs DFT (value (error %))"
    assert header[1] == "B0 (GPa)"
    assert rows[0] == ["DFT", "76", "16.5", "77", "25", "20", "400", "1", ""]
    assert rows[1][0] == "foundation"
    assert rows[1][1] == "70 (-7.9 %)"
    assert rows[1][5] == "15 (-25.0 %)"
    assert rows[1][-2:] == ["0", "0.00"]
    assert len(report_tables(_with_properties(al_report))) == 2


def test_forgetting_table(al_report):
    metrics = validation_metrics(12.0, energy_mae=3.0).model_dump()
    report = al_report | {
        "forgetting": {
            "n_structures": 5,
            "elements": ["Al"],
            "rows": [{"label": "transfer", "metrics": metrics}],
        }
    }
    title, header, rows = forgetting_table(report)
    assert title == "forgetting: errors vs the foundation on 5 prototype structures of Al"
    assert header == ["model", "E MAE (meV/atom)", "F MAE (meV/Å)", "S MAE (GPa)"]
    assert rows == [["transfer", "3.00", "12.0", "0.010"]]


def _curve():
    def point(strategy, n, force_mae):
        return {
            "strategy": strategy,
            "max_frame_index": n // 4,
            "n_train_structures": n,
            "n_train_atoms": 8 * n,
            "validation": validation_metrics(force_mae).model_dump(),
            "wall_time_s": 1.0,
            "model_path": f"/models/{strategy}_{n}.model",
        }

    return {
        "points": [point("transfer", 4, 40.0), point("transfer", 8, 30.0), point("scratch", 8, 60)],
        "foundation_validation": validation_metrics(90.0).model_dump(),
    }


def test_data_efficiency_table(al_report):
    title, header, rows = data_efficiency_table(al_report | {"data_efficiency": _curve()})
    assert title.startswith("data efficiency: validation force MAE (meV/Å)")
    assert header == ["model", "4", "8"]
    assert rows == [
        ["foundation", "90.0", "90.0"],
        ["transfer", "40.0", "30.0"],
        ["scratch", "-", "60.0"],
    ]


def test_stability_summary_counts_imaginary_modes_against_dft(al_report):
    unstable = json.loads(json.dumps(al_report))
    unstable["material_label"] = "Al-strained"
    unstable["dft_has_imaginary_modes"] = True
    unstable["rows"][1]["has_imaginary_modes"] = True  # transfer finds the instability
    title, header, rows = stability_summary([al_report, unstable])
    assert title == "dynamical stability vs DFT over 2 materials"
    assert header[1:5] == ["true stable", "false stable", "false unstable", "true unstable"]
    by_label = {row[0]: row for row in rows}
    assert by_label["transfer"][1:5] == ["1", "0", "0", "1"]
    # row names by the reference class: reference unstable, predicted stable
    assert by_label["foundation"][1:5] == ["1", "0", "1", "0"]
    assert by_label["transfer"][5:] == ["100", "100"]
    assert by_label["foundation"][5:] == ["-", "0"]  # no unstable prediction: no precision


def test_to_markdown():
    text = to_markdown(("T", ["a", "b"], [["1", "2"]]))
    assert text == "### T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"


def test_as_json_dict_is_plain_json(al_report):
    from mlip_finetune.schemas.report import MaterialReportDocument

    doc = MaterialReportDocument.model_validate(al_report)
    data = as_json_dict(doc)
    assert data == al_report
    assert json.loads(json.dumps(data)) == data
    assert as_json_dict({"a": 1}) == {"a": 1}


def test_write_report_files_regenerates_tables_and_plots(tmp_path, al_report, al_phonons):
    report = al_report | {"data_efficiency": _curve() | {"plot_path": None}}
    phonons = [as_json_dict(al_phonons[k]) for k in ("dft", "foundation", "transfer")]
    files = write_report_files(report, phonons, tmp_path / "out")
    assert {"bands", "data efficiency", "markdown", "json"} <= set(files)
    assert all(path.is_file() for path in files.values())
    markdown = files["markdown"].read_text()
    assert markdown.startswith("# Al (Al)\n")
    assert "### Al (Al): models vs DFT (gpaw)" in markdown
    assert "### data efficiency" in markdown
    assert "- bands: `Al_bands.png`" in markdown
    assert "stand-in" not in markdown
    assert json.loads(files["json"].read_text())["material_label"] == "Al"


def test_write_report_files_says_when_the_foundation_is_a_standin(tmp_path, al_report):
    report = al_report | {"foundation_is_standin": True}
    files = write_report_files(report, [], tmp_path)
    assert set(files) == {"markdown", "json"}
    assert "**stand-in, not MACE-MP**" in files["markdown"].read_text()


@pytest.mark.parametrize("missing", ["rows", "dft_max_frequency_thz"])
def test_models_table_needs_the_rows_and_the_reference(al_report, missing):
    report = {k: v for k, v in al_report.items() if k != missing}
    with pytest.raises(KeyError):
        models_table(report)
