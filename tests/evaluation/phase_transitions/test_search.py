"""The search on the toy crystals: double wells, new phases, energy gains."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from mlip_finetune.evaluation.phase_transitions.modes import find_unstable_modes
from mlip_finetune.evaluation.phase_transitions.search import (
    phonopy_from_calculator,
    search_phase_transitions,
)
from tests.evaluation.phase_transitions.conftest import (
    B_SYMBOL,
    C0,
    GAMMA_A,
    GAMMA_B,
    R_A,
    R_B,
    R_KAPPA,
    cscl,
    mass_ratio,
    r_toy,
    stable_toy,
)


def test_toy_forces_and_stress_are_energy_derivatives():
    atoms = cscl().to_ase_atoms() * (2, 2, 1)
    rng = np.random.default_rng(0)
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    atoms.calc = r_toy()
    forces, stress = atoms.get_forces(), atoms.get_stress()
    h = 1e-5
    for atom, axis in [(0, 0), (1, 2), (5, 1)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[atom, axis] += h
        minus.positions[atom, axis] -= h
        plus.calc = minus.calc = r_toy()
        numeric = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
        assert forces[atom, axis] == pytest.approx(numeric, abs=1e-6)
    energies = []
    for eps in (h, -h):
        strained = atoms.copy()
        strained.set_cell(atoms.cell[:] @ (np.eye(3) + np.diag([eps, 0, 0])), scale_atoms=True)
        strained.calc = r_toy()
        energies.append(strained.get_potential_energy())
    numeric_xx = (energies[0] - energies[1]) / (2 * h)
    assert stress[0] * atoms.get_volume() == pytest.approx(numeric_xx, abs=1e-4)


def test_gamma_instability_is_one_dimensional(gamma_doc):
    assert gamma_doc.initial_space_group_symbol == "P4/mmm"
    assert len(gamma_doc.unstable_modes) == 1
    mode = gamma_doc.unstable_modes[0]
    assert mode.label == "Γ"
    assert mode.qpoint == pytest.approx([0, 0, 0])
    assert mode.degeneracy == mode.subspace_dimension == 1
    assert mode.n_supercell_atoms == 2
    assert mode.frequency < -0.1


def test_gamma_double_well_and_p4mm_minimum(gamma_doc):
    scan = gamma_doc.scans[0]
    assert scan.grid_shape == [21]
    energies = np.asarray(scan.energies)
    assert energies[10] == pytest.approx(0.0)
    assert np.allclose(energies, energies[::-1], atol=1e-9)  # symmetric double well
    # d = u_B − u_A = c (1 + m_B/m_A) for the Γ optical mode (momentum conserved).
    d_star = np.sqrt(-GAMMA_A / (2 * GAMMA_B))
    c_star = d_star / (1 + mass_ratio())
    step = scan.amplitudes[1] - scan.amplitudes[0]
    assert sorted(abs(m[0]) for m in scan.minima) == pytest.approx([c_star] * 2, abs=step)
    q_values, u_values = scan.double_well()
    assert q_values[-1] == pytest.approx(0.5 * scan.mass_weighted_norms[0])
    d = np.asarray(scan.amplitudes) * (1 + mass_ratio())
    analytic = (GAMMA_A * d**2 + GAMMA_B * d**4) / 2 * 1000  # meV/atom, 2 atoms per B
    assert u_values == pytest.approx(analytic.tolist(), abs=1e-6)
    assert len(gamma_doc.pathways) == 1  # ±c* are equivalent: relaxed once
    pathway = gamma_doc.pathways[0]
    assert pathway.converged
    expected_gain = GAMMA_A**2 / (4 * GAMMA_B) / 2 * 1000  # meV/atom, 2 atoms per B
    assert pathway.energy_gain == pytest.approx(expected_gain, rel=0.01)
    phase = gamma_doc.new_phases[0]
    assert (phase.space_group_symbol, phase.n_primitive_atoms) == ("P4mm", 2)
    analyzer = SpacegroupAnalyzer(phase.structure, symprec=0.1)
    assert analyzer.get_space_group_number() == 99
    assert gamma_doc.phase_keys == [(99, 2)]
    b_z = phase.structure.cart_coords[1, 2] - phase.structure.cart_coords[0, 2]
    assert abs(b_z - C0 / 2) == pytest.approx(d_star, rel=0.01)


def test_r_grid_relaxation_and_space_group(r_doc):
    doc, _ = r_doc
    scan = doc.scans[0]
    assert scan.grid_shape == [9, 9, 9]
    with pytest.raises(ValueError, match="1-D scan"):
        scan.double_well()
    alpha = R_A + 6 * R_KAPPA
    delta = np.sqrt(-alpha / (2 * R_B))
    step = scan.amplitudes[1] - scan.amplitudes[0]
    assert len(scan.minima) == 8  # the eight [111] directions
    assert np.abs(scan.minima).ravel() == pytest.approx([delta] * 24, abs=step)
    assert len(doc.pathways) == 1  # symmetry-equivalent minima relaxed once

    # The expected phase, built by hand: B displaced by ±δ(1,1,1) alternating on the
    # rock-salt sublattice of a 2x2x2 cubic cell.
    big = cscl().make_supercell([2, 2, 2], in_place=False)
    for index, site in enumerate(big):
        if site.specie.symbol == B_SYMBOL:
            sign = (-1) ** round(np.sum(site.frac_coords * 2 - 0.5))
            big.translate_sites([index], sign * delta * np.ones(3), frac_coords=False)
    analyzer = SpacegroupAnalyzer(big, symprec=0.1)
    expected_key = (analyzer.get_space_group_number(), len(analyzer.find_primitive()))
    assert expected_key[1] == 4

    pathway = doc.pathways[0]
    assert pathway.converged
    assert (pathway.final_space_group_number, pathway.n_primitive_atoms) == expected_key
    expected_gain = 3 * alpha**2 / (4 * R_B) / 2 * 1000  # meV/atom
    assert pathway.energy_gain == pytest.approx(expected_gain, rel=0.01)
    assert doc.phase_keys == [expected_key]
    assert doc.wall_time_s < 60


def test_stable_toy_has_no_modes_and_no_phases():
    calculator = stable_toy()
    phonon = phonopy_from_calculator(cscl(), calculator, [2, 2, 2])
    assert find_unstable_modes(phonon) == []
    doc = search_phase_transitions(phonon, calculator, "toy-stable")
    assert doc.unstable_modes == doc.scans == doc.pathways == doc.new_phases == []
    assert doc.phase_keys == []
