"""Energies on amplitude grids of a mode subspace, and the grid's local minima."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    #: Maps structures to total energies (eV), one per structure, in order.
    EnergyFunction = Callable[[Sequence[Structure]], Sequence[float]]


def calculator_energy_function(calculator: Calculator) -> EnergyFunction:
    """Wrap an ASE calculator as an energy function for :func:`scan_mode_subspace`.

    Parameters
    ----------
    calculator
        Any ASE calculator returning energies (eV); used for one structure at a time.

    Returns
    -------
    callable
        ``f(structures) -> list[float]``: total energies (eV), in order.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    def energies(structures: Sequence[Structure]) -> list[float]:
        result = []
        for structure in structures:
            atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.calc = calculator
            result.append(float(atoms.get_potential_energy()))
        return result

    return energies


def scan_mode_subspace(
    supercell: Structure,
    patterns: np.ndarray,
    energy_function: EnergyFunction,
    *,
    n_points: int,
    max_amplitude: float,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Energies on a uniform amplitude grid spanned by displacement patterns (paper §4.6).

    Structure at grid point ``c``: ``x_j = x_j⁰ + Σ_i c_i p_ij`` (Cartesian, Å), cell fixed.

    Parameters
    ----------
    supercell
        Undistorted supercell (Å).
    patterns
        Shape (dimension, n_atoms, 3), from :func:`mode_displacement_patterns`.
    energy_function
        Maps a list of structures to total energies (eV); called with at most ``batch_size``
        structures at a time, so a DFT fan-out can supply them.
    n_points
        Points per axis; odd, so the undistorted structure is the grid centre.
    max_amplitude
        Each axis spans ``[-max_amplitude, max_amplitude]`` (Å).
    batch_size
        Structures per call of ``energy_function``.

    Returns
    -------
    amplitudes : numpy.ndarray
        Shape (n_points,), the axis values (Å).
    energies : numpy.ndarray
        Shape (n_points,)*dimension, total energies (eV), axis ``i`` = pattern ``i``.

    Raises
    ------
    ValueError
        If ``n_points`` is even or < 3, the shapes disagree, or the energy function returns
        the wrong number of energies.
    """
    from pymatgen.core import Structure

    patterns = np.asarray(patterns, dtype=float)
    if n_points < 3 or n_points % 2 == 0:  # noqa: PLR2004
        raise ValueError(f"n_points must be odd and ≥ 3, got {n_points}")
    if patterns.ndim != 3 or patterns.shape[1:] != (len(supercell), 3):  # noqa: PLR2004
        raise ValueError(
            f"patterns must have shape (dimension, {len(supercell)}, 3), got {patterns.shape}"
        )
    if max_amplitude <= 0:
        raise ValueError(f"max_amplitude must be positive, got {max_amplitude} Å")
    dimension = len(patterns)
    amplitudes = np.linspace(-max_amplitude, max_amplitude, n_points)
    points = np.array(list(itertools.product(amplitudes, repeat=dimension)))
    cart = supercell.cart_coords
    energies: list[float] = []
    for start in range(0, len(points), batch_size):
        batch = points[start : start + batch_size]
        structures = [
            Structure(
                supercell.lattice,
                supercell.species,
                cart + np.tensordot(c, patterns, axes=1),
                coords_are_cartesian=True,
            )
            for c in batch
        ]
        values = list(energy_function(structures))
        if len(values) != len(structures):
            raise ValueError(
                f"energy function returned {len(values)} energies for {len(structures)} structures"
            )
        energies.extend(float(v) for v in values)
    return amplitudes, np.asarray(energies).reshape((n_points,) * dimension)


def grid_local_minima(energies: np.ndarray) -> list[tuple[int, ...]]:
    """Grid points strictly lower than all their grid neighbours, origin excluded.

    Neighbours are the up to ``3^d − 1`` points differing by at most one step along every
    axis (diagonals included); points on the grid edge compare with the neighbours that
    exist. The centre (undistorted structure) is never returned.

    Parameters
    ----------
    energies
        Energies on a grid with an odd number of points along every axis, any unit.

    Returns
    -------
    list of tuple of int
        Indices of the minima, lowest energy first.
    """
    from scipy.ndimage import minimum_filter

    values = np.asarray(energies, dtype=float)
    footprint = np.ones((3,) * values.ndim, dtype=bool)
    footprint[(1,) * values.ndim] = False
    neighbours = minimum_filter(values, footprint=footprint, mode="constant", cval=np.inf)
    centre = tuple(n // 2 for n in values.shape)
    minima = [
        tuple(int(i) for i in index)
        for index in np.argwhere(values < neighbours)
        if tuple(index) != centre
    ]
    return sorted(minima, key=lambda index: values[index])
