"""Relax a structure with any ASE calculator: cell and positions, symmetry kept.

Used by every stage that relaxes (phonons, EOS, elastic constants, the phase-transition
search): one place for the optimiser, the cell filter and the symmetry constraint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

#: ASE optimisers a relaxation can use.
Optimizer = Literal["BFGS", "FIRE"]


def relax_structure(
    structure: Structure,
    calculator: Calculator,
    *,
    fmax: float = 1e-3,
    max_steps: int = 2000,
    optimizer: Optimizer = "BFGS",
    fix_symmetry: bool = True,
) -> tuple[Structure, bool]:
    """Relax cell and positions with ASE's FrechetCellFilter.

    Parameters
    ----------
    structure
        Starting structure (Å).
    calculator
        ASE calculator giving forces (eV/Å) and stress (eV/Å³).
    fmax
        Convergence threshold on forces and on the filter's stress term (eV/Å).
    max_steps
        Maximum optimiser steps (paper §4.6 caps ML relaxations at 2000).
    optimizer
        ``"BFGS"`` or ``"FIRE"`` (ASE optimisers).
    fix_symmetry
        Keep the space group (``ase.constraints.FixSymmetry``), as the paper forbids symmetry
        lowering during relaxation.

    Returns
    -------
    structure : pymatgen.core.Structure
        Relaxed structure (Å).
    converged : bool
        Whether ``fmax`` was reached within ``max_steps``.
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    optimizers = {"BFGS": BFGS, "FIRE": FIRE}
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    if fix_symmetry:
        atoms.set_constraint(FixSymmetry(atoms))
    dyn = optimizers[optimizer](FrechetCellFilter(atoms), logfile=None)
    converged = bool(dyn.run(fmax=fmax, steps=max_steps))
    atoms.set_constraint()
    return AseAtomsAdaptor.get_structure(atoms), converged
