"""Unit conversions, in one place (STYLE.md #5).

Internal conventions follow ASE: energies in eV, forces in eV/Å, stresses in eV/Å³ with
positive values meaning tensile stress (ASE sign convention; VASP reports the opposite sign
in kBar). Documents report stresses in GPa and errors in meV, meV/atom and meV/Å.
"""

from __future__ import annotations

from ase import units as _ase_units

#: 1 eV/Å³ expressed in GPa (≈ 160.2177).
EV_PER_A3_TO_GPA: float = 1.0 / _ase_units.GPa
#: 1 GPa expressed in eV/Å³.
GPA_TO_EV_PER_A3: float = _ase_units.GPa
#: eV → meV.
EV_TO_MEV: float = 1000.0
#: 1 kBar in GPa (VASP reports stresses in kBar).
KBAR_TO_GPA: float = 0.1
