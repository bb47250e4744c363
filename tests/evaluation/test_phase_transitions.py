"""Phase-transition search on a toy crystal with known instabilities (paper §3.5, §4.6).

The toy is a CsCl-type crystal, A (Pb) at the corners and B (Ti) in the body centre, with
an ASE calculator written below:

- on-site double well of each B relative to the centroid of its 8 A neighbours,
  ``Σ_α a_α d_α² + b d_α⁴`` with ``d = r_B − mean(r_A)``; ``a_α < 0`` is a double well;
- vector springs ``(k/2)|D − D0|²`` between nearest A–A and B–B neighbours (``D0`` the ideal
  bond vector), which fix the lattice at ``(a0, a0, c0)`` and set the dispersion; a negative
  B–B constant couples neighbouring B antiferro-distortively.

Because everything is separable by Cartesian component, the distorted minima are analytic:

- tetragonal, ``a_z < 0``, B–B ferro springs: a 1-D unstable Γ mode (B against A along z);
  the minimum has ``d_z² = −a_z/(2b)``, energy ``−a_z²/(4b)`` per B, space group P4mm;
- cubic, ``a > 0``, B–B springs ``κ < 0`` with ``a + 6κ < 0 < a + 4κ``: only the B modes at
  R = (½, ½, ½) are unstable (3-fold); the A atoms decouple there, each B moves by ``±δ``
  against its six B neighbours, energy per B and axis ``(a + 6κ)δ² + bδ⁴``, minimum along
  [111] in the two-cell supercell of R.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from mlip_finetune.evaluation.phase_transitions import (
    commensurate_supercell_matrix,
    compare_phase_sets,
    degenerate_groups,
    find_unstable_modes,
    grid_local_minima,
    mode_displacement_patterns,
    phonopy_from_calculator,
    rational_qpoint,
    scan_mode_subspace,
    search_phase_transitions,
)
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)

A0 = 4.0
A_SYMBOL, B_SYMBOL = "Pb", "Ti"


def _neighbours(atoms, cutoff):
    """All (i, j, D = r_j − r_i + image) with |D| < cutoff, by brute force over images.

    ASE's ``neighbor_list`` gives the same pairs, ~20x slower on these few-atom cells.
    """
    cell = atoms.cell[:]
    reps = np.ceil(cutoff * np.linalg.norm(np.linalg.inv(cell), axis=0)).astype(int)
    images = np.array(list(np.ndindex(*(2 * reps + 1)))) - reps
    shifts = images @ cell
    pos = atoms.positions
    vectors = pos[None, :, None] - pos[:, None, None] + shifts[None, None]  # (i, j, image)
    distance = np.linalg.norm(vectors, axis=-1)
    i, j, k = np.nonzero((distance < cutoff) & (distance > 1e-8))
    return i, j, vectors[i, j, k]


class ToyDoubleWell(Calculator):
    """Energy, forces and stress of the toy CsCl crystal described in the module docstring."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(
        self,
        quadratic: tuple[float, float, float],
        quartic: float,
        *,
        k_aa: float,
        k_bb: float,
        a0: float = A0,
        c0: float = A0,
    ) -> None:
        super().__init__()
        self.quadratic = np.asarray(quadratic, dtype=float)
        self.quartic = quartic
        self.springs = {A_SYMBOL: k_aa, B_SYMBOL: k_bb}
        self.cell0 = np.array([a0, a0, c0])

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        symbols = np.array(atoms.get_chemical_symbols())
        n = len(atoms)
        cutoff = 1.2 * self.cell0.max()
        first, second, vectors = _neighbours(atoms, cutoff)  # D = r_j − r_i
        energy = 0.0
        forces = np.zeros((n, 3))
        virial = np.zeros((3, 3))

        # Same-species vector springs; every bond appears twice in the list.
        for symbol, k in self.springs.items():
            mask = (symbols[first] == symbol) & (symbols[second] == symbol)
            vec = vectors[mask]
            ideal = np.rint(vec / self.cell0) * self.cell0
            nearest = np.count_nonzero(np.rint(vec / self.cell0), axis=1) == 1
            strain = (vec - ideal)[nearest]
            energy += 0.25 * k * np.sum(strain**2)
            grad = 0.5 * k * strain  # dE/dD per ordered pair
            np.add.at(forces, first[mask][nearest], grad)
            np.add.at(forces, second[mask][nearest], -grad)
            virial += vec[nearest].T @ grad

        # On-site double well of B relative to the centroid of its 8 A neighbours.
        mask = (symbols[first] == B_SYMBOL) & (symbols[second] == A_SYMBOL)
        centres, cages, vec = first[mask], second[mask], vectors[mask]
        order = np.argsort(centres, kind="stable")
        centres, cages, vec = centres[order], cages[order], vec[order]
        b_atoms = np.flatnonzero(symbols == B_SYMBOL)
        counts = np.bincount(centres, minlength=n)[b_atoms]
        assert np.all(counts == 8), counts
        d = -vec.reshape(len(b_atoms), 8, 3).mean(axis=1)  # r_B − centroid(A)
        energy += np.sum(self.quadratic * d**2 + self.quartic * d**4)
        g = 2 * self.quadratic * d + 4 * self.quartic * d**3  # dE/dd
        forces[b_atoms] -= g
        np.add.at(forces, cages, np.repeat(g, 8, axis=0) / 8)
        virial += vec.T @ (-np.repeat(g, 8, axis=0) / 8)

        stress = 0.5 * (virial + virial.T) / atoms.get_volume()
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces,
            "stress": stress.flat[[0, 4, 8, 5, 2, 1]],
        }


