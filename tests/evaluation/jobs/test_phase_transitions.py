"""Phase-transition jobs: the DFT search job, and the search with any per-call calculator."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import run_locally

from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.jobs import dft_phase_transitions, phase_transitions_with_calculator
from mlip_finetune.evaluation.phonons import displaced_supercells, model_forces
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)
from tests.evaluation.conftest import static_document
from tests.evaluation.phase_transitions.conftest import cscl, stable_toy


def test_search_with_a_calculator_reuses_given_phonon_statics():
    """Forces from the statics or from the calculator: the same document."""
    structure, matrix = cscl(), [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    calculator = stable_toy()
    settings = PhaseTransitionSettings(band_npoints=5)
    direct = phase_transitions_with_calculator(
        structure, calculator, settings, label="toy", supercell_matrix=matrix
    )
    _, supercells = displaced_supercells(structure, matrix, 0.01)
    statics = [
        static_document(s, 0.0, np.zeros((3, 3)), f"static {i}").model_copy(
            update={"forces": f.tolist()}
        )
        for i, (s, f) in enumerate(
            zip(supercells, model_forces(supercells, calculator), strict=True)
        )
    ]
    reused = phase_transitions_with_calculator(
        structure,
        calculator,
        settings,
        label="toy",
        supercell_matrix=matrix,
        phonon_statics=[s.model_dump() for s in statics],
    )
    assert direct.label == reused.label == "toy"
    assert direct.initial_space_group_number == reused.initial_space_group_number == 221
    assert direct.unstable_modes == reused.unstable_modes == []
    with pytest.raises(ValueError, match="statics for"):
        phase_transitions_with_calculator(
            structure, calculator, settings, supercell_matrix=matrix, phonon_statics=statics[:-1]
        )


def test_dft_phase_transitions_job_is_tagged(si_primitive):
    equilibrium = static_document(si_primitive, 0.0, np.zeros((3, 3)), "si")
    job = dft_phase_transitions(equilibrium, DFTSettings.test(), PhaseTransitionSettings())
    assert job_tag(job) == JobTag(kind=JobKind.DFT, stage=Stage.PROPERTIES)


@pytest.mark.dft
def test_dft_phase_transitions_job_on_stable_si(tmp_path, monkeypatch, si_primitive):
    """The DFT search runs the engine through its ASE adapter; stable Si has nothing to scan."""
    monkeypatch.chdir(tmp_path)
    equilibrium = static_document(si_primitive, 0.0, np.zeros((3, 3)), "si")
    settings = PhaseTransitionSettings(supercell_atom_limit=3, band_npoints=5)
    job = dft_phase_transitions(
        equilibrium,
        DFTSettings.test(),
        settings,
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    )
    responses = run_locally(job, create_folders=True, ensure_success=True)
    doc = PhaseTransitionDocument.model_validate(responses[job.uuid][1].output)
    assert doc.label == "dft"
    assert doc.initial_space_group_number == 227
    assert doc.unstable_modes == []  # forces through the adapter: Si is stable
    assert doc.scans == []
    assert doc.phase_keys == []
    # One static for the single displacement, one for the reference energy.
    assert len(list(tmp_path.glob("job_*/phase_transitions/static_*/gpaw.txt"))) == 2
