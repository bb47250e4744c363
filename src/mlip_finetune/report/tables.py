"""Comparison tables of a material report, and summaries across materials.

Pure functions from stored report documents (JSON dicts of
:class:`~mlip_finetune.schemas.report.MaterialReportDocument`) to ``(title, header, rows)``
tables of strings, rendered by the CLI with rich and written to ``report.md`` by
:func:`write_report_files`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

#: One table of a report: ``(title, header, rows)``, every cell a string.
ResultTable = tuple[str, list[str], list[list[str]]]


def as_json_dict(document: object) -> dict:
    """JSON-ready dict of a report document (pydantic model or dict).

    Pydantic cannot serialise pymatgen objects in ``mode="json"``; monty's ``jsanitize``
    turns them into their ``as_dict()`` form, as the store holds them.

    Parameters
    ----------
    document
        A MaterialReportDocument or a dict.

    Returns
    -------
    dict
        Only JSON types; Enums as their values.
    """
    from monty.json import jsanitize

    data = document.model_dump() if hasattr(document, "model_dump") else document
    return jsanitize(data, strict=True, enum_values=True)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def models_table(report: dict) -> ResultTable:
    """Tabulate validation errors, phonon MAE and phonon properties of every model vs DFT.

    Parameters
    ----------
    report
        A MaterialReportDocument as a JSON dict.

    Returns
    -------
    tuple
        ``(title, header, rows)``, one row per model label ('foundation', the strategies,
        'surrogate') and the DFT reference; energies meV/atom, forces meV/Å, stresses GPa,
        phonon MAE and ω_max THz, ΔDOS and C_V(300 K) in %.
    """
    header = [
        "model",
        "E MAE (meV/atom)",
        "F MAE (meV/Å)",
        "S MAE (GPa)",
        "phonon MAE (THz)",
        "ω_max (THz)",
        "ΔDOS (%)",
        "C_V 300 K (%)",
        "imaginary",
    ]
    rows = []
    for row in report["rows"]:
        errors = row["phonon_property_errors"]
        rows.append(
            [
                row["label"],
                _fmt(row["energy_mae_mev_per_atom"], ".2f"),
                _fmt(row["force_mae_mev_per_angstrom"], ".1f"),
                _fmt(row["stress_mae_gpa"], ".3f"),
                _fmt(row["phonon_mae_thz"], ".3f"),
                _fmt(row["max_frequency_thz"], ".2f"),
                _fmt(errors["delta_dos"], ".1f"),
                _fmt(errors["heat_capacity_300k"], "+.2f"),
                "yes" if row["has_imaginary_modes"] else "no",
            ]
        )
    imaginary = "yes" if report["dft_has_imaginary_modes"] else "no"
    omega = _fmt(report["dft_max_frequency_thz"], ".2f")
    rows.append(["DFT reference", "", "", "", "", omega, "", "", imaginary])
    title = (
        f"{report['material_label']} ({report['formula']}): models vs DFT "
        f"({report['dft_engine']}), validation set of {report['n_valid_structures']} frames; "
        f"foundation {report['foundation_name']}"
    )
    return title, header, rows


def properties_table(report: dict) -> ResultTable | None:
    """EOS, elastic and Slack values of DFT and every model, with errors vs DFT (%).

    Parameters
    ----------
    report
        A MaterialReportDocument as a JSON dict.

    Returns
    -------
    tuple or None
        ``(title, header, rows)``: B0 (GPa), V0 (Å³/atom), K_VRH and G_VRH (GPa), Slack κ
        (W/m/K) at 300 K, each model's value followed by its signed relative error; the
        number of new phases and phase F1 against DFT (None when DFT had no search). None
        when the report has no property suite.
    """
    dft = report.get("dft_properties")
    if not dft:
        return None
    errors = {e["label"]: e for e in report.get("property_errors", [])}
    header = [
        "model",
        "B0 (GPa)",
        "V0 (Å³/atom)",
        "K_VRH (GPa)",
        "G_VRH (GPa)",
        "κ_Slack (W/m/K)",
        "Θ_D (K)",
        "new phases",
        "phase F1",
    ]

    def values(doc: dict) -> list[float | None]:
        eos, elastic, slack = doc.get("eos"), doc.get("elastic"), doc.get("slack")
        phases = doc.get("phase_transitions")
        return [
            eos["b0"] if eos else None,
            eos["v0"] if eos else None,
            elastic["k_vrh"] if elastic else None,
            elastic["g_vrh"] if elastic else None,
            slack["kappa"] if slack else None,
            slack["debye_temperature"] if slack else None,
            len(phases["new_phases"]) if phases else None,
        ]

    keys = ["b0", "v0", "k_vrh", "g_vrh", "slack_kappa", "debye_temperature"]
    rows = [["DFT", *[_fmt(v, ".4g") for v in values(dft)[:6]], _fmt(values(dft)[6], "d"), ""]]
    for doc in report.get("properties", []):
        err = errors.get(doc["label"], {})
        vals = values(doc)
        cells = [
            f"{_fmt(v, '.4g')} ({_fmt(err.get(k), '+.1f')} %)" if v is not None else "-"
            for v, k in zip(vals[:6], keys, strict=True)
        ]
        rows.append([doc["label"], *cells, _fmt(vals[6], "d"), _fmt(err.get("phase_f1"), ".2f")])
    return "properties vs DFT (value (error %))", header, rows


def forgetting_table(report: dict) -> ResultTable | None:
    """Errors of every model against the foundation's labels away from the material.

    Parameters
    ----------
    report
        A MaterialReportDocument as a JSON dict.

    Returns
    -------
    tuple or None
        ``(title, header, rows)`` in meV/atom, meV/Å and GPa; None without a check.
    """
    doc = report.get("forgetting")
    if not doc:
        return None
    header = ["model", "E MAE (meV/atom)", "F MAE (meV/Å)", "S MAE (GPa)"]
    rows = [
        [
            row["label"],
            _fmt(row["metrics"]["energy_mae_mev_per_atom"], ".2f"),
            _fmt(row["metrics"]["force_mae_mev_per_angstrom"], ".1f"),
            _fmt(row["metrics"]["stress_mae_gpa"], ".3f"),
        ]
        for row in doc["rows"]
    ]
    title = (
        f"forgetting: errors vs the foundation on {doc['n_structures']} prototype structures "
        f"of {'-'.join(doc['elements'])}"
    )
    return title, header, rows


def data_efficiency_table(report: dict) -> ResultTable | None:
    """Tabulate validation force MAE (meV/Å) per strategy and training-set size.

    Parameters
    ----------
    report
        A MaterialReportDocument as a JSON dict.

    Returns
    -------
    tuple or None
        ``(title, header, rows)``; None without a curve.
    """
    curve = report.get("data_efficiency")
    if not curve:
        return None
    sizes = sorted({p["n_train_structures"] for p in curve["points"]})
    header = ["model", *[str(n) for n in sizes]]
    rows = [
        [
            "foundation",
            *[_fmt(curve["foundation_validation"]["force_mae_mev_per_angstrom"], ".1f")]
            * len(sizes),
        ]
    ]
    for strategy in dict.fromkeys(p["strategy"] for p in curve["points"]):
        by_size = {
            p["n_train_structures"]: p["validation"]["force_mae_mev_per_angstrom"]
            for p in curve["points"]
            if p["strategy"] == strategy
        }
        rows.append([strategy, *[_fmt(by_size.get(n), ".1f") for n in sizes]])
    return "data efficiency: validation force MAE (meV/Å) vs training structures", header, rows


def stability_summary(reports: Sequence[dict]) -> ResultTable | None:
    """Stability confusion of every model across materials (paper Table 3).

    Parameters
    ----------
    reports
        MaterialReportDocuments (JSON dicts), one per material (the latest of each label).

    Returns
    -------
    tuple or None
        Per model label: true stable, false stable, false unstable, true unstable (the
        paper's row names, by the reference class), negative precision and recall (%), from
        :func:`mlip_finetune.evaluation.stability.stability_confusion` on the phonon
        imaginary-mode flags; None without reports.
    """
    from mlip_finetune.evaluation.stability import stability_confusion

    if not reports:
        return None
    reference = {r["material_label"]: bool(r["dft_has_imaginary_modes"]) for r in reports}
    labels = list(dict.fromkeys(row["label"] for r in reports for row in r["rows"]))
    rows = []
    for label in labels:
        predicted = {
            r["material_label"]: bool(row["has_imaginary_modes"])
            for r in reports
            for row in r["rows"]
            if row["label"] == label
        }
        ref = {k: v for k, v in reference.items() if k in predicted}
        c = stability_confusion(ref, predicted)
        pct = [None if x is None else 100 * x for x in (c.negative_precision, c.negative_recall)]
        rows.append(
            [
                label,
                str(c.true_stable),
                str(c.false_stable),
                str(c.false_unstable),
                str(c.true_unstable),
                _fmt(pct[0], ".0f"),
                _fmt(pct[1], ".0f"),
            ]
        )
    header = [
        "model",
        "true stable",
        "false stable",
        "false unstable",
        "true unstable",
        "neg. precision (%)",
        "neg. recall (%)",
    ]
    return f"dynamical stability vs DFT over {len(reports)} materials", header, rows


def report_tables(report: dict) -> list[ResultTable]:
    """Every table of one material report that has data, in reading order."""
    tables = [
        models_table(report),
        properties_table(report),
        forgetting_table(report),
        data_efficiency_table(report),
    ]
    return [t for t in tables if t is not None]


def to_markdown(table: ResultTable) -> str:
    """Render one ``(title, header, rows)`` table as Markdown."""
    title, header, rows = table
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_report_files(
    report: dict, phonons: Sequence[dict], out_dir: str | Path
) -> dict[str, Path]:
    """Regenerate a material's report files from its stored document.

    Writes ``report.md`` (all tables and links to the plots), ``report.json`` (the
    document) and the plots: combined band overlay, one band PNG per model, EOS curves,
    U(Q) double wells and the data-efficiency curve, from the documents alone.

    Parameters
    ----------
    report
        MaterialReportDocument as a JSON dict (as read from the store).
    phonons
        PhononDocuments of the same run (DFT first, labelled ``"dft"``, then the models),
        as read from the store.
    out_dir
        Output directory (created).

    Returns
    -------
    dict of str to pathlib.Path
        Name → file written.
    """
    from mlip_finetune.report.plots import plot_band_structures, plot_data_efficiency
    from mlip_finetune.report.property_plots import model_plots
    from mlip_finetune.schemas.evaluation import PhononDocument
    from mlip_finetune.schemas.fitting import DataEfficiencyDocument
    from mlip_finetune.schemas.report import MaterialReportDocument

    doc = MaterialReportDocument.model_validate(report)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    label = doc.material_label
    files: dict[str, Path] = {}
    phonons = [PhononDocument.model_validate(p) for p in phonons]
    if phonons:
        files["bands"] = plot_band_structures(phonons, out_dir / f"{label}_bands.png")
        files |= {
            k: Path(v)
            for k, v in model_plots(
                phonons, report.get("properties"), report.get("dft_properties"), out_dir, label
            ).items()
        }
    if doc.data_efficiency is not None:
        files["data efficiency"] = plot_data_efficiency(
            DataEfficiencyDocument.model_validate(doc.data_efficiency),
            out_dir / f"{label}_data_efficiency.png",
        )
    data = as_json_dict(doc)
    markdown = [f"# {label} ({doc.formula})", ""]
    if doc.foundation_is_standin:
        markdown += ["Foundation: **stand-in, not MACE-MP** (offline machine).", ""]
    markdown += [to_markdown(t) for t in report_tables(data)]
    markdown += ["## Plots", ""] + [f"- {name}: `{path.name}`" for name, path in files.items()]
    files["markdown"] = out_dir / "report.md"
    files["markdown"].write_text("\n".join(markdown) + "\n")
    files["json"] = out_dir / "report.json"
    files["json"].write_text(json.dumps(data, indent=1, default=str))
    return files
