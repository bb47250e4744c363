"""VaspStaticCalculator: one VASP static per ASE call, answered live by the fake."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from jobflow import job, run_locally
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.dft.engines import DFTCalculationError
from mlip_finetune.dft.vasp.calculator import VaspStaticCalculator
from mlip_finetune.dft.vasp.jobs import VaspRelaxMaker
from tests.dft.vasp_fake import PHASE_TRANSITION_INCAR, fake_vasp, si2

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

JOB_NAME = "vasp statics"


def lennard_jones() -> LennardJones:
    """A cheap stand-in for VASP's numbers (any ASE calculator with a stress)."""
    return LennardJones(sigma=2.1, epsilon=0.1, rc=5.0, smooth=True)


@job
def two_statics(structure):
    """Two VASP statics through the calculator: the cell, then one atom moved."""
    calculator = VaspStaticCalculator(directory=Path.cwd() / "statics")
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    first = {
        "energy": atoms.get_potential_energy(),
        "forces": atoms.get_forces().tolist(),
        "stress": atoms.get_stress().tolist(),
    }
    atoms.positions[0, 0] += 0.05
    atoms.get_potential_energy()
    directories = sorted(p.name for p in (Path.cwd() / "statics").iterdir())
    return {"first": first, "n_calls": calculator.n_calls, "directories": directories}


def test_calculator_gives_the_answering_codes_numbers(tmp_path, monkeypatch):
    structure = si2(5.43)
    statics = two_statics(structure)
    statics.name = JOB_NAME
    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        fake.answer_live(JOB_NAME, lennard_jones(), PHASE_TRANSITION_INCAR, "Lennard-Jones")
        output = run_locally(statics, create_folders=True, raise_immediately=True)[statics.uuid][
            1
        ].output
    assert len(fake.calls) == output["n_calls"] == 2
    assert output["directories"] == ["vasp_00001", "vasp_00002"]
    direct = AseAtomsAdaptor.get_atoms(structure)
    direct.calc = lennard_jones()
    first = output["first"]
    assert first["energy"] == pytest.approx(direct.get_potential_energy(), rel=1e-8)
    np.testing.assert_allclose(first["forces"], direct.get_forces(), atol=1e-8)
    # eV/Å³ → kBar (VASP's files) → GPa (StaticDocument) → eV/Å³: sign and units survive
    np.testing.assert_allclose(first["stress"], direct.get_stress(), rtol=1e-6, atol=1e-10)


def test_calculator_reports_a_crashed_vasp(tmp_path, monkeypatch):
    statics = two_statics(si2(5.43))
    statics.name = JOB_NAME
    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        fake.answer_live(JOB_NAME, lennard_jones(), PHASE_TRANSITION_INCAR, "Lennard-Jones")
        fake.fail(JOB_NAME)
        with pytest.raises(DFTCalculationError, match=r"vasp_00001 failed: NonRecoverableError"):
            run_locally(statics, create_folders=True, raise_immediately=True)


def test_calculator_needs_a_vasp_maker(tmp_path):
    with pytest.raises(TypeError, match="atomate2 VASP maker"):
        VaspStaticCalculator(maker=object(), directory=tmp_path)
    calculator = VaspStaticCalculator(maker=VaspRelaxMaker(), directory=tmp_path)
    assert calculator.maker.name == "vasp relax"
    assert VaspStaticCalculator(directory=tmp_path).maker.name == "vasp static phase transition"


@job
def iron_static(structure):
    """One VASP static of bcc Fe through the calculator; returns its INCAR."""
    from pymatgen.io.vasp import Incar

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = VaspStaticCalculator(directory=Path.cwd() / "statics")
    atoms.get_potential_energy()
    return dict(Incar.from_file(Path.cwd() / "statics" / "vasp_00001" / "INCAR"))


def test_iron_runs_spin_polarised_with_mps_moments(tmp_path, monkeypatch):
    """The fake checks ISPIN 2 and MAGMOM = 5 μ_B per Fe (its own copy of MP's rule)."""
    from pymatgen.core import Lattice, Structure

    iron = Structure(Lattice.cubic(2.83), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    statics = iron_static(iron)
    statics.name = JOB_NAME
    monkeypatch.chdir(tmp_path)
    # atomate2 adds LMAXMIX 4 for d elements; ISPIN and MAGMOM come from the fake's rule
    expected = PHASE_TRANSITION_INCAR | {"LMAXMIX": 4}
    with fake_vasp(monkeypatch) as fake:
        fake.answer_live(JOB_NAME, lennard_jones(), expected, "Lennard-Jones")
        incar = run_locally(statics, create_folders=True, raise_immediately=True)[statics.uuid][
            1
        ].output
    assert (incar["ISPIN"], incar["MAGMOM"]) == (2, [5.0, 5.0])
