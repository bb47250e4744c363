"""ASE calculators running one DFT static per call (no DFT: stand-in statics)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from mlip_finetune.dft.calculator import (
    DFTEngineCalculator,
    StaticOutput,
    StaticPerCallCalculator,
)
from mlip_finetune.dft.engines import StaticResult, UnknownEngineError
from mlip_finetune.dft.settings import DFTSettings

STRESS = np.array([[1.0, 0.4, 0.5], [0.4, 2.0, 0.6], [0.5, 0.6, 3.0]])  # eV/Å³


class CountingCalculator(StaticPerCallCalculator):
    """Returns fixed numbers and records the directories it was given."""

    run_prefix = "fake"

    def __init__(self, directory):
        super().__init__(directory)
        self.directories = []

    def run_static(self, atoms, directory):
        self.directories.append(directory)
        n = len(atoms)
        return StaticOutput(
            energy=-1.5 * n,
            free_energy=-1.6 * n,
            forces=[[0.1, 0.2, 0.3]] * n,
            stress=STRESS,
            wall_time=2.5,
        )


def test_one_static_per_call_in_its_own_directory(tmp_path):
    atoms = bulk("Si")
    calculator = CountingCalculator(tmp_path)
    atoms.calc = calculator
    assert atoms.get_potential_energy() == pytest.approx(-3.0)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(-3.2)
    assert atoms.get_forces().dtype == float
    np.testing.assert_allclose(atoms.get_forces(), [[0.1, 0.2, 0.3]] * 2)
    # ASE's Voigt order xx, yy, zz, yz, xz, xy; eV/Å³
    np.testing.assert_allclose(atoms.get_stress(), [1.0, 2.0, 3.0, 0.6, 0.5, 0.4])
    assert calculator.n_calls == 1  # the same atoms: ASE's cache, no second static
    atoms.positions[0, 0] += 0.01
    atoms.get_potential_energy()
    assert calculator.n_calls == 2
    assert calculator.wall_time == pytest.approx(5.0)
    assert calculator.directories == [tmp_path / "fake_00001", tmp_path / "fake_00002"]
    assert set(calculator.implemented_properties) == {"energy", "free_energy", "forces", "stress"}


class StubEngine:
    """Stands in for GPAW: returns a StaticResult without starting a process."""

    name = "gpaw"

    def __init__(self):
        self.calls = []

    def run_static(self, structure, settings, directory):
        self.calls.append((structure, settings, directory))
        return StaticResult(
            structure=structure,
            energy=-10.0,
            free_energy=-10.1,
            forces=np.zeros((len(structure), 3)),
            stress=STRESS,
            kpoints=[1, 1, 1],
            converged=True,
            wall_time=1.25,
            directory=directory,
        )


def test_engine_calculator_runs_the_engine_in_static_directories(tmp_path):
    settings = DFTSettings.test()
    calculator = DFTEngineCalculator(settings, tmp_path)
    assert calculator.engine.name == "gpaw"
    calculator.engine = StubEngine()
    atoms = bulk("Si")
    atoms.calc = calculator
    assert atoms.get_potential_energy() == pytest.approx(-10.0)
    assert calculator.get_property("free_energy") == pytest.approx(-10.1)
    np.testing.assert_allclose(atoms.get_stress(voigt=False), STRESS)
    ((structure, used, directory),) = calculator.engine.calls
    assert used is settings
    assert directory == tmp_path / "static_00001"
    assert [site.specie.symbol for site in structure] == ["Si", "Si"]
    assert calculator.wall_time == pytest.approx(1.25)


def test_engine_calculator_needs_a_known_engine(tmp_path):
    with pytest.raises(UnknownEngineError):
        DFTEngineCalculator(DFTSettings.test().model_copy(update={"engine": "qe"}), tmp_path)
