"""Labelling structures with any ASE calculator (teacher, foundation, CHGNet)."""

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from mlip_finetune.core.labelling import label_structures, label_with_model
from mlip_finetune.units import EV_PER_A3_TO_GPA


def _cells():
    cells = []
    for a in (3.55, 3.62):
        cell = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Cu"], [[0, 0, 0]])
        cell.perturb(0.05, min_distance=0.01)
        cells.append(cell)
    return cells


def test_labels_are_the_calculators_in_ev_and_gpa():
    cells = _cells()
    docs = label_structures(cells, EMT(), label="emt", engine="emt")
    assert [d.label for d in docs] == ["emt 0", "emt 1"]
    for cell, doc in zip(cells, docs, strict=True):
        atoms = cell.to_ase_atoms()
        atoms.calc = EMT()
        assert doc.energy == pytest.approx(atoms.get_potential_energy())
        np.testing.assert_allclose(doc.forces, atoms.get_forces())
        np.testing.assert_allclose(doc.stress, atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA)
        assert doc.structure == cell
        assert doc.engine == "emt"
        assert doc.kpoints == []  # a model has no k-point mesh
        assert doc.converged
        assert doc.wall_time_s >= 0.0
    mesh = label_structures(cells[:1], EMT(), label="x", engine="e", kpoints=[1, 1, 1])
    assert mesh[0].kpoints == [1, 1, 1]


def test_label_with_a_mace_file(random_mace_si, si_primitive):
    from mlip_finetune.core.calculators import mace_calculator

    (doc,) = label_with_model([si_primitive], str(random_mace_si), label="replay")
    assert doc.label == "replay 0"
    assert doc.engine == f"mace:{random_mace_si.name}"
    atoms = si_primitive.to_ase_atoms()
    atoms.calc = mace_calculator(random_mace_si, device="cpu")
    assert doc.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
