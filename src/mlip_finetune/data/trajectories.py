"""Foundation-model relaxations at fixed cell, recording every step (paper §4.2).

Energies in eV, forces in eV/Å.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from pymatgen.core import Structure

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator


class RelaxationTrajectory(NamedTuple):
    """Result of :func:`relax_trajectory`.

    Attributes
    ----------
    energies
        Energy of every recorded step (eV), shape (n_steps + 1,); entry 0 is the start.
    structures
        Structure of every recorded step, same length as ``energies``.
    n_steps
        FIRE steps taken.
    converged
        Whether the largest atomic force fell below ``fmax``.
    final_fmax
        Largest atomic force of the last structure (eV/Å).
    """

    energies: np.ndarray
    structures: list[Structure]
    n_steps: int
    converged: bool
    final_fmax: float


def relax_trajectory(
    structure: Structure,
    calculator: Calculator,
    fmax: float = 1e-4,
    max_steps: int = 2000,
) -> RelaxationTrajectory:
    """Relax atomic positions at fixed cell with ASE's FIRE, recording every step.

    The cell is not relaxed, so the volume scaling of the protocol survives (paper §4.2:
    "relaxed with the FIRE optimizer ... until the forces converged to 1e-4 eV/Å").

    Parameters
    ----------
    structure
        Starting structure (not modified).
    calculator
        ASE calculator giving energy (eV) and forces (eV/Å), e.g. a MACE foundation model.
    fmax
        Force convergence threshold on the largest atomic force (eV/Å).
    max_steps
        Largest number of FIRE steps.

    Returns
    -------
    RelaxationTrajectory
        Energies (eV) and structures of steps 0..n_steps, convergence flag, final max force.
    """
    from ase.optimize import FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    energies: list[float] = []
    positions: list[np.ndarray] = []

    def record() -> None:
        energies.append(float(atoms.get_potential_energy()))
        positions.append(atoms.get_positions())

    optimizer = FIRE(atoms, logfile=None)
    optimizer.attach(record, interval=1)
    converged = bool(optimizer.run(fmax=fmax, steps=max_steps))
    final_fmax = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    structures = [
        Structure(structure.lattice, structure.species, pos, coords_are_cartesian=True)
        for pos in positions
    ]
    return RelaxationTrajectory(
        energies=np.asarray(energies),
        structures=structures,
        n_steps=int(optimizer.nsteps),
        converged=converged,
        final_fmax=final_fmax,
    )
