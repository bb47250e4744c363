"""Phonons with phonopy + symfc from an ASE calculator (EMT fcc Cu): asserted physics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from mlip_finetune.core.relax import relax_structure
from mlip_finetune.evaluation.metrics import phonon_frequency_mae, phonon_property_errors
from mlip_finetune.evaluation.phonons import (
    displaced_supercells,
    model_forces,
    n_displacements,
    phonon_document_from_calculator,
    phonon_document_from_forces,
    phonon_supercell_matrix,
    resolve_mesh,
)

MESH = [20, 20, 20]
#: EMT Cu relaxed (a = 3.590 Å), 108-atom cubic supercell, symfc: largest frequency at X
#: (LA), checked numerically once: 8.14 THz (EMT is stiffer than experiment, ~7.3 THz).
EMT_CU_MAX_THZ = 8.14


def _fcc(symbol: str, a: float) -> Structure:
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [symbol], [[0, 0, 0]])
    return conv.get_primitive_structure()


@pytest.fixture(scope="module")
def cu_relaxed():
    structure, converged = relax_structure(_fcc("Cu", 3.61), EMT(), fmax=1e-4)
    assert converged
    return structure


@pytest.fixture(scope="module")
def cu_matrix(cu_relaxed):
    return phonon_supercell_matrix(cu_relaxed, min_length=8.0)


@pytest.fixture(scope="module")
def cu_doc(cu_relaxed, cu_matrix):
    return phonon_document_from_calculator(cu_relaxed, EMT(), "emt", cu_matrix, mesh=MESH)


def test_supercell_matrix_is_atomate2_cubic_choice(cu_relaxed, si_primitive):
    matrix = np.array(phonon_supercell_matrix(cu_relaxed, min_length=8.0))
    assert round(np.linalg.det(matrix)) == 108  # 3x3x3 conventional cells
    si = np.array(phonon_supercell_matrix(si_primitive, min_length=10.0))
    supercell_lattice = si @ si_primitive.lattice.matrix
    lengths = np.linalg.norm(supercell_lattice, axis=1)
    assert np.allclose(lengths, 2 * 5.468, atol=1e-6)  # 2x2x2 conventional cube
    assert abs(supercell_lattice @ supercell_lattice.T - np.diag(lengths**2)).max() < 1e-6
    with pytest.raises(ValueError, match="positive"):
        phonon_supercell_matrix(si_primitive, min_length=0.0)


def test_n_displacements_of_si_at_atomate2s_cube(si_primitive):
    from atomate2.common.utils import get_supercell_matrix

    matrix = np.rint(
        get_supercell_matrix(si_primitive, min_length=10.0, max_length=None, prefer_90_degrees=True)
    ).astype(int)
    np.testing.assert_array_equal(matrix, phonon_supercell_matrix(si_primitive, 10.0))
    # diamond: both atoms equivalent, one displacement spans the whole force-constant set
    assert n_displacements(si_primitive, matrix) == 1
    assert n_displacements(si_primitive, matrix) == len(
        displaced_supercells(si_primitive, matrix)[1]
    )


def test_n_displacements_of_hcp_mg_drop_with_the_symmetric_cell():
    from atomate2.common.utils import get_supercell_matrix

    conv = Structure.from_spacegroup(
        "P6_3/mmc", Lattice.hexagonal(3.209, 5.211), ["Mg"], [[1 / 3, 2 / 3, 1 / 4]]
    )
    mg = conv.get_primitive_structure()
    old = np.rint(
        get_supercell_matrix(mg, min_length=7.0, max_length=None, prefer_90_degrees=True)
    ).astype(int)
    new = phonon_supercell_matrix(mg, 7.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n_new = n_displacements(mg, new)
    # phonopy keeps 6/mmm: no "Point group symmetries of supercell ... are different"
    assert not [w for w in caught if "Point group" in str(w.message)]
    with pytest.warns(UserWarning, match="Point group symmetries of supercell"):
        n_old = n_displacements(mg, old)
    assert n_new == 1
    assert n_old == 2
    assert n_new <= n_old


def test_displacements_are_reproducible(si_primitive):
    matrix = [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    _, first = displaced_supercells(si_primitive, matrix, 0.01)
    _, second = displaced_supercells(si_primitive, matrix, 0.01)
    assert len(first) == len(second) >= 1
    for a, b in zip(first, second, strict=True):
        assert a == b
        assert np.allclose(a.cart_coords, b.cart_coords, atol=1e-12)


def test_document_is_complete_and_physical(cu_doc, cu_relaxed):
    assert cu_doc.n_displacements == 1  # fcc: one symmetry-inequivalent displacement
    assert cu_doc.displacement == pytest.approx(0.01)
    assert cu_doc.mesh == MESH
    assert sum(cu_doc.mesh_weights) == 20**3
    # the full grid, so models relaxed to slightly different cells share every q-point
    assert len(cu_doc.mesh_qpoints) == 20**3
    assert set(cu_doc.mesh_weights) == {1}
    assert len(cu_doc.mesh_qpoints) == len(cu_doc.mesh_frequencies) == len(cu_doc.mesh_weights)
    assert all(len(f) == 3 for f in cu_doc.mesh_frequencies)
    assert all(np.all(np.diff(f) >= 0) for f in cu_doc.mesh_frequencies)
    assert cu_doc.band_labels == ["Γ", "X", "U|K", "Γ", "L", "W", "X"]
    assert len(cu_doc.band_distances) == len(cu_doc.band_frequencies) == 6
    assert len(cu_doc.dos) == len(cu_doc.dos_frequencies)
    # DOS integrates to 3N = 3 modes per primitive cell.
    step = cu_doc.dos_frequencies[1] - cu_doc.dos_frequencies[0]
    assert np.sum(cu_doc.dos) * step == pytest.approx(3.0, rel=0.01)
    # Acoustic sum rule: three zero modes at Γ.
    assert cu_doc.acoustic_sum_rule_max < 0.05
    assert np.abs(cu_doc.mesh_frequencies[0]).max() < 0.05
    # Stable fcc crystal.
    assert not cu_doc.has_imaginary_modes
    assert cu_doc.min_frequency > -1e-4
    assert cu_doc.max_frequency == pytest.approx(EMT_CU_MAX_THZ, abs=0.05)
    # Near-classical heat capacity at 300 K (3R = 24.94 J/K/mol).
    assert cu_doc.thermal_300k.temperature == 300.0
    assert 22.5 < cu_doc.thermal_300k.heat_capacity < 24.94
    assert cu_doc.thermal_300k.entropy > 0
    assert np.allclose(cu_doc.structure.lattice.matrix, cu_relaxed.lattice.matrix)
    assert cu_doc.structure.species == cu_relaxed.species


def test_mae_between_slightly_different_relaxations(cu_relaxed, cu_matrix, cu_doc):
    # a 1e-4 relative strain (two relaxations of one crystal) must not break the comparison
    strained = cu_relaxed.copy()
    strained.apply_strain(1e-4)
    other = phonon_document_from_calculator(strained, EMT(), "strained", cu_matrix, mesh=[20] * 3)
    assert 0 < phonon_frequency_mae(other, cu_doc) < 0.01


def test_self_mae_is_zero(cu_doc):
    assert phonon_frequency_mae(cu_doc, cu_doc) == 0.0
    errors = phonon_property_errors(cu_doc, cu_doc)
    assert all(value == 0.0 for value in errors.model_dump().values())


def test_scaled_forces_scale_frequencies_by_sqrt(cu_relaxed, cu_matrix, cu_doc):
    scale = 1.21
    phonon, supercells = displaced_supercells(cu_relaxed, cu_matrix)
    forces = [scale * f for f in model_forces(supercells, EMT())]
    scaled = phonon_document_from_forces(phonon, forces, "scaled", mesh=MESH)
    expected = (np.sqrt(scale) - 1.0) * np.average(
        np.abs(cu_doc.mesh_frequencies).mean(axis=1), weights=cu_doc.mesh_weights
    )
    assert phonon_frequency_mae(scaled, cu_doc) == pytest.approx(expected, rel=1e-6)
    assert scaled.max_frequency == pytest.approx(np.sqrt(scale) * cu_doc.max_frequency)
    errors = phonon_property_errors(scaled, cu_doc)
    # every frequency ×1.1: ω_max and ω_mean exactly +10 %
    assert errors.max_frequency == pytest.approx(10.0, rel=1e-6)
    assert errors.mean_frequency == pytest.approx(10.0, rel=1e-6)
    # g(ω) → g(ω/1.1)/1.1 moves weight to higher ω: a clearly non-zero ΔDOS
    assert 5.0 < errors.delta_dos < 200.0
    # stiffer crystal: less heat capacity and vibrational entropy at 300 K
    assert errors.heat_capacity_300k < 0
    assert errors.entropy_300k < 0
    # S_vib of a harmonic crystal shifts by -3R·ln(1.1) per mole of atoms at high T (±10 %)
    shift = scaled.thermal_300k.entropy - cu_doc.thermal_300k.entropy
    assert shift == pytest.approx(-3 * 8.314462618 * np.log(1.1), rel=0.1)


def test_symfc_agrees_with_traditional(cu_relaxed, cu_matrix, cu_doc):
    traditional = phonon_document_from_calculator(
        cu_relaxed, EMT(), "emt", cu_matrix, mesh=MESH, fc_calculator="traditional"
    )
    diff = np.abs(np.array(traditional.mesh_frequencies) - np.array(cu_doc.mesh_frequencies))
    assert diff.max() < 0.05
    assert traditional.fc_calculator == "traditional"


def test_band_path_independent_of_cell_setting(cu_relaxed, cu_doc):
    """Seekpath's q-points are mapped into the input basis, so another setting agrees.

    With the basis (a1, a2, a1 + a2 + a3), phonopy's own ``auto_band_structure`` (which takes
    seekpath's reduced coordinates as if they were the input cell's) puts X at L.
    """
    lattice = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]]) @ cu_relaxed.lattice.matrix
    odd = Structure(Lattice(lattice), cu_relaxed.species, cu_relaxed.frac_coords)
    other = phonon_document_from_calculator(
        odd, EMT(), "emt", phonon_supercell_matrix(odd, 8.0), mesh=MESH
    )
    assert other.band_labels == cu_doc.band_labels
    for ours, theirs in zip(cu_doc.band_frequencies, other.band_frequencies, strict=True):
        assert np.allclose(ours[0], theirs[0], atol=1e-3)
        assert np.allclose(ours[-1], theirs[-1], atol=1e-3)
    # X point of fcc: two degenerate TA modes below the LA mode.
    x_freqs = cu_doc.band_frequencies[0][-1]
    assert x_freqs[0] == pytest.approx(x_freqs[1], abs=1e-6)
    assert x_freqs[2] == pytest.approx(cu_doc.max_frequency, abs=1e-6)


def test_wrong_force_shape_raises(cu_relaxed, cu_matrix):
    phonon, _ = displaced_supercells(cu_relaxed, cu_matrix)
    with pytest.raises(ValueError, match="forces must have shape"):
        phonon_document_from_forces(phonon, [np.zeros((4, 3))], "bad", mesh=MESH)


def test_resolve_mesh(si_primitive):
    assert resolve_mesh(si_primitive, [4, 5, 6]) == [4, 5, 6]
    length_mesh = resolve_mesh(si_primitive, 100.0)
    assert len(set(length_mesh)) == 1  # cubic symmetry keeps the divisions equal
    assert 25 < length_mesh[0] < 40
    with pytest.raises(ValueError, match="three positive"):
        resolve_mesh(si_primitive, [4, 0, 4])
