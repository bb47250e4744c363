"""Settings, k-point meshes, GPAW parameter translation and the engine registry (no DFT)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from ase.build import bulk
from pydantic import ValidationError
from pymatgen.core import Lattice

from mlip_finetune.dft.engines import ENGINES, DFTEngine, UnknownEngineError, get_engine
from mlip_finetune.dft.gpaw_engine import GPAWEngine, gpaw_parameters, worker_command
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


def test_gpaw_parameters_translation_and_overrides():
    settings = DFTSettings.test().model_copy(
        update={
            "scf_forces_tol": 1e-3,
            "engine_kwargs": {"convergence": {"density": 1e-6}, "nbands": 12},
        }
    )
    params = gpaw_parameters(settings, [2, 3, 4])
    assert params["mode"] == {"name": "pw", "ecut": 250.0}
    assert params["kpts"] == {"size": [2, 3, 4], "gamma": True}
    assert params["occupations"] == {"name": "fermi-dirac", "width": 0.05}
    assert params["convergence"] == {"energy": 1e-7, "forces": 1e-3, "density": 1e-6}
    assert params["nbands"] == 12
    assert params["xc"] == "PBE"
    monkhorst_pack = gpaw_parameters(settings.model_copy(update={"gamma_centred": False}), [2] * 3)
    assert monkhorst_pack["kpts"] == {"size": [2, 2, 2]}


def test_worker_command():
    serial = worker_command(1)
    assert serial[0] == sys.executable
    assert serial[1:3] == ["-m", "mlip_finetune.dft._gpaw_worker"]
    parallel = worker_command(2)
    assert parallel[1:3] == ["-np", "2"]
    assert parallel[3:] == serial


def test_registry():
    assert "gpaw" in ENGINES
    engine = get_engine("gpaw")
    assert isinstance(engine, GPAWEngine)
    assert isinstance(engine, DFTEngine)
    assert engine.name == "gpaw"
    with pytest.raises(UnknownEngineError, match=r"'qe'.*known engines: gpaw"):
        get_engine("qe")
    assert issubclass(UnknownEngineError, ValueError)
