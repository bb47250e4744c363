"""Validation errors, phonon MAE, property and thermal errors on hand-made documents."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.evaluation.metrics import (
    compare_properties,
    energy_offset_per_atom,
    phonon_frequency_mae,
    thermal_property_errors,
    validation_metrics,
)
from mlip_finetune.evaluation.phonons import thermal_temperatures
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA

GAS_CONSTANT = 8.314462618  # J/(K mol)


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
    for name in ("energy_{}_mev_per_atom", "force_{}_mev_per_angstrom", "stress_{}_gpa"):
        assert getattr(metrics, name.format("mae")) == pytest.approx(0.0, abs=1e-9)
        assert getattr(metrics, name.format("rmse")) == pytest.approx(0.0, abs=1e-9)


def test_shifted_forces_give_10_mev_per_angstrom():
    metrics = validation_metrics(EMT(), _statics(force_shift=0.010))
    assert metrics.force_mae_mev_per_angstrom == pytest.approx(10.0, abs=1e-9)
    assert metrics.force_rmse_mev_per_angstrom == pytest.approx(10.0, abs=1e-9)
    assert metrics.energy_mae_mev_per_atom == pytest.approx(0.0, abs=1e-9)


def test_energy_offset_recovers_constant_shift():
    shift = -0.25  # eV/atom, e.g. a code with isolated-atom reference energies
    train, validation = (
        _statics(energy_shift_per_atom=shift)[:2],
        _statics(energy_shift_per_atom=shift)[2:],
    )
    offset = energy_offset_per_atom(EMT(), train)
    assert offset == pytest.approx(shift, abs=1e-12)
    without = validation_metrics(EMT(), validation)
    assert without.energy_mae_mev_per_atom == pytest.approx(250.0, abs=1e-6)  # meV/atom
    corrected = validation_metrics(EMT(), validation, energy_offset_per_atom=offset)
    assert corrected.energy_mae_mev_per_atom == pytest.approx(0.0, abs=1e-9)
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


def test_compare_properties_exact_percentages(model_and_reference):
    model, ref = model_and_reference
    errors = compare_properties(model, ref)
    assert errors.label == "transfer"
    assert errors.reference_label == "dft"
    assert errors.b0 == pytest.approx(10.0)
    assert errors.b0_prime == pytest.approx(25.0)
    assert errors.v0 == pytest.approx(-5.0)
    assert errors.k_vrh == pytest.approx(-25.0)
    assert errors.g_vrh == pytest.approx(25.0)
    assert errors.c11 == pytest.approx(-5.0)
    assert errors.c12 == pytest.approx(-100.0)
    assert errors.c44 == pytest.approx(20.0)
    assert errors.slack_kappa == pytest.approx(25.0)
    assert errors.debye_temperature == pytest.approx(-5.0)
    assert errors.gruneisen == pytest.approx(-25.0)
    assert errors.elastic_stability_agreement is False
    # Stability from the searches: the model finds no unstable mode, the reference one.
    assert errors.stability_source == "phase_transitions"
    assert errors.model_unstable is False
    assert errors.reference_unstable is True
    assert errors.stability_agreement is False
    # Phase sets: 1 of 2 predicted phases is right, 1 of 3 reference phases found.
    assert errors.phase_precision == pytest.approx(0.5)
    assert errors.phase_recall == pytest.approx(1 / 3)
    assert errors.phase_f1 == pytest.approx(0.4)
    assert (errors.n_model_phases, errors.n_reference_phases) == (2, 3)
    # Reference C12 = 0: no relative error; a missing property: no error at all.
    reversed_errors = compare_properties(ref, model.model_copy(update={"slack": None}))
    assert reversed_errors.c12 is None
    assert reversed_errors.slack_kappa is None
    assert reversed_errors.gruneisen is None
    assert reversed_errors.b0 == pytest.approx(100.0 * (100.0 - 110.0) / 110.0)


def test_thermal_properties_over_temperature_range(cu_props, cu_phonons):
    doc, soft = cu_phonons
    temps = [t.temperature for t in doc.thermal_properties]
    assert temps == pytest.approx(np.arange(0.0, 1001.0, 10.0))
    first, last = doc.thermal_properties[0], doc.thermal_properties[-1]
    assert first.heat_capacity == pytest.approx(0.0, abs=1e-10)
    assert first.entropy == pytest.approx(0.0, abs=1e-10)
    assert first.free_energy > 0  # zero-point energy
    cv = np.array([t.heat_capacity for t in doc.thermal_properties])
    assert np.all(np.diff(cv) > 0)
    dulong_petit = 3 * len(doc.structure) * GAS_CONSTANT
    assert cv.max() < dulong_petit
    assert last.heat_capacity == pytest.approx(dulong_petit, rel=0.02)
    (at_300,) = [t for t in doc.thermal_properties if t.temperature == 300.0]
    assert at_300 == doc.thermal_300k
    # A softer model (forces × 0.8): lower frequencies, so more entropy and heat capacity.
    errors = thermal_property_errors(soft, doc)
    assert errors.temperatures == temps
    assert errors.heat_capacity[0] is None
    assert errors.entropy[0] is None
    # Above ~100 K (below, a 12x12x12 mesh resolves no acoustic phonons near Γ).
    assert all(e > 0 for e in errors.heat_capacity[10:])
    assert all(e > 0 for e in errors.entropy[10:])
    # High-T limit: C_V → 3NR for both, so the error vanishes.
    assert errors.heat_capacity[-1] < errors.heat_capacity[10]
    # Stability from phonons takes precedence over the searches.
    errors = compare_properties(cu_props, cu_props, model_phonons=soft, reference_phonons=doc)
    assert errors.stability_source == "phonons"
    assert errors.stability_agreement


def test_thermal_range_validation(cu_phonons):
    doc, soft = cu_phonons
    with pytest.raises(ValueError, match="t_step"):
        thermal_temperatures(0.0, 100.0, 0.0)
    assert thermal_temperatures(100.0, 300.0, 100.0).tolist() == [100.0, 200.0, 300.0]
    shorter = soft.model_copy(update={"thermal_properties": soft.thermal_properties[:-1]})
    with pytest.raises(ValueError, match="temperature ranges differ"):
        thermal_property_errors(shorter, doc)
