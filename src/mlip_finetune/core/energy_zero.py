"""The per-element energy shift between two energy zeros (eV per atom of each element).

DFT codes, functionals and fine-tuned models put the zero of energy in different places
(isolated-atom references, E0s). Two sets of total energies of the same structures then
differ by ``Σ_Z n_Z δ_Z`` plus whatever really differs. :func:`fit_energy_shift` fits the δ_Z
by least squares; :func:`shift_energies` removes them. Used before fine-tuning (DFT energies
onto the foundation's zero, :mod:`mlip_finetune.fitting.e0s`) and by the forgetting check
(labels onto each model's zero, :mod:`mlip_finetune.evaluation.forgetting`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ase.calculators.calculator import Calculator

    from mlip_finetune.schemas.dft import StaticDocument


def fit_energy_shift(
    calculator: Calculator,
    statics: Sequence[StaticDocument],
    atomic_numbers: Sequence[int] | None = None,
) -> dict[int, float]:
    """Per-element shift δ_Z from the calculator's energy zero to the statics'.

    Solves ``A·δ ≈ E_static − E_calculator`` by least squares for one δ_Z per element, where
    ``A`` holds the element counts of each structure. When the compositions cannot separate
    two elements (e.g. one stoichiometry) only their composition-weighted sum is determined;
    ``numpy.linalg.lstsq`` returns the minimum-norm solution, which gives the same energies
    for those compositions.

    Parameters
    ----------
    calculator
        ASE calculator (energies in eV).
    statics
        Structures with reference energies (eV).
    atomic_numbers
        Elements Z, the columns of the fit, in this order; None: those present in
        ``statics``, sorted. An element absent from every structure gets δ = 0.

    Returns
    -------
    dict of int to float
        ``{Z: δ_Z}`` in eV per atom of element Z; adding ``Σ n_Z δ_Z`` to a calculator
        energy puts it on the statics' zero.

    Raises
    ------
    ValueError
        If ``statics`` is empty.
    """
    if not statics:
        raise ValueError("The energy shift needs at least one training structure.")
    zs = (
        sorted({site.specie.Z for s in statics for site in s.structure})
        if atomic_numbers is None
        else [int(z) for z in atomic_numbers]
    )
    column = {z: j for j, z in enumerate(zs)}
    counts = np.zeros((len(statics), len(zs)))
    differences = np.zeros(len(statics))
    for i, static in enumerate(statics):
        atoms = static.structure.to_ase_atoms()
        atoms.calc = calculator
        differences[i] = static.energy - float(atoms.get_potential_energy())
        for site in static.structure:
            counts[i, column[site.specie.Z]] += 1
    shift, *_ = np.linalg.lstsq(counts, differences, rcond=None)
    return {z: float(d) for z, d in zip(zs, shift, strict=True)}


def shift_energies(
    statics: Sequence[StaticDocument], shift: Mapping[int, float]
) -> list[StaticDocument]:
    """Return copies of the statics with ``Σ_Z n_Z δ_Z`` subtracted from each energy.

    Parameters
    ----------
    statics
        Structures with energies (eV).
    shift
        ``{Z: δ_Z}`` from :func:`fit_energy_shift` (eV/atom); elements not in it are not
        shifted.

    Returns
    -------
    list of StaticDocument
        Same forces and stresses; energies on the calculator's zero.
    """
    return [
        s.model_copy(
            update={"energy": s.energy - sum(shift.get(site.specie.Z, 0.0) for site in s.structure)}
        )
        for s in statics
    ]
