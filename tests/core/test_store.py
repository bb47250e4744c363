"""Tests of :mod:`mlip_finetune.core.store`: the embedded, file-backed job store."""

from __future__ import annotations

import numpy as np
from jobflow import Flow, job, run_locally

import mlip_finetune.store as old_path
from mlip_finetune.core.store import local_store


@job(data=["big"])
def _make_arrays(n: int) -> dict:
    return {"big": np.arange(n, dtype=float).tolist(), "n": n}


@job
def _total(arrays: dict) -> float:
    return float(sum(arrays["big"]))


def test_large_arrays_go_to_the_data_store_and_persist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    producer = _make_arrays(1000)
    consumer = _total(producer.output)
    store = local_store(tmp_path / "store")
    run_locally(Flow([producer, consumer]), store=store, ensure_success=True)

    reopened = local_store(tmp_path / "store")  # a later process, same directory
    reopened.connect()
    main = reopened.docs_store.query_one({"uuid": producer.uuid})["output"]
    assert main["n"] == 1000
    assert main["big"]["store"] == "data"
    blob = reopened.additional_stores["data"].query_one({"blob_uuid": main["big"]["blob_uuid"]})
    assert len(blob["data"]) == 1000
    assert reopened.get_output(producer.uuid, load=True)["big"][-1] == 999.0
    assert reopened.get_output(consumer.uuid) == sum(range(1000))  # resolved for the consumer
    reopened.close()


def test_store_directory_is_created(tmp_path):
    store = local_store(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert set(store.additional_stores) == {"data"}


def test_old_import_path_reexports():
    assert old_path.local_store is local_store
