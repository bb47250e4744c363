"""The per-element energy shift between two energy zeros, fitted once for every caller."""

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.core.energy_zero import fit_energy_shift, shift_energies
from mlip_finetune.schemas.dft import StaticDocument

# a reference whose energy zero sits δ_Cu = 0.3 and δ_Al = -0.7 eV/atom above EMT's
DELTA = {29: 0.3, 13: -0.7}


def _static(atoms, energy):
    return StaticDocument(
        label="x",
        structure=AseAtomsAdaptor.get_structure(atoms),
        energy=energy,
        forces=[[0.0, 0.0, 0.0]] * len(atoms),
        stress=[[0.0] * 3] * 3,
        engine="test",
        settings={},
        kpoints=[],
        wall_time_s=0.0,
        converged=True,
    )


def _statics():
    """Four-atom fcc cells: Cu4, Al4, Cu3Al, Cu2Al2, energies = EMT's + Σ δ_Z."""
    out = []
    for i, (symbols, a) in enumerate(
        (("Cu4", 3.6), ("Al4", 4.05), ("Cu3Al", 3.8), ("Cu2Al2", 3.9))
    ):
        atoms = bulk("Cu", "fcc", a=a, cubic=True)
        atoms.symbols = symbols
        atoms.rattle(0.02, seed=i)
        atoms.calc = EMT()
        offset = sum(DELTA[z] for z in atoms.numbers)
        out.append(_static(atoms, atoms.get_potential_energy() + offset))
    return out


def test_shift_recovers_each_elements_offset():
    statics = _statics()
    shift = fit_energy_shift(EMT(), statics)
    assert list(shift) == [13, 29]  # sorted by Z
    assert shift == {13: pytest.approx(-0.7, abs=1e-8), 29: pytest.approx(0.3, abs=1e-8)}
    shifted = shift_energies(statics, shift)
    for before, after in zip(statics, shifted, strict=True):
        zs = [site.specie.Z for site in before.structure]
        assert before.energy - after.energy == pytest.approx(sum(DELTA[z] for z in zs))
        assert after.forces == before.forces


def test_columns_in_the_callers_order_and_absent_elements():
    statics = [s for s in _statics() if s.structure.composition.reduced_formula == "Cu"]
    shift = fit_energy_shift(EMT(), statics, atomic_numbers=[29, 13])
    assert list(shift) == [29, 13]
    assert shift[29] == pytest.approx(0.3, abs=1e-8)
    assert shift[13] == 0.0  # no Al anywhere: the minimum-norm solution leaves it at zero
    # elements missing from the shift are not moved
    assert shift_energies(statics, {13: 5.0})[0].energy == statics[0].energy


def test_one_stoichiometry_fixes_only_the_weighted_sum():
    statics = [s for s in _statics() if s.structure.composition.reduced_formula == "AlCu3"]
    shift = fit_energy_shift(EMT(), statics)
    assert 3 * shift[29] + shift[13] == pytest.approx(3 * 0.3 - 0.7, abs=1e-8)
    with pytest.raises(ValueError, match="at least one"):
        fit_energy_shift(EMT(), [])
