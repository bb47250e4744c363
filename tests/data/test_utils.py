"""Tests of the pure fine-tuning data functions (paper §4.2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlip_finetune.data.utils import (
    D_MIN_FRACTION,
    FrameSelectionError,
    RattleError,
    SupercellError,
    SupercellProtocol,
    is_validation_scale,
    jitter_lattice,
    mc_rattle,
    primitive_standard,
    progressive_training_subsets,
    relax_trajectory,
    scale_volume,
    select_energy_spaced_frames,
    shortest_distance,
    supercell_matrix_for_protocol,
)
from mlip_finetune.schemas.data import TrainingFrame

A_SI = 5.468
D_NN_SI = A_SI * np.sqrt(3) / 4


@pytest.fixture
def one_torch_thread():
    """MACE on a small, busy machine is ~10x faster on one thread than on two."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def si_cube64(si_primitive):
    matrix = supercell_matrix_for_protocol(si_primitive, SupercellProtocol.LARGE)
    return primitive_standard(si_primitive).make_supercell(matrix, in_place=False)


# --- supercells ---------------------------------------------------------------------------


def test_primitive_protocol_is_identity(si_primitive):
    matrix = supercell_matrix_for_protocol(si_primitive, SupercellProtocol.PRIMITIVE)
    assert matrix.dtype.kind == "i"
    np.testing.assert_array_equal(matrix, np.eye(3, dtype=int))


@pytest.mark.parametrize(
    ("protocol", "n_atoms", "edge"),
    [(SupercellProtocol.SMALL, 8, A_SI), ("large", 64, 2 * A_SI)],
)
def test_cubic_supercells_of_diamond_si(si_primitive, protocol, n_atoms, edge):
    matrix = supercell_matrix_for_protocol(si_primitive, protocol)
    assert matrix.shape == (3, 3)
    assert matrix.dtype.kind == "i"
    supercell = primitive_standard(si_primitive).make_supercell(matrix, in_place=False)
    assert len(supercell) == n_atoms
    assert round(abs(np.linalg.det(matrix))) == n_atoms // 2
    np.testing.assert_allclose(supercell.lattice.abc, [edge] * 3, atol=1e-6)
    np.testing.assert_allclose(supercell.lattice.angles, [90.0] * 3, atol=1e-6)


def test_supercell_matrix_refers_to_primitive_standard_cell(si_primitive):
    conventional = Structure.from_spacegroup("Fd-3m", Lattice.cubic(A_SI), ["Si"], [[0, 0, 0]])
    np.testing.assert_array_equal(
        supercell_matrix_for_protocol(conventional, "small"),
        supercell_matrix_for_protocol(si_primitive, "small"),
    )


def test_supercell_error_when_no_orthogonal_cell_fits():
    monoclinic = Structure(
        Lattice.from_parameters(3.1, 4.3, 5.2, 90, 103, 90),
        ["Zr", "O"],
        [[0, 0, 0], [0.3, 0.4, 0.2]],
    )
    with pytest.raises(SupercellError, match=r"between 5.0 and 10.0 Å \(protocol 'small'\)"):
        supercell_matrix_for_protocol(monoclinic, SupercellProtocol.SMALL)


def test_unknown_protocol_is_rejected(si_primitive):
    with pytest.raises(ValueError, match="huge"):
        supercell_matrix_for_protocol(si_primitive, "huge")


# --- distances and rattling ---------------------------------------------------------------


def test_shortest_distance_including_self_images(si_primitive):
    assert shortest_distance(si_primitive) == pytest.approx(D_NN_SI, rel=1e-9)
    copper = Structure(Lattice.from_parameters(2.55, 2.55, 2.55, 60, 60, 60), ["Cu"], [[0, 0, 0]])
    assert shortest_distance(copper) == pytest.approx(2.55, rel=1e-9)


def test_mc_rattle_amplitude_and_minimum_distance(si_cube64):
    rattled = mc_rattle(si_cube64, amplitude=0.1, seed=3)
    assert rattled.lattice == si_cube64.lattice
    assert [s.specie for s in rattled] == [s.specie for s in si_cube64]
    displacement = rattled.cart_coords - si_cube64.cart_coords
    displacement -= np.round(displacement @ np.linalg.inv(si_cube64.lattice.matrix)) @ (
        si_cube64.lattice.matrix
    )
    rms = np.sqrt(np.mean(np.sum(displacement**2, axis=1)))
    assert 0.05 < rms < 0.2
    assert shortest_distance(rattled) >= D_MIN_FRACTION * D_NN_SI
    assert shortest_distance(si_cube64) == pytest.approx(D_NN_SI)  # input untouched


