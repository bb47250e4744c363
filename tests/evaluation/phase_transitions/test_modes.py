"""Unstable modes, degenerate groups and displacement patterns on the toy crystals."""

from __future__ import annotations

import numpy as np
import pytest

from mlip_finetune.evaluation.phase_transitions.modes import (
    degenerate_groups,
    find_unstable_modes,
    mode_displacement_patterns,
)
from mlip_finetune.evaluation.phase_transitions.qpoints import commensurate_supercell_matrix
from mlip_finetune.evaluation.phase_transitions.search import (
    phonopy_from_calculator,
    search_phase_transitions,
)
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
from tests.evaluation.phase_transitions.conftest import (
    A_SYMBOL,
    R_A,
    R_KAPPA,
    cscl,
    r_toy,
    stable_toy,
)


def test_degenerate_groups():
    assert degenerate_groups([-1.0005, -1.0, 0.0, 0.0, 0.0, 2.0], 1e-3) == [
        [0, 1],
        [2, 3, 4],
        [5],
    ]
    with pytest.raises(ValueError, match="ascending"):
        degenerate_groups([1.0, 0.0], 1e-3)


def test_zone_boundary_instability_at_r(r_doc):
    doc, _ = r_doc
    assert doc.initial_space_group_symbol == "Pm-3m"
    assert [(m.label, m.degeneracy) for m in doc.unstable_modes] == [("R", 3)]
    mode = doc.unstable_modes[0]
    assert np.mod(mode.qpoint, 1) == pytest.approx([0.5, 0.5, 0.5])
    assert mode.n_supercell_atoms == 4
    assert round(np.linalg.det(mode.supercell_matrix)) == 2
    # B-only harmonic curvature at R: 2(a + 6κ) = m_B ω² (eV/Å² per amu → THz).
    from phonopy.physical_units import get_physical_units

    factor = get_physical_units().DefaultToTHz
    m_b = cscl()[1].specie.atomic_mass
    expected = -np.sqrt(-2 * (R_A + 6 * R_KAPPA) / m_b) * factor
    assert mode.frequency == pytest.approx(expected, rel=0.02)


def test_r_patterns_are_cartesian_and_b_only(r_doc):
    doc, phonon = r_doc
    mode = doc.unstable_modes[0]
    supercell, patterns, norms = mode_displacement_patterns(
        phonon, mode.qpoint, mode.band_indices, mode.supercell_matrix
    )
    is_a = np.array([site.specie.symbol == A_SYMBOL for site in supercell])
    assert patterns.shape == (3, 4, 3)
    assert np.abs(patterns[:, is_a]).max() < 1e-6  # A decouples at R
    # each pattern moves the B atoms along one Cartesian axis, antiferro; the three patterns
    # cover x, y and z (their order follows the QR pivots, which ties leave to the BLAS)
    axes = []
    for pattern in patterns:
        b = pattern[~is_a]
        axis = int(np.argmax(np.abs(b[0])))
        assert np.allclose(np.abs(b[:, axis]), 1.0, atol=1e-6)
        assert np.abs(np.delete(b, axis, axis=1)).max() < 1e-6  # along one axis only
        assert b[0, axis] == pytest.approx(-b[1, axis])  # antiferro
        axes.append(axis)
    assert sorted(axes) == [0, 1, 2]
    m_b = cscl()[1].specie.atomic_mass
    assert norms == pytest.approx([np.sqrt(2 * m_b)] * 3)


