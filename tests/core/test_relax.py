"""relax_structure: cell and positions with any ASE calculator, symmetry kept."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from mlip_finetune.core.relax import relax_structure


def _fcc(symbol: str, a: float) -> Structure:
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [symbol], [[0, 0, 0]])
    return conv.get_primitive_structure()


def test_relaxation_keeps_fcc_and_finds_emt_lattice_constant():
    cu_relaxed, converged = relax_structure(_fcc("Cu", 3.61), EMT(), fmax=1e-4)
    assert converged
    a_conv = cu_relaxed.lattice.a * np.sqrt(2)
    assert a_conv == pytest.approx(3.590, abs=0.005)
    assert SpacegroupAnalyzer(cu_relaxed).get_space_group_number() == 225


def test_fire_reaches_the_same_lattice_and_step_cap_reports_not_converged():
    fire, converged = relax_structure(_fcc("Cu", 3.61), EMT(), fmax=1e-2, optimizer="FIRE")
    assert converged
    assert fire.lattice.a * np.sqrt(2) == pytest.approx(3.590, abs=0.01)
    start = _fcc("Cu", 3.75)
    capped, converged = relax_structure(start, EMT(), fmax=1e-6, max_steps=1)
    assert not converged
    assert capped.volume != pytest.approx(start.volume, rel=1e-6)  # it did take a step