def test_mc_rattle_respects_explicit_d_min(si_cube64):
    rattled = mc_rattle(si_cube64, amplitude=0.25, d_min=2.1, seed=5)
    assert shortest_distance(rattled) >= 2.1


def test_mc_rattle_is_seeded(si_cube64):
    first = mc_rattle(si_cube64, seed=11)
    np.testing.assert_array_equal(first.cart_coords, mc_rattle(si_cube64, seed=11).cart_coords)
    assert not np.allclose(first.cart_coords, mc_rattle(si_cube64, seed=12).cart_coords)


def test_mc_rattle_errors(si_primitive):
    with pytest.raises(ValueError, match="positive"):
        mc_rattle(si_primitive, amplitude=0.0)
    with pytest.raises(RattleError, match=r"d_min=3\.000"):
        mc_rattle(si_primitive, d_min=3.0, seed=1)


# --- lattice jitter and volume scaling ------------------------------------------------------


def test_jitter_lattice_bounds_over_many_seeds(si_primitive):
    reference = np.array([*si_primitive.lattice.abc, *si_primitive.lattice.angles])
    ratios = np.array(
        [
            np.array([*s.lattice.abc, *s.lattice.angles]) / reference
            for s in (jitter_lattice(si_primitive, 0.02, rng=seed) for seed in range(300))
        ]
    )
    assert ratios.min() >= 0.98 - 1e-12
    assert ratios.max() <= 1.02 + 1e-12
    # each parameter explores its whole range, independently of the others
    assert np.all(ratios.min(axis=0) < 0.982)
    assert np.all(ratios.max(axis=0) > 1.018)
    assert abs(np.corrcoef(ratios[:, 0], ratios[:, 1])[0, 1]) < 0.2


def test_jitter_lattice_keeps_fractional_coordinates(si_primitive):
    jittered = jitter_lattice(si_primitive, 0.02, rng=np.random.default_rng(7))
    np.testing.assert_allclose(jittered.frac_coords, si_primitive.frac_coords)
    assert jittered.lattice != si_primitive.lattice
    same = jitter_lattice(si_primitive, 0.0, rng=1)
    np.testing.assert_allclose(same.lattice.parameters, si_primitive.lattice.parameters)


def test_jitter_lattice_rejects_large_fraction(si_primitive):
    with pytest.raises(ValueError, match="max_fraction"):
        jitter_lattice(si_primitive, 0.5, rng=0)


@pytest.mark.parametrize("fraction", [-0.05, -0.025, 0.0, 0.025, 0.05])
def test_scale_volume(si_primitive, fraction):
    scaled = scale_volume(si_primitive, fraction)
    assert scaled.volume == pytest.approx(si_primitive.volume * (1 + fraction), rel=1e-12)
    np.testing.assert_allclose(scaled.lattice.angles, si_primitive.lattice.angles)
    np.testing.assert_allclose(scaled.frac_coords, si_primitive.frac_coords)
    lengths = np.array(scaled.lattice.abc) / np.array(si_primitive.lattice.abc)
    np.testing.assert_allclose(lengths, (1 + fraction) ** (1 / 3))


def test_scale_volume_rejects_collapse(si_primitive):
    with pytest.raises(ValueError, match="> -1"):
        scale_volume(si_primitive, -1.0)


# --- relaxation -----------------------------------------------------------------------------


def test_relax_trajectory_fixed_cell(si_primitive, random_mace_si, one_torch_thread):
    from mlip_finetune.calculators import mace_calculator

    calculator = mace_calculator(random_mace_si, device="cpu")
    start = scale_volume(mc_rattle(si_primitive, seed=2), 0.05)
    trajectory = relax_trajectory(start, calculator, fmax=1e-2, max_steps=200)
    assert trajectory.converged
    assert trajectory.final_fmax < 1e-2
    assert len(trajectory.energies) == len(trajectory.structures) == trajectory.n_steps + 1
    assert trajectory.n_steps > 3
    assert trajectory.energies[-1] < trajectory.energies[0]
    np.testing.assert_allclose(trajectory.structures[0].cart_coords, start.cart_coords)
    for structure in trajectory.structures:
        assert structure.lattice == start.lattice
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(trajectory.structures[3])
    atoms.calc = calculator
    assert atoms.get_potential_energy() == pytest.approx(trajectory.energies[3], abs=1e-10)


