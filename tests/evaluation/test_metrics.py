"""Static validation errors and phonon MAE checks on hand-made documents."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.evaluation.metrics import (
    energy_offset_per_atom,
    phonon_frequency_mae,
    validation_metrics,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA


def _statics(force_shift=0.0, energy_shift_per_atom=0.0):
    """EMT's own predictions on rattled Cu and Al cells, stored as DFT statics."""
    statics = []
    for i, (symbol, a, reps) in enumerate([("Cu", 3.6, 2), ("Al", 4.05, 2), ("Cu", 3.5, 1)]):
        atoms = bulk(symbol, "fcc", a=a, cubic=True).repeat(reps)
        atoms.rattle(stdev=0.05, seed=i)
        atoms.calc = EMT()
        stress = atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA
        n = len(atoms)
        statics.append(
            StaticDocument(
                label=f"{symbol} {i}",
                structure=AseAtomsAdaptor.get_structure(atoms),
                energy=atoms.get_potential_energy() + energy_shift_per_atom * n,
                forces=(atoms.get_forces() + force_shift).tolist(),
                stress=stress.tolist(),
                engine="emt",
                settings={},
                kpoints=[1, 1, 1],
                wall_time_s=0.0,
                converged=True,
            )
        )
    return statics


def test_own_predictions_give_zero_errors():
    metrics = validation_metrics(EMT(), _statics())
    assert metrics.n_structures == 3
    assert metrics.n_atoms == 32 + 32 + 4
    for name in ("energy", "force", "stress"):
        assert getattr(metrics, f"{name}_mae") == pytest.approx(0.0, abs=1e-9)
        assert getattr(metrics, f"{name}_rmse") == pytest.approx(0.0, abs=1e-9)


def test_shifted_forces_give_10_mev_per_angstrom():
    metrics = validation_metrics(EMT(), _statics(force_shift=0.010))
    assert metrics.force_mae == pytest.approx(10.0, abs=1e-9)
    assert metrics.force_rmse == pytest.approx(10.0, abs=1e-9)
    assert metrics.energy_mae == pytest.approx(0.0, abs=1e-9)


def test_energy_offset_recovers_constant_shift():
    shift = -0.25  # eV/atom, e.g. a code with isolated-atom reference energies
    train, validation = (
        _statics(energy_shift_per_atom=shift)[:2],
        _statics(energy_shift_per_atom=shift)[2:],
    )
    offset = energy_offset_per_atom(EMT(), train)
    assert offset == pytest.approx(shift, abs=1e-12)
    without = validation_metrics(EMT(), validation)
    assert without.energy_mae == pytest.approx(250.0, abs=1e-6)  # meV/atom
    corrected = validation_metrics(EMT(), validation, energy_offset_per_atom=offset)
    assert corrected.energy_mae == pytest.approx(0.0, abs=1e-9)
    assert corrected.energy_offset_per_atom == offset


def test_empty_statics_raise():
    with pytest.raises(ValueError, match="at least one"):
        validation_metrics(EMT(), [])
    with pytest.raises(ValueError, match="at least one"):
        energy_offset_per_atom(EMT(), [])


def _tiny_doc(si_primitive, mesh, frequencies, weights):
    from mlip_finetune.schemas.evaluation import PhononDocument, ThermalProperties

    return PhononDocument(
        label="x",
        structure=si_primitive,
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        displacement=0.01,
        n_displacements=1,
        fc_calculator="symfc",
        mesh=mesh,
        mesh_qpoints=[[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]],
        mesh_weights=weights,
        mesh_frequencies=frequencies,
        band_labels=["Γ", "X"],
        band_distances=[[0.0, 1.0]],
        band_frequencies=[frequencies],
        dos_frequencies=[0.0, 1.0],
        dos=[0.0, 0.0],
        thermal_300k=ThermalProperties(temperature=300, heat_capacity=0, entropy=0, free_energy=0),
        max_frequency=float(np.max(frequencies)),
        min_frequency=float(np.min(frequencies)),
        has_imaginary_modes=False,
        acoustic_sum_rule_max=0.0,
        wall_time_s=0.0,
    )


def test_phonon_mae_weights_and_mesh_checks(si_primitive):
    ref = _tiny_doc(si_primitive, [2, 2, 2], [[0.0] * 6, [1.0] * 6], [1, 7])
    doc = _tiny_doc(si_primitive, [2, 2, 2], [[0.0] * 6, [1.5] * 6], [1, 7])
    assert phonon_frequency_mae(doc, ref) == pytest.approx(0.5 * 7 / 8)
    other_mesh = _tiny_doc(si_primitive, [3, 3, 3], [[0.0] * 6, [1.5] * 6], [1, 7])
    with pytest.raises(ValueError, match="meshes differ"):
        phonon_frequency_mae(other_mesh, ref)
    other_weights = _tiny_doc(si_primitive, [2, 2, 2], [[0.0] * 6, [1.5] * 6], [2, 6])
    with pytest.raises(ValueError, match="mesh q-points differ"):
        phonon_frequency_mae(other_weights, ref)
    fewer_atoms = si_primitive.copy()
    fewer_atoms.remove_sites([1])
    small = _tiny_doc(fewer_atoms, [2, 2, 2], [[0.0] * 3, [1.5] * 3], [1, 7])
    with pytest.raises(ValueError, match="numbers of atoms differ"):
        phonon_frequency_mae(small, ref)
