"""Report queries read the same documents from the embedded local store and any JobStore."""

import pytest


def _report(uuid, material, completed_at, host):
    return {
        "uuid": uuid,
        "index": 1,
        "name": "material report",
        "output": {"material_label": material, "formula": material, "rows": []},
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
def filled_store(request, tmp_path):
    """A JobStore (in memory, or the embedded store of local runs) with two runs of Si and
    one of NaCl."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    from mlip_finetune.core.store import local_store

    store = JobStore(MemoryStore()) if request.param == "memory" else local_store(tmp_path)
    docs = [
        _report("r2", "Si", "2026-01-02T00:00:00", "run2"),
        _report("r1", "Si", "2026-01-01T00:00:00", "run1"),
        _report("r3", "NaCl", "2026-01-03T00:00:00", "run3"),
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
