"""Energy references for training: a MACE file's E0s and the DFT-to-foundation shift."""

import pytest
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.core.calculators import mace_calculator
from mlip_finetune.fitting.e0s import estimate_energy_shift, model_e0s, shift_energies
from mlip_finetune.schemas.dft import StaticDocument


def _static(atoms, energy):
    return StaticDocument(
        label="x",
        structure=AseAtomsAdaptor.get_structure(atoms),
        energy=energy,
        forces=[[0.0, 0.0, 0.0]] * len(atoms),
        stress=[[0.0] * 3] * 3,
        engine="test",
        settings={},
        kpoints=[1, 1, 1],
        wall_time_s=0.0,
        converged=True,
    )


def test_model_e0s_single_element(random_mace_si):
    assert model_e0s(str(random_mace_si)) == {14: pytest.approx(-5.4)}


def test_energy_shift_recovers_a_per_atom_offset(random_mace_si):
    calc = mace_calculator(random_mace_si, device="cpu")
    statics = []
    for i, a in enumerate((5.40, 5.47, 5.55)):
        atoms = bulk("Si", "diamond", a=a, cubic=i == 1)
        atoms.rattle(0.02, seed=i)
        atoms.calc = calc
        # a DFT code whose energy zero sits 0.75 eV/atom above the model's
        statics.append(_static(atoms, atoms.get_potential_energy() + 0.75 * len(atoms)))
    shift = estimate_energy_shift(str(random_mace_si), statics)
    assert shift == {14: pytest.approx(0.75, abs=1e-8)}
    shifted = shift_energies(statics, shift)
    for before, after in zip(statics, shifted, strict=True):
        assert before.energy - after.energy == pytest.approx(0.75 * len(before.structure))
        assert after.forces == before.forces
    with pytest.raises(ValueError, match="at least one"):
        estimate_energy_shift(str(random_mace_si), [])
