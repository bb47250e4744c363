"""Shared fixtures of the evaluation tests: EMT Cu properties and phonons, a hand-made pair."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from mlip_finetune.evaluation.phonons import (
    displaced_supercells,
    model_forces,
    phonon_document_from_forces,
)
from mlip_finetune.evaluation.properties import PropertySettings, properties_from_calculator
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
    UnstableMode,
)

CU_SUPERCELL = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]  # 32-atom conventional 2x2x2 cube


@pytest.fixture(scope="session")
def cu():
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.6), ["Cu"], [[0, 0, 0]])
    return conv.get_primitive_structure()


@pytest.fixture(scope="session")
def cu_props(cu):
    """EMT Cu: relaxation, EOS, elastic tensor, Slack κ and the phase-transition search."""
    return properties_from_calculator(
        cu,
        EMT(),
        "emt",
        PropertySettings(
            phase_transition_settings=PhaseTransitionSettings(), supercell_matrix=CU_SUPERCELL
        ),
    )


@pytest.fixture(scope="session")
def cu_phonons(cu_props):
    """EMT Cu phonons labelled "dft", and a softer model's (forces × 0.8)."""
    out = []
    for label, scale in (("dft", 1.0), ("soft", 0.8)):
        phonon, supercells = displaced_supercells(cu_props.structure, CU_SUPERCELL)
        forces = [scale * f for f in model_forces(supercells, EMT())]
        out.append(phonon_document_from_forces(phonon, forces, label, mesh=[12, 12, 12]))
    return out


def static_document(structure, energy, stress_gpa, label, metadata=None):
    """A converged StaticDocument of an EMT 'DFT' relaxation (zero forces)."""
    return StaticDocument(
        label=label,
        structure=structure,
        energy=energy,
        forces=np.zeros((len(structure), 3)).tolist(),
        stress=np.asarray(stress_gpa).tolist(),
        engine="emt",
        settings={"xc": "emt"},
        kpoints=[1, 1, 1],
        wall_time_s=0.25,
        converged=True,
        metadata={"relax_converged": True, **(metadata or {})},
    )


def _phases(structure, keys, *, unstable):
    mode = UnstableMode(
        qpoint=[0.5, 0.5, 0.5],
        label="L",
        frequency=-1.0,
        frequencies=[-1.0],
        band_indices=[0],
        degeneracy=1,
    )
    return PhaseTransitionDocument(
        label="x",
        structure=structure,
        initial_space_group_symbol="Fm-3m",
        initial_space_group_number=225,
        initial_n_primitive_atoms=1,
        settings=PhaseTransitionSettings(),
        unstable_modes=[mode] if unstable else [],
        scans=[],
        pathways=[],
        new_phases=[],
        phase_keys=keys,
        wall_time_s=0.0,
    )


@pytest.fixture(scope="session")
def model_and_reference(cu_props):
    """A "transfer" model and a "dft" reference with hand-set properties (exact errors)."""
    base = cu_props
    tensor = np.zeros((6, 6))
    tensor[0, 0], tensor[0, 1], tensor[3, 3] = 200.0, 100.0, 50.0
    model_tensor = tensor.copy()
    model_tensor[0, 0], model_tensor[0, 1], model_tensor[3, 3] = 190.0, 0.0, 60.0
    ref = base.model_copy(
        update={
            "label": "dft",
            "eos": base.eos.model_copy(update={"b0": 100.0, "b0_prime": 4.0, "v0": 12.0}),
            "elastic": base.elastic.model_copy(
                update={"k_vrh": 80.0, "g_vrh": 40.0, "elastic_tensor": tensor.tolist()}
            ),
            "slack": base.slack.model_copy(
                update={"kappa": 20.0, "debye_temperature": 400.0, "gruneisen": 2.0}
            ),
            "phase_transitions": _phases(base.structure, [(1, 2), (5, 3), (99, 1)], unstable=True),
        }
    )
    model = base.model_copy(
        update={
            "label": "transfer",
            "eos": base.eos.model_copy(update={"b0": 110.0, "b0_prime": 5.0, "v0": 11.4}),
            "elastic": base.elastic.model_copy(
                update={
                    "k_vrh": 60.0,
                    "g_vrh": 50.0,
                    "elastic_tensor": model_tensor.tolist(),
                    "elastically_stable": False,
                }
            ),
            "slack": base.slack.model_copy(
                update={"kappa": 25.0, "debye_temperature": 380.0, "gruneisen": 1.5}
            ),
            "phase_transitions": _phases(base.structure, [(1, 2), (10, 4)], unstable=False),
        }
    )
    return model, ref
