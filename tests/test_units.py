import pytest
from ase import units

from mlip_finetune.units import EV_PER_A3_TO_GPA, EV_TO_MEV, GPA_TO_EV_PER_A3, KBAR_TO_GPA


def test_pressure_conversions_are_inverse_and_physical():
    # 1 eV/Å³ = 160.2177 GPa (CODATA via ASE)
    assert pytest.approx(160.21766, rel=1e-6) == EV_PER_A3_TO_GPA
    assert pytest.approx(1.0, rel=1e-14) == EV_PER_A3_TO_GPA * GPA_TO_EV_PER_A3
    assert pytest.approx(units.GPa) == GPA_TO_EV_PER_A3
    # 10 kBar = 1 GPa
    assert pytest.approx(1.0) == 10 * KBAR_TO_GPA
    assert EV_TO_MEV == 1000.0
