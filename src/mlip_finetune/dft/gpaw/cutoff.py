"""Plane-wave cutoff of a structure from its elements' PAW setups (GPAW's ENMAX, in effect).

A single cutoff cannot suit every element: GPAW's PAW setups differ in hardness by a factor
of five. Measured at a fixed PBE geometry (stress error against a 1200 eV reference,
docs/dft-convergence.md), 350 eV leaves a spurious (Pulay) stress of +92 GPa in SrTiO₃,
+48 GPa in GaN, +4.6 GPa in bcc Fe and +2.8 GPa in hcp Mg with GPAW's 10-electron Mg setup,
but under 0.05 GPa in Si, Al and with the 2-electron Mg setup; oxides and nitrides need
about 800 eV. VASP solves this with each POTCAR's ENMAX; GPAW's setups carry no such number,
so :func:`setup_cutoff` derives one from the setup itself: the smallest cutoff at which the
kinetic energy of the setup's occupied pseudo partial waves beyond the cutoff, the
basis-incompleteness error of a free atom (GPAW's ``gpaw.utilities.ekin``, the model
behind ``PW(dedecut="estimate")``), is below a tolerance per atom. :func:`plane_wave_cutoff`
raises :attr:`DFTSettings.ecut <mlip_finetune.dft.settings.DFTSettings.ecut>` to the largest
cutoff any element of the structure needs, so every frame of a material (same elements) gets
the same basis.

GPAW's own Pulay correction cannot replace this: GPAW ≥ 25's calculator ignores
``dedecut`` (``gpaw/new/pw/builder.py``), and the legacy calculator's estimate corrects
0.76 of the 2.8 GPa of Mg at 350 eV.

References
----------
GPAW: J. J. Mortensen et al., J. Chem. Phys. 160, 092503 (2024); ``gpaw/utilities/ekin.py``.
Pulay stress: G. P. Francis and M. C. Payne, J. Phys.: Condens. Matter 2, 4395 (1990).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlip_finetune.dft.settings import DFTSettings

#: Cutoffs are rounded up to a multiple of this (eV).
ECUT_STEP: float = 10.0
#: GPAW's setup type of elements not listed in ``DFTSettings.setups``.
DEFAULT_SETUP_TYPE: str = "paw"
#: 1 Hartree (eV), GPAW's internal energy unit (CODATA 2014, as ``ase.units.Ha``).
_HARTREE_EV: float = 27.211386024367243


@functools.cache
def setup_cutoff(symbol: str, setup_type: str, xc: str, residual: float) -> float:
    """Return the cutoff at which an element's setup leaves ``residual`` of kinetic energy.

    Parameters
    ----------
    symbol
        Element symbol.
    setup_type
        GPAW setup type (``"paw"``, ``"2"`` for ``Mg.2``, ...).
    xc
        Functional, whose setups are loaded (``"PBE"``).
    residual
        Tolerated kinetic energy of the occupied pseudo partial waves above the cutoff
        (eV per atom).

    Returns
    -------
    float
        Cutoff (eV), the smallest on GPAW's radial Fourier grid meeting the tolerance.

    Raises
    ------
    ValueError
        If ``residual`` is not positive.
    """
    if residual <= 0:
        raise ValueError(f"residual must be positive, got {residual} eV/atom.")
    from gpaw.setup import create_setup
    from gpaw.utilities.ekin import ekin

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libxc's build warning
        dataset = create_setup(symbol, xc, type=setup_type)
    g_k, de_k, _ = ekin(dataset)  # G (1/Bohr), kinetic-energy density in G (Hartree·Bohr)
    step = g_k[1]
    cumulative = (np.add.accumulate(de_k) - 0.5 * de_k[0] - 0.5 * de_k) * step
    beyond = (cumulative[-1] - cumulative) * _HARTREE_EV  # eV per atom above each cutoff
    cutoffs = 0.5 * g_k**2 * _HARTREE_EV
    below = np.flatnonzero(beyond < residual)
    return float(cutoffs[below[0]] if below.size else cutoffs[-1])


def plane_wave_cutoff(structure: Structure, settings: DFTSettings) -> float:
    """Return the plane-wave cutoff of a structure under these settings (eV).

    Parameters
    ----------
    structure
        Ordered structure; only its elements matter.
    settings
        ``ecut`` is the minimum; ``ecut_residual`` the tolerance of :func:`setup_cutoff`
        (None keeps ``ecut``); ``setups`` and ``xc`` select each element's setup.

    Returns
    -------
    float
        ``max(ecut, setup cutoffs)`` rounded up to :data:`ECUT_STEP` (eV).
    """
    if settings.ecut_residual is None:
        return settings.ecut
    needed = max(
        setup_cutoff(
            symbol,
            settings.setups.get(symbol, DEFAULT_SETUP_TYPE),
            settings.xc,
            settings.ecut_residual,
        )
        for symbol in sorted({site.specie.symbol for site in structure})
    )
    return max(settings.ecut, ECUT_STEP * math.ceil(needed / ECUT_STEP))
