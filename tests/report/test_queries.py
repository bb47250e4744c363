"""Report queries read the same documents from the embedded local store and any JobStore."""

import pytest


def _report(uuid, material, completed_at, host, report):
    return {
        "uuid": uuid,
        "index": 1,
        "name": "material report",
        "output": report | {"material_label": material, "formula": material},
        "completed_at": completed_at,
        "hosts": [host, "outer"],
    }


def _phonons(uuid, name, label, host):
    return {
        "uuid": uuid,
        "index": 1,
        "name": name,
        "output": {"label": label},
        "completed_at": "2026-01-01T00:00:00",
        "hosts": [host],
    }


@pytest.fixture(params=["memory", "local"])
def filled_store(request, tmp_path, al_report):
    """A JobStore (in memory, or the embedded store of local runs) with two runs of Si and
    one of NaCl."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    from mlip_finetune.core.store import local_store

    store = JobStore(MemoryStore()) if request.param == "memory" else local_store(tmp_path)
    docs = [
        _report("r2", "Si", "2026-01-02T00:00:00", "run2", al_report),
        _report("r1", "Si", "2026-01-01T00:00:00", "run1", al_report),
        _report("r3", "NaCl", "2026-01-03T00:00:00", "run3", al_report),
        _phonons("p1", "ml phonons transfer", "transfer", "run1"),
        _phonons("p2", "dft phonons", "dft", "run1"),
        _phonons("p3", "dft phonons", "dft", "run2"),
        _phonons("p4", "dft relax", "dft", "run1"),
    ]
    store.connect()
    store.update(docs, key=["uuid", "index"])
    store.close()
    return store


def test_read_material_reports(filled_store):
    from mlip_finetune.report.queries import read_material_reports

    reports = read_material_reports(filled_store)
    assert [(r["material_label"], r["completed_at"]) for r in reports] == [
        ("Si", "2026-01-01T00:00:00"),
        ("Si", "2026-01-02T00:00:00"),
        ("NaCl", "2026-01-03T00:00:00"),
    ]
    assert reports[0]["_hosts"] == ["run1", "outer"]
    assert reports[0]["formula"] == "Si"
    si = read_material_reports(filled_store, material="Si")
    assert [r["_hosts"][0] for r in si] == ["run1", "run2"]
    assert read_material_reports(filled_store, material="Ge") == []


def test_read_run_phonons_of_one_run_dft_first(filled_store):
    from mlip_finetune.report.queries import read_material_reports, read_run_phonons

    first, second, _ = read_material_reports(filled_store)
    assert [p["label"] for p in read_run_phonons(filled_store, first)] == ["dft", "transfer"]
    assert [p["label"] for p in read_run_phonons(filled_store, second)] == ["dft"]
    everything = read_run_phonons(filled_store, {"_hosts": []})
    assert [p["label"] for p in everything] == ["dft", "dft", "transfer"]


def test_reports_stored_with_bare_metric_names_read_back_with_unit_names(tmp_path, al_report):
    """Reports written before the fields carried their units (energy_mae, ...) still read."""
    from mlip_finetune.core.store import local_store
    from mlip_finetune.report.queries import read_material_reports
    from mlip_finetune.report.tables import forgetting_table

    old_metrics = {
        "n_structures": 5,
        "n_atoms": 20,
        "energy_offset_per_atom": 0.0,
        "energy_mae": 3.0,
        "energy_rmse": 4.0,
        "force_mae": 12.0,
        "force_rmse": 15.0,
        "stress_mae": 0.01,
        "stress_rmse": 0.02,
    }
    row = {
        "label": "transfer",
        "model_path": "/models/t.model",
        "model_sha256": "0" * 64,
        "element_energy_shifts": {"Al": 0.0},
        "metrics": old_metrics,
    }
    forgetting = {
        "elements": ["Al"],
        "foundation_path": "/models/foundation.model",
        "foundation_sha256": "1" * 64,
        "n_structures": 5,
        "seed": 0,
        "formulas": ["Al"] * 5,
        "rows": [row],
        "wall_time_s": 1.0,
    }
    store = local_store(tmp_path)
    store.connect()
    doc = _report("r1", "Al", "2026-01-01T00:00:00", "run1", al_report)
    doc["output"]["forgetting"] = forgetting
    store.update([doc], key=["uuid", "index"])
    store.close()
    (report,) = read_material_reports(store)
    metrics = report["forgetting"]["rows"][0]["metrics"]
    assert metrics["force_mae_mev_per_angstrom"] == 12.0
    assert "force_mae" not in metrics
    assert forgetting_table(report)[2] == [["transfer", "3.00", "12.0", "0.010"]]