def test_band_minima_between_high_symmetry_points():
    """Simple cubic, 1 atom, only second-neighbour springs (k = -1 eV/Å²) along the axes:
    ω²(q) = (-6 + 2 Σ_α cos 4πq_α)·|k|/m vanishes at Γ, X, M, R and is lowest half-way along
    every segment (q_α = ¼): band minima, isotropic (3-fold), q ≠ -q (6 real patterns)."""
    from phonopy import Phonopy
    from phonopy.physical_units import get_physical_units
    from phonopy.structure.atoms import PhonopyAtoms

    unit = PhonopyAtoms(symbols=["Cu"], cell=np.eye(3) * 3.0, scaled_positions=[[0, 0, 0]])
    phonon = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * 4, primitive_matrix=None)
    cells = np.rint(phonon.supercell.scaled_positions * 4).astype(int)
    n = len(cells)
    fc = np.zeros((n, n, 3, 3))
    for i, j in np.ndindex(n, n):
        if sorted(np.mod(cells[j] - cells[i], 4).tolist()) == [0, 0, 2]:
            fc[i, j] = 2.0 * np.eye(3)  # ±2a are one image in a 4-cell supercell: 2Φ(2a)
    for i in range(n):
        fc[i, i] = -fc[i].sum(axis=0)
    phonon.force_constants = fc

    modes = find_unstable_modes(phonon)
    by_label = {mode.label: mode for mode in modes}
    expected = {"Γ–X min", "X–M min", "M–Γ min", "Γ–R min", "R–X min", "R–M min"}
    assert set(by_label) == expected
    assert all(m.degeneracy == 3 and m.subspace_dimension == 6 for m in modes)
    assert all("6-dimensional" in m.skipped for m in modes)  # no grid for 6 by default
    gamma_x = by_label["Γ–X min"]
    assert np.sort(np.abs(gamma_x.qpoint)) == pytest.approx([0, 0, 0.25])
    assert gamma_x.n_supercell_atoms == 4
    mass = unit.masses[0]
    expected_thz = -np.sqrt(4.0 / mass) * get_physical_units().DefaultToTHz
    assert gamma_x.frequency == pytest.approx(expected_thz, rel=1e-6)
    assert by_label["Γ–R min"].frequency == pytest.approx(np.sqrt(3) * expected_thz, rel=1e-6)


def test_modes_beyond_limits_are_reported_not_scanned(r_doc):
    _, phonon = r_doc
    (small,) = find_unstable_modes(phonon, PhaseTransitionSettings(supercell_atom_limit=4))
    assert small.supercell_matrix is None
    assert "needs 4 atoms" in small.skipped
    (no_grid,) = find_unstable_modes(phonon, PhaseTransitionSettings(grid_points={1: 21}))
    assert no_grid.n_supercell_atoms == 4
    assert "3-dimensional" in no_grid.skipped
    doc = search_phase_transitions(
        phonon, r_toy(), "toy-r", settings=PhaseTransitionSettings(grid_points={1: 21})
    )
    assert len(doc.unstable_modes) == 1
    assert doc.scans == doc.new_phases == []


def test_patterns_off_trim_are_harmonic_normal_modes():
    """At q = (⅓, 0, 0) ≠ -q the two degenerate TA bands span four real patterns; each is a
    normal mode: E = ½ ω² Q² with Q = amplitude · mass-weighted norm (Å·√amu)."""
    from phonopy.physical_units import get_physical_units

    calculator = stable_toy()
    phonon = phonopy_from_calculator(cscl(), calculator, [3, 3, 3])
    q = [1 / 3, 0, 0]
    matrix = commensurate_supercell_matrix(q, cscl().lattice.matrix)
    assert matrix.tolist() == [[3, 0, 0], [0, 1, 0], [0, 0, 1]]
    frequencies = phonon.get_frequencies(q)
    assert frequencies[0] == pytest.approx(frequencies[1], abs=1e-6)  # TA, 2-fold
    supercell, patterns, norms = mode_displacement_patterns(phonon, q, [0, 1], matrix)
    assert patterns.shape == (4, 6, 3)
    assert np.abs(patterns[:, :, 0]).max() < 1e-6  # transverse to q
    omega = frequencies[0] / get_physical_units().DefaultToTHz  # √(eV/Å²/amu)
    amplitude = 0.01
    e0 = calculator.get_potential_energy(supercell.to_ase_atoms())
    for pattern, norm in zip(patterns, norms, strict=True):
        atoms = supercell.to_ase_atoms()
        atoms.positions += amplitude * pattern
        energy = calculator.get_potential_energy(atoms) - e0
        assert energy == pytest.approx(0.5 * omega**2 * (amplitude * norm) ** 2, rel=0.01)