def cscl(a0: float = A0, c0: float = A0) -> Structure:
    return Structure(Lattice.tetragonal(a0, c0), [A_SYMBOL, B_SYMBOL], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _mass_ratio() -> float:
    structure = cscl()
    return structure[1].specie.atomic_mass / structure[0].specie.atomic_mass


# --- toy models ---------------------------------------------------------------------------
C0 = 4.2
GAMMA_A, GAMMA_B = -1.0, 5.0  # Γ toy: a_z (eV/Å²), b (eV/Å⁴); d* = 0.316 Å
R_A, R_KAPPA, R_B = 1.0, -0.2, 1.0  # R toy: a + 6κ = -0.2, a + 4κ = +0.2 eV/Å²; δ = 0.316 Å


def gamma_toy() -> ToyDoubleWell:
    return ToyDoubleWell((1.0, 1.0, GAMMA_A), GAMMA_B, k_aa=2.0, k_bb=2.0, c0=C0)


def r_toy() -> ToyDoubleWell:
    return ToyDoubleWell((R_A,) * 3, R_B, k_aa=2.0, k_bb=R_KAPPA)


def stable_toy() -> ToyDoubleWell:
    return ToyDoubleWell((1.0,) * 3, 1.0, k_aa=2.0, k_bb=2.0)


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


# --- pure helpers -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("qpoint", "size"),
    [
        ([0, 0, 0], 1),
        ([0.5, 0, 0], 2),
        ([0.5, 0.5, 0], 2),
        ([0.5, 0.5, 0.5], 2),
        ([1 / 3, 1 / 3, 0], 3),
        ([0.15, 0, 0], 20),
        ([0.25, 0.25, 0.5], 4),
        ([-0.5, 0.5, 0.0], 2),
    ],
)
def test_commensurate_supercell_is_smallest(qpoint, size):
    lattice = Lattice.hexagonal(3.0, 5.0).matrix if size == 3 else np.eye(3) * 4.0
    matrix = commensurate_supercell_matrix(qpoint, lattice)
    assert round(np.linalg.det(matrix)) == size
    product = np.asarray(qpoint) @ matrix
    assert np.allclose(product, np.rint(product), atol=1e-9)