def test_relax_trajectory_step_limit(si_primitive, random_mace_si, one_torch_thread):
    from mlip_finetune.calculators import mace_calculator

    calculator = mace_calculator(random_mace_si, device="cpu")
    trajectory = relax_trajectory(mc_rattle(si_primitive, seed=2), calculator, 1e-4, 3)
    assert not trajectory.converged
    assert trajectory.n_steps == 3
    assert len(trajectory.energies) == 4
    assert trajectory.final_fmax > 1e-4


# --- frame selection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("energies", "n_frames", "fraction", "expected"),
    [
        # targets 0, -3, -6, -9
        (np.arange(0.0, -10.5, -1.0), 4, 0.9, [0, 3, 6, 9]),
        ([0.0, -0.5, -3.5, -2.0, -6.1, -5.0, -9.5, -10.0], 4, 0.9, [0, 2, 4, 6]),
        # one step below several targets: the next frames take the following steps
        ([0.0, -9.5, -9.8, -9.9, -10.0], 4, 0.9, [0, 1, 2, 3]),
        # FIRE overshoot upwards is skipped
        # targets 0, -4.5, -9
        ([0.0, 0.3, -1.0, -5.0, -4.0, -9.5, -10.0], 3, 0.9, [0, 3, 5]),
        ([0.0, -1.0, -2.0], 2, 1.0, [0, 2]),
        ([0.0, -1.0, -2.0, -3.0, -4.0], 3, 0.5, [0, 1, 2]),
    ],
)
def test_select_energy_spaced_frames(energies, n_frames, fraction, expected):
    assert select_energy_spaced_frames(energies, n_frames, fraction) == expected


@pytest.mark.parametrize(
    ("energies", "match"),
    [
        ([0.0, -9.5, -10.0], "3 steps cannot give 4"),
        ([0.0, 0.5, 0.2, 0.1, -10.0], "only 2 distinct steps"),
        ([0.0, 0.1, 0.2, 0.05], "did not decrease"),
        ([1.0, 1.0, 1.0, 1.0], "did not decrease"),
    ],
)
def test_select_energy_spaced_frames_short_trajectories(energies, match):
    with pytest.raises(FrameSelectionError, match=match):
        select_energy_spaced_frames(energies, 4, 0.9)


@pytest.mark.parametrize(("n_frames", "fraction"), [(1, 0.9), (4, 0.0), (4, 1.5)])
def test_select_energy_spaced_frames_bad_arguments(n_frames, fraction):
    with pytest.raises(ValueError, match=r"n_frames|fraction") as info:
        select_energy_spaced_frames(np.arange(0.0, -10.0, -1.0), n_frames, fraction)
    assert not isinstance(info.value, FrameSelectionError)


# --- split and progressive subsets ----------------------------------------------------------


def test_is_validation_scale():
    assert is_validation_scale(0.0)
    assert is_validation_scale(1e-12)
    assert not is_validation_scale(0.025)
    assert is_validation_scale(-0.05, validation_volume_scale=-0.05)


def test_progressive_training_subsets(si_primitive):
    frames = [
        TrainingFrame(
            structure=si_primitive,
            trajectory_index=trajectory,
            volume_scale=scale,
            frame_index=frame,
            relaxation_step=10 * frame,
            foundation_energy=-frame,
            split="validation" if scale == 0.0 else "train",
        )
        for (trajectory, scale), frame in itertools.product(enumerate([-0.05, 0.0, 0.05]), range(3))
    ]
    subsets = progressive_training_subsets(frames)
    assert [len(subset) for subset in subsets] == [2, 4, 6]
    assert {(f.trajectory_index, f.frame_index) for f in subsets[0]} == {(0, 0), (2, 0)}
    assert all(f.split == "train" for subset in subsets for f in subset)
    assert subsets[-1] == [f for f in frames if f.split == "train"]
    assert progressive_training_subsets([f for f in frames if f.split == "validation"]) == []
