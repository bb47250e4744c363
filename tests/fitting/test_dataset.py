"""Training files: extended XYZ with REF_energy/REF_forces/REF_stress."""

import numpy as np
import pytest
from ase.io import read
from pymatgen.core import Lattice, Structure

from mlip_finetune.fitting.dataset import write_extxyz
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import GPA_TO_EV_PER_A3


def test_write_extxyz_roundtrip(tmp_path):
    structure = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    stress = [[1.0, 0.1, 0.0], [0.1, 2.0, 0.0], [0.0, 0.0, 3.0]]
    static = StaticDocument(
        label="x",
        structure=structure,
        energy=-10.5,
        forces=[[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]],
        stress=stress,
        engine="gpaw",
        settings={},
        kpoints=[1, 1, 1],
        wall_time_s=1.0,
        converged=True,
    )
    path = write_extxyz([static, static], tmp_path / "d.xyz")
    frames = read(path, index=":")
    assert len(frames) == 2
    assert frames[0].info["REF_energy"] == pytest.approx(-10.5)
    np.testing.assert_allclose(frames[0].arrays["REF_forces"], static.forces)
    np.testing.assert_allclose(
        np.reshape(frames[0].info["REF_stress"], (3, 3)), np.array(stress) * GPA_TO_EV_PER_A3
    )
    with pytest.raises(ValueError, match="No labelled"):
        write_extxyz([], tmp_path / "e.xyz")
