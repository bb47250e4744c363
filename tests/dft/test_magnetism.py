"""Which structures are spin-polarised, and their initial moments (no DFT)."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Species, Structure

from mlip_finetune.dft.magnetism import (
    MP_DEFAULT_MAGMOM,
    initial_magmoms,
    is_magnetic,
    magnetic_elements,
    mp_magmom_table,
    spin_polarised,
)
from mlip_finetune.dft.settings import DFTSettings


def bcc_fe(**site_properties) -> Structure:
    """bcc Fe, conventional cell, a = 2.83 Å."""
    return Structure(
        Lattice.cubic(2.83),
        ["Fe", "Fe"],
        [[0, 0, 0], [0.5, 0.5, 0.5]],
        site_properties=site_properties or None,
    )


def test_table_is_pymatgens_mp_table():
    from pymatgen.io.vasp.sets import MPRelaxSet, MPScanRelaxSet

    table = mp_magmom_table()
    assert table == {k: float(v) for k, v in MPRelaxSet.CONFIG["INCAR"]["MAGMOM"].items()}
    # atomate2's base set (MPScanRelaxSet) starts from the same table
    assert table == {k: float(v) for k, v in MPScanRelaxSet.CONFIG["INCAR"]["MAGMOM"].items()}
    assert table["Fe"] == 5.0
    assert MP_DEFAULT_MAGMOM == 0.6


def test_magnetic_elements_rule():
    elements = magnetic_elements()
    assert {"V", "Cr", "Mn", "Fe", "Co", "Ni", "Mo", "W", "Ce", "Gd", "Eu", "Yb"} <= elements
    # La³⁺ (4f⁰) and Lu³⁺ (4f¹⁴) are listed with the default 0.6 μ_B only
    assert not {"La", "Lu", "Si", "Al", "Mg", "Cu", "Ti", "O"} & elements
    assert "Co" in elements  # Co⁴⁺: 1 μ_B > 0.6 μ_B


def test_initial_moments_follow_pymatgens_order():
    assert initial_magmoms(bcc_fe()) == [5.0, 5.0]
    assert initial_magmoms(bcc_fe(magmom=[2.2, -2.2])) == [2.2, -2.2]  # site property first
    oxide = Structure(
        Lattice.cubic(4.2), [Species("Mn", 4), Species("O", -2)], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    assert initial_magmoms(oxide) == [3.0, MP_DEFAULT_MAGMOM]  # the species' own entry
    spin = Structure(Lattice.cubic(3.0), [Species("Fe", 2, spin=4)], [[0, 0, 0]])
    assert initial_magmoms(spin) == [4.0]


def test_which_structures_are_magnetic(si_primitive):
    assert is_magnetic(bcc_fe())
    assert not is_magnetic(si_primitive)
    assert is_magnetic(si_primitive.copy(site_properties={"magmom": [1.0, 0.0]}))
    assert not is_magnetic(bcc_fe(magmom=[0.0, 0.0]))  # zeros switch it off


@pytest.mark.parametrize(
    ("forced", "fe", "si"), [(None, True, False), (True, True, True), (False, False, False)]
)
def test_settings_can_force_the_choice(si_primitive, forced, fe, si):
    settings = DFTSettings(spin_polarised=forced)
    assert spin_polarised(bcc_fe(), settings) is fe
    assert spin_polarised(si_primitive, settings) is si
