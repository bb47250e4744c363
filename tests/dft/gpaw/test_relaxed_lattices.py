"""GPAW relaxations land at PBE's own lattice (issue: hcp Mg once relaxed 7 % too dense).

At :meth:`DFTSettings.test` (the suite's preset) and :meth:`DFTSettings.local`'s cutoff rule,
a full cell relaxation of Si, Al and Mg must end within 1 % of the published PBE lattice
constants; the cause of the old Mg error was the 10-electron Mg setup at 350 eV (a Pulay
stress of +2.8 GPa), fixed by the 2-electron setup (``DEFAULT_GPAW_SETUPS``).

Published PBE (all-electron / PAW, converged): Si a = 5.47 Å; Al a = 4.04 Å; Mg a = 3.19 Å,
c = 5.18 Å (e.g. Haas, Tran, Blaha, Phys. Rev. B 79, 085104 (2009): Si 5.466, Al 4.040;
Mg from the Materials Project's PBE mp-153: 3.19, 5.18).
"""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from mlip_finetune.dft.engines import get_engine
from mlip_finetune.dft.settings import DFTSettings

pytestmark = [pytest.mark.dft, pytest.mark.slow]

#: Relative tolerance of a relaxed lattice constant against PBE's (1 %, the issue's figure).
TOLERANCE = 0.01


def _cubic(spacegroup: str, a: float, symbol: str, coords: list) -> Structure:
    cell = Structure.from_spacegroup(spacegroup, Lattice.cubic(a), [symbol], [coords])
    return cell.get_primitive_structure()


#: label → (start structure 2 % off PBE, PBE conventional a (Å), PBE c (Å) or None).
CASES = {
    "Si": (_cubic("Fd-3m", 5.36, "Si", [0, 0, 0]), 5.47, None),
    "Al": (_cubic("Fm-3m", 4.12, "Al", [0, 0, 0]), 4.04, None),
    "Mg": (
        Structure.from_spacegroup(
            "P6_3/mmc", Lattice.hexagonal(3.13, 5.08), ["Mg"], [[1 / 3, 2 / 3, 0.25]]
        ),
        3.19,
        5.18,
    ),
}


@pytest.mark.parametrize("label", sorted(CASES))
def test_relaxed_lattice_is_pbes(label, tmp_path):
    start, a_pbe, c_pbe = CASES[label]
    result = get_engine("gpaw").relax(
        start, DFTSettings.test(), tmp_path, fmax=0.01, relax_cell=True, max_steps=40
    )
    relaxed = result.structure
    if c_pbe is None:  # cubic: the conventional a from the primitive volume
        n_conventional = {"Si": 4, "Al": 4}[label]  # primitive cells per conventional cell
        a = (relaxed.volume * n_conventional) ** (1 / 3)
        assert a == pytest.approx(a_pbe, rel=TOLERANCE), f"{label}: a = {a:.4f} Å"
    else:
        a, _, c = relaxed.lattice.abc
        assert a == pytest.approx(a_pbe, rel=TOLERANCE), f"{label}: a = {a:.4f} Å"
        assert c == pytest.approx(c_pbe, rel=TOLERANCE), f"{label}: c = {c:.4f} Å"
    # the training volumes (-5 … +5 % of the PBE input cell) bracket the relaxed volume
    if c_pbe is None:
        a_start = (start.volume * n_conventional) ** (1 / 3)
        pbe_volume = start.volume * (a_pbe / a_start) ** 3
    else:
        a_start, _, c_start = start.lattice.abc
        pbe_volume = start.volume * (a_pbe / a_start) ** 2 * (c_pbe / c_start)
    assert 0.95 * pbe_volume < relaxed.volume < 1.05 * pbe_volume
