"""Plane-wave cutoff per structure from GPAW's setups (loads setups, runs no DFT)."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from mlip_finetune.dft.gpaw.cutoff import ECUT_STEP, plane_wave_cutoff, setup_cutoff
from mlip_finetune.dft.settings import DFTSettings


def srtio3() -> Structure:
    """Cubic SrTiO₃, a = 3.94 Å."""
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.94), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]
    )


def test_hard_setups_need_higher_cutoffs():
    cutoff = {el: setup_cutoff(el, "paw", "PBE", 0.05) for el in ("Si", "Al", "Fe", "O", "N")}
    assert max(cutoff["Si"], cutoff["Al"]) < 250.0 < cutoff["Fe"] < 600.0 < cutoff["O"]
    assert cutoff["N"] > 600.0
    # Mg: the 3s² setup is soft, the 2s²2p⁶3s² default is not
    assert setup_cutoff("Mg", "2", "PBE", 0.01) < 250.0 < setup_cutoff("Mg", "paw", "PBE", 0.01)
    # a tighter tolerance never lowers the cutoff
    assert setup_cutoff("O", "paw", "PBE", 0.01) > setup_cutoff("O", "paw", "PBE", 0.1)
    with pytest.raises(ValueError, match="positive"):
        setup_cutoff("O", "paw", "PBE", 0.0)


def test_structure_cutoff(si_primitive):
    local = DFTSettings.local()
    assert plane_wave_cutoff(si_primitive, local) == local.ecut  # soft: the minimum stays
    oxide = plane_wave_cutoff(srtio3(), local)
    assert oxide > 1000.0  # O: 1040 eV at 0.03 eV/atom
    assert oxide % ECUT_STEP == 0
    fixed = local.model_copy(update={"ecut_residual": None})
    assert plane_wave_cutoff(srtio3(), fixed) == local.ecut
    test, paper = DFTSettings.test(), DFTSettings.paper()
    assert plane_wave_cutoff(srtio3(), test) < oxide < plane_wave_cutoff(srtio3(), paper)
