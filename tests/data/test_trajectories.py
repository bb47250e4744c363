"""Tests of :mod:`mlip_finetune.data.trajectories` with a small random MACE (paper §4.2)."""

from __future__ import annotations

import numpy as np
import pytest

from mlip_finetune.data.perturbations import mc_rattle, scale_volume
from mlip_finetune.data.trajectories import relax_trajectory


def test_relax_trajectory_fixed_cell(si_primitive, random_mace_si, one_torch_thread):
    from mlip_finetune.core.calculators import mace_calculator

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
    from mlip_finetune.core.calculators import mace_calculator

    calculator = mace_calculator(random_mace_si, device="cpu")
    trajectory = relax_trajectory(mc_rattle(si_primitive, seed=2), calculator, 1e-4, 3)
    assert not trajectory.converged
    assert trajectory.n_steps == 3
    assert len(trajectory.energies) == 4
    assert trajectory.final_fmax > 1e-4
