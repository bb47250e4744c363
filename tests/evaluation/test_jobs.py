"""Jobs: MLPhononMaker with a small MACE model, phonons_from_statics with EMT 'DFT'."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from mlip_finetune.evaluation.jobs import MLPhononMaker, phonons_from_statics
from mlip_finetune.evaluation.metrics import phonon_frequency_mae
from mlip_finetune.evaluation.phonons import (
    displaced_supercells,
    model_forces,
    phonon_document_from_calculator,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.evaluation import PhononDocument
from mlip_finetune.utils import sha256_file

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
