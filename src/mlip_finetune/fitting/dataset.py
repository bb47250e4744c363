"""Export labelled structures to the extended-XYZ files mace-torch trains on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.units import GPA_TO_EV_PER_A3

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms

    from mlip_finetune.schemas.dft import StaticDocument

#: Keys under which reference labels are written (mace: --energy_key/--forces_key/--stress_key).
ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
STRESS_KEY = "REF_stress"


def static_to_atoms(static: StaticDocument, config_type: str = "Default") -> Atoms:
    """Convert one DFT static into ASE Atoms with reference labels.

    Parameters
    ----------
    static
        DFT energy (eV), forces (eV/Å, shape (n, 3)) and stress (GPa, 3×3, ASE sign).
    config_type
        Written to ``info["config_type"]`` (mace reports errors per config type).

    Returns
    -------
    ase.Atoms
        ``info[REF_energy]`` in eV, ``arrays[REF_forces]`` in eV/Å, ``info[REF_stress]`` as
        a 3×3 array in eV/Å³ (ASE sign convention, as mace expects).
    """
    atoms = static.structure.to_ase_atoms()
    # pymatgen keeps an ASE calculator a structure was made from; its (possibly stale)
    # results would be written as extra extxyz columns.
    atoms.calc = None
    atoms.info[ENERGY_KEY] = float(static.energy)
    atoms.arrays[FORCES_KEY] = np.asarray(static.forces, dtype=float)
    atoms.info[STRESS_KEY] = np.asarray(static.stress, dtype=float) * GPA_TO_EV_PER_A3
    atoms.info["config_type"] = config_type
    return atoms


def write_extxyz(statics: Sequence[StaticDocument], path: str | Path) -> Path:
    """Write labelled structures to an extended-XYZ file.

    Parameters
    ----------
    statics
        DFT statics to write.
    path
        Output file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If ``statics`` is empty (mace would fail later with a less readable message).
    """
    from ase.io import write

    if not statics:
        raise ValueError(f"No labelled structures to write to {path}.")
    path = Path(path)
    write(path, [static_to_atoms(s) for s in statics], format="extxyz")
    return path