def test_commensurate_supercell_prefers_diagonal_and_rejects_large():
    assert commensurate_supercell_matrix([0.5, 0, 0], np.eye(3)).tolist() == [
        [2, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
    ]
    assert rational_qpoint([0.02, 0.02, 0], 10) is None
    with pytest.raises(ValueError, match="not commensurate"):
        commensurate_supercell_matrix([0.02, 0.02, 0], np.eye(3), max_denominator=49)
    assert round(np.linalg.det(commensurate_supercell_matrix([0.02, 0.02, 0], np.eye(3)))) == 50


def test_degenerate_groups_and_grid_minima():
    assert degenerate_groups([-1.0005, -1.0, 0.0, 0.0, 0.0, 2.0], 1e-3) == [
        [0, 1],
        [2, 3, 4],
        [5],
    ]
    with pytest.raises(ValueError, match="ascending"):
        degenerate_groups([1.0, 0.0], 1e-3)
    x = np.linspace(-1, 1, 21)
    well = -(x**2) + x**4  # minima at ±1/√2
    minima = grid_local_minima(well)
    assert sorted(x[list(m)][0] for m in minima) == pytest.approx([-0.7, 0.7])
    assert grid_local_minima(x**2) == []  # single (harmonic) minimum: origin excluded
    xx, yy = np.meshgrid(x, x, indexing="ij")
    assert len(grid_local_minima(xx**4 - xx**2 + yy**4 - yy**2)) == 4
    assert grid_local_minima(-(x**2)) == [(0,), (20,)]  # edges still fall outwards


# --- physics on the toys ------------------------------------------------------------------
@pytest.fixture(scope="module")
def gamma_doc():
    calculator = gamma_toy()
    phonon = phonopy_from_calculator(cscl(c0=C0), calculator, [2, 2, 2])
    settings = PhaseTransitionSettings(max_amplitude=0.5)
    return search_phase_transitions(phonon, calculator, "toy-gamma", settings=settings)


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
    c_star = d_star / (1 + _mass_ratio())
    step = scan.amplitudes[1] - scan.amplitudes[0]
    assert sorted(abs(m[0]) for m in scan.minima) == pytest.approx([c_star] * 2, abs=step)
    q_values, u_values = scan.double_well()
    assert q_values[-1] == pytest.approx(0.5 * scan.mass_weighted_norms[0])
    d = np.asarray(scan.amplitudes) * (1 + _mass_ratio())
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


@pytest.fixture(scope="module")
def r_doc():
    calculator = r_toy()
    phonon = phonopy_from_calculator(cscl(), calculator, [2, 2, 2])
    settings = PhaseTransitionSettings(max_amplitude=0.5)
    start = time.perf_counter()
    doc = search_phase_transitions(phonon, calculator, "toy-r", settings=settings)
    doc.wall_time_s = time.perf_counter() - start
    return doc, phonon


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
    for axis, pattern in enumerate(patterns):
        b = pattern[~is_a]
        assert np.allclose(np.abs(b[:, axis]), 1.0, atol=1e-6)  # along one axis only
        assert b[0, axis] == pytest.approx(-b[1, axis])  # antiferro
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


def test_stable_toy_has_no_modes_and_no_phases():
    calculator = stable_toy()
    phonon = phonopy_from_calculator(cscl(), calculator, [2, 2, 2])
    assert find_unstable_modes(phonon) == []
    doc = search_phase_transitions(phonon, calculator, "toy-stable")
    assert doc.unstable_modes == doc.scans == doc.pathways == doc.new_phases == []
    assert doc.phase_keys == []


def test_energy_function_batches_and_validates():
    structure = cscl()
    calls = []

    def energies(structures):
        calls.append(len(structures))
        return [0.0] * len(structures)

    patterns = np.zeros((2, 2, 3))
    patterns[0, 1, 2] = patterns[1, 1, 0] = 1.0
    amplitudes, grid = scan_mode_subspace(
        structure, patterns, energies, n_points=5, max_amplitude=0.2, batch_size=10
    )
    assert amplitudes.tolist() == pytest.approx([-0.2, -0.1, 0.0, 0.1, 0.2])
    assert grid.shape == (5, 5)
    assert calls == [10, 10, 5]
    with pytest.raises(ValueError, match="odd"):
        scan_mode_subspace(structure, patterns, energies, n_points=4, max_amplitude=0.2)
    with pytest.raises(ValueError, match="returned 0 energies"):
        scan_mode_subspace(structure, patterns, lambda _: [], n_points=3, max_amplitude=0.2)
    with pytest.raises(ValueError, match="odd number"):
        PhaseTransitionSettings(grid_points={1: 20})


# --- comparison (Table 4) -----------------------------------------------------------------
def _doc(keys, initial=(221, 2)):
    return PhaseTransitionDocument(
        label="hand-made",
        structure=cscl(),
        initial_space_group_symbol="Pm-3m",
        initial_space_group_number=initial[0],
        initial_n_primitive_atoms=initial[1],
        settings=PhaseTransitionSettings(),
        unstable_modes=[],
        scans=[],
        pathways=[],
        new_phases=[],
        phase_keys=keys,
        wall_time_s=0.0,
    )


def test_compare_phase_sets():
    reference = _doc([(99, 2), (160, 2), (225, 4)])
    model = _doc([(99, 2), (160, 2), (38, 8), (62, 8)])
    precision, recall, f1 = compare_phase_sets(reference, model)
    assert precision == pytest.approx(2 / 4)
    assert recall == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # Same space group, different primitive size: a different phase (SI 7.6).
    assert compare_phase_sets(_doc([(62, 8)]), _doc([(62, 4)])) == (0.0, 0.0, 0.0)
    assert compare_phase_sets(reference.model_dump(), reference.model_dump()) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="different phases"):
        compare_phase_sets(reference, _doc([], initial=(225, 2)))
