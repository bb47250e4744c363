"""DFT settings and k-point meshes (no DFT)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from pydantic import ValidationError
from pymatgen.core import Lattice

from mlip_finetune.dft.settings import DFTSettings, kpoint_mesh


@pytest.mark.parametrize(
    ("cell", "kspacing", "expected"),
    [
        (np.eye(3) * 5.468, 0.3, [4, 4, 4]),  # conventional Si, local preset spacing
        (np.eye(3) * 5.468, 0.1, [12, 12, 12]),  # paper spacing
        (np.eye(3) * 5.468, 10.0, [1, 1, 1]),  # never fewer than one point
        (np.diag([3.0, 4.0, 10.0]), 0.5, [5, 4, 2]),  # ceil(2π/(a·0.5)) per axis
        (np.eye(3) * math.pi, 0.5, [4, 4, 4]),  # 2π/(π·0.5) = 4 exactly: no extra point
    ],
)
def test_kpoint_mesh_values(cell, kspacing, expected):
    assert kpoint_mesh(cell, kspacing) == expected


def test_kpoint_mesh_accepts_lattice_structure_atoms_and_cell(si_primitive):
    # fcc reciprocal vectors have length sqrt(3)/a: 2π·sqrt(3)/5.468/0.3 = 6.63 -> 7.
    expected = [7, 7, 7]
    assert kpoint_mesh(si_primitive, 0.3) == expected
    assert kpoint_mesh(si_primitive.lattice, 0.3) == expected
    atoms = bulk("Si", "diamond", a=5.468)
    assert kpoint_mesh(atoms, 0.3) == expected
    assert kpoint_mesh(atoms.cell, 0.3) == expected
    assert kpoint_mesh(Lattice.cubic(5.468), 0.3) == [4, 4, 4]


@pytest.mark.parametrize(("cell", "kspacing"), [(np.eye(3), 0.0), (np.zeros((3, 3)), 0.3)])
def test_kpoint_mesh_rejects_bad_input(cell, kspacing):
    with pytest.raises(ValueError, match=r"kspacing|cell"):
        kpoint_mesh(cell, kspacing)


def test_presets():
    local, paper, test = DFTSettings.local(), DFTSettings.paper(), DFTSettings.test()
    assert local == DFTSettings()
    assert (paper.ecut, paper.kspacing, paper.xc) == (520.0, 0.1, "PBE")
    assert paper.scf_energy_tol < local.scf_energy_tol
    assert test.ecut < local.ecut < paper.ecut
    assert test.kspacing > local.kspacing > paper.kspacing
    assert {s.mpi_ranks for s in (local, paper, test)} == {2}
    assert kpoint_mesh(Lattice.cubic(5.468), local.kspacing) == [4, 4, 4]


def test_settings_reject_typos_and_bad_values():
    with pytest.raises(ValidationError):
        DFTSettings(encut=400)  # VASP's name, not ours
    with pytest.raises(ValidationError):
        DFTSettings(ecut=-1)
    with pytest.raises(ValidationError):
        DFTSettings(engine="vasp")


def test_every_field_is_documented():
    for name, info in DFTSettings.model_fields.items():
        assert info.description, name


def test_fixed_kpoints_override_the_spacing_rule():
    settings = DFTSettings.test()
    assert settings.kpoints is None
    assert settings.mesh(Lattice.cubic(5.468)) == kpoint_mesh(Lattice.cubic(5.468), 0.5)
    fixed = settings.with_mesh_of(Lattice.cubic(5.468))
    assert fixed.kpoints == (3, 3, 3)
    assert fixed.mesh(Lattice.cubic(4.0)) == [3, 3, 3] != kpoint_mesh(Lattice.cubic(4.0), 0.5)
    with pytest.raises(ValidationError):
        DFTSettings(kpoints=(0, 2, 2))
