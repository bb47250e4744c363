"""Phonon jobs: MLPhononMaker with a small MACE model, phonons_from_statics with EMT 'DFT'.

Also: their large arrays live in the job store's ``data`` store and come back on reading,
their tags, and the benchmark script against atomate2 that uses MLPhononMaker.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT
from jobflow import Flow, job, run_locally
from pymatgen.core import Lattice, Structure

from mlip_finetune.evaluation.jobs import MLPhononMaker, phonons_from_statics
from mlip_finetune.evaluation.jobs.phonons import PHONON_ARRAYS
from mlip_finetune.evaluation.metrics import phonon_frequency_mae
from mlip_finetune.evaluation.phonons import (
    displaced_supercells,
    model_forces,
    phonon_document_from_calculator,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.evaluation import PhononDocument
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag
from mlip_finetune.store import local_store
from mlip_finetune.utils import sha256_file

ROOT = Path(__file__).resolve().parents[3]

MESH = [8, 8, 8]


def test_ml_phonon_maker_runs_mace_in_one_job(tmp_path, monkeypatch, si_primitive, random_mace_si):
    monkeypatch.chdir(tmp_path)
    maker = MLPhononMaker(
        relax=False, supercell_matrix=[[2, 0, 0], [0, 2, 0], [0, 0, 2]], mesh=MESH, device="cpu"
    )
    job = maker.make(si_primitive, model_path=str(random_mace_si), label="random")
    assert job.name == "ml phonons"
    responses = run_locally(job, create_folders=True, ensure_success=True)
    doc = responses[job.uuid][1].output
    doc = doc if isinstance(doc, PhononDocument) else PhononDocument.model_validate(doc)
    assert doc.label == "random"
    assert doc.model_path == str(random_mace_si)
    assert doc.model_sha256 == sha256_file(random_mace_si)
    assert doc.supercell_matrix == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert doc.n_displacements >= 1
    assert doc.mesh == MESH
    assert sum(doc.mesh_weights) == 8**3
    assert all(len(f) == 6 for f in doc.mesh_frequencies)  # 3 x 2 atoms
    assert doc.band_labels[0] == "Γ"
    assert len(doc.band_frequencies) == len(doc.band_labels) - 1
    assert doc.acoustic_sum_rule_max < 0.05  # symfc enforces the sum rule
    assert np.isfinite(doc.thermal_300k.free_energy)
    # An untrained model need not be stable; only consistency is asserted here.
    assert doc.max_frequency == pytest.approx(np.max(doc.mesh_frequencies))
    assert doc.min_frequency == pytest.approx(np.min(doc.mesh_frequencies))
    assert doc.wall_time_s > 0


def _emt_statics(structure, matrix):
    _, supercells = displaced_supercells(structure, matrix, 0.01)
    return [
        StaticDocument(
            label=f"phonon static {i + 1}/{len(supercells)}",
            structure=supercell,
            energy=0.0,
            forces=forces.tolist(),
            stress=np.zeros((3, 3)).tolist(),
            engine="emt",
            settings={},
            kpoints=[1, 1, 1],
            wall_time_s=0.5,
            converged=True,
        )
        for i, (supercell, forces) in enumerate(
            zip(supercells, model_forces(supercells, EMT()), strict=True)
        )
    ]


def test_phonons_from_statics_matches_direct_calculation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    al = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]])
    al = al.get_primitive_structure()
    matrix = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]  # 32-atom conventional 2x2x2 cube
    statics = _emt_statics(al, matrix)
    job = phonons_from_statics(al, matrix, 0.01, statics, label="dft", mesh=MESH)
    responses = run_locally(job, create_folders=True, ensure_success=True)
    doc = responses[job.uuid][1].output
    direct = phonon_document_from_calculator(al, EMT(), "emt", matrix, mesh=MESH)
    assert doc.label == "dft"
    assert doc.model_path is None
    assert doc.wall_time_s >= 0.5 * len(statics)
    assert phonon_frequency_mae(doc, direct) < 1e-10
    assert not doc.has_imaginary_modes


def test_phonons_from_statics_rejects_wrong_structures():
    al = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]])
    al = al.get_primitive_structure()
    matrix = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]
    statics = _emt_statics(al, matrix)
    undisplaced = al * matrix
    wrong = [statics[0].model_copy(update={"structure": undisplaced})]
    with pytest.raises(ValueError, match="is not displaced supercell 0"):
        phonons_from_statics.original(al, matrix, 0.01, wrong, mesh=MESH)
    with pytest.raises(ValueError, match="statics for"):
        phonons_from_statics.original(al, matrix, 0.01, statics * 2, mesh=MESH)


def _al_and_statics():
    al = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]])
    al = al.get_primitive_structure()
    matrix = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]
    return al, matrix, _emt_statics(al, matrix)


@job
def _largest_mesh_frequency(doc):
    """A later job reading the phonons (as the report does)."""
    return float(np.max(PhononDocument.model_validate(doc).mesh_frequencies))


def test_phonon_arrays_live_in_the_data_store_and_come_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    al, matrix, statics = _al_and_statics()
    phonons = phonons_from_statics(al, matrix, 0.01, statics, label="dft", mesh=MESH)
    reader = _largest_mesh_frequency(phonons.output)
    store = local_store(tmp_path / "store")  # the embedded store of the CLI
    run_locally(Flow([phonons, reader]), store=store, create_folders=True, ensure_success=True)
    store.connect()
    raw = store.query_one({"uuid": phonons.uuid}, load=False)
    for key in PHONON_ARRAYS:  # the main document holds references only
        assert raw["output"][key]["store"] == "data"
        assert "blob_uuid" in raw["output"][key]
    assert store.additional_stores["data"].count({"job_uuid": phonons.uuid}) == len(PHONON_ARRAYS)
    loaded = PhononDocument.model_validate(store.get_output(phonons.uuid, load=True))
    direct = phonon_document_from_calculator(al, EMT(), "emt", matrix, mesh=MESH)
    assert phonon_frequency_mae(loaded, direct) < 1e-10
    assert loaded.dos == pytest.approx(direct.dos)
    np.testing.assert_allclose(loaded.band_frequencies, direct.band_frequencies, atol=1e-10)
    # the later job resolved the reference with the arrays loaded
    assert store.get_output(reader.uuid) == pytest.approx(np.max(direct.mesh_frequencies))
    (queried,) = store.query({"uuid": phonons.uuid}, load=True)
    np.testing.assert_allclose(
        queried["output"]["mesh_frequencies"], direct.mesh_frequencies, atol=1e-10
    )


def test_phonon_jobs_are_tagged(si_primitive, random_mace_si):
    ml = MLPhononMaker().make(si_primitive, model_path=str(random_mace_si), label="x")
    assert job_tag(ml) == JobTag(kind=JobKind.GPU, stage=Stage.ML_PHONONS)
    al, matrix, statics = _al_and_statics()
    dft = phonons_from_statics(al, matrix, 0.01, statics)
    assert job_tag(dft) == JobTag(kind=JobKind.LIGHT, stage=Stage.DFT_PHONONS)
    # one tag per job, not shared
    ml.metadata["extra"] = 1
    assert "extra" not in MLPhononMaker().make(si_primitive, str(random_mace_si), "y").metadata


def test_benchmark_script_smoke(tmp_path, random_mace_si, capsys):
    spec = importlib.util.spec_from_file_location(
        "bench_phonons_vs_atomate2", ROOT / "benchmarks" / "bench_phonons_vs_atomate2.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ratio = bench.main(
        [
            "--model",
            str(random_mace_si),
            "--size",
            "1",
            "--no-relax",
            "--mesh",
            "8",
            "--workdir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    runs = dict(
        re.findall(r"^(ours|atomate2) \(\w+\):\s+([\d.]+) s\s+\d+ job\(s\)", out, re.MULTILINE)
    )
    jobs = dict(re.findall(r"^(ours|atomate2) \(\w+\):.*?(\d+) job\(s\)", out, re.MULTILINE))
    frequencies = dict(
        re.findall(r"^(ours|atomate2) .*max frequency (-?[\d.]+) THz", out, re.MULTILINE)
    )
    # ours: relaxation (skipped) and every displacement in one job; atomate2: one job per
    # displaced supercell plus its generation and post-processing
    assert jobs["ours"] == "1"
    assert int(jobs["atomate2"]) >= 3
    # the same model, cell, supercell and displacement: the same phonons (printed to 1e-3 THz)
    assert float(frequencies["ours"]) == pytest.approx(float(frequencies["atomate2"]), abs=2e-3)
    # the returned ratio is the ratio of the two printed wall times (printed to 0.01 s)
    t_ours, t_theirs = float(runs["ours"]), float(runs["atomate2"])
    assert ratio == pytest.approx(t_ours / t_theirs, abs=0.01 / t_theirs + 0.01 * ratio)
    assert f"ratio ours/atomate2: {ratio:.3f}" in out
