"""Supercells of the fine-tuning data protocol (paper §4.2) and interatomic distances.

Every supercell matrix refers to the primitive standard cell (:func:`primitive_standard`):
the identity for :attr:`SupercellProtocol.PRIMITIVE`, a near-cubic supercell with edges in
the protocol's window (:data:`SUPERCELL_LENGTHS`, Å) otherwise.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Distances below this are a site's distance to itself (Å).
_SAME_SITE_TOLERANCE: float = 1e-8


class SupercellError(ValueError):
    """No supercell of the requested protocol exists for a structure."""


class SupercellProtocol(StrEnum):
    """Cell sizes of the fine-tuning data (paper §4.2).

    ``PRIMITIVE`` uses the primitive standard cell, ``SMALL`` a cubic supercell with edges
    between 5 and 10 Å, ``LARGE`` one with edges between 10 and 15 Å.
    """

    PRIMITIVE = "primitive"
    SMALL = "small"
    LARGE = "large"


#: Edge-length window (Å) of each supercell protocol, paper §4.2.
SUPERCELL_LENGTHS: dict[SupercellProtocol, tuple[float, float]] = {
    SupercellProtocol.SMALL: (5.0, 10.0),
    SupercellProtocol.LARGE: (10.0, 15.0),
}


def primitive_standard(structure: Structure, symprec: float = 0.01) -> Structure:
    """Return the primitive standard cell of a structure.

    Parameters
    ----------
    structure
        Any cell of the crystal.
    symprec
        Symmetry tolerance (Å) passed to spglib.

    Returns
    -------
    pymatgen.core.Structure
        ``SpacegroupAnalyzer(structure).get_primitive_standard_structure()`` (Setyawan-Curtarolo
        convention); every supercell matrix of this module refers to this cell.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(structure, symprec=symprec).get_primitive_standard_structure()


def supercell_matrix_for_protocol(
    structure: Structure,
    protocol: SupercellProtocol | str,
    angle_tolerance: float = 1.0,
) -> np.ndarray:
    """Return the supercell matrix of a protocol, relative to the primitive standard cell.

    The cubic supercells use pymatgen's ``CubicSupercellTransformation`` with
    ``min_length``/``max_length`` set to the protocol's window (5-10 Å or 10-15 Å, paper §4.2)
    and ``force_90_degrees=True``, so that only supercells whose angles are within
    ``angle_tolerance`` of 90° are accepted (the paper's "cubic cells"; without it pymatgen
    returns e.g. 65° cells for low-symmetry lattices).

    Parameters
    ----------
    structure
        Any cell of the crystal; it is first reduced with :func:`primitive_standard`.
    protocol
        A :class:`SupercellProtocol` or its value.
    angle_tolerance
        Largest accepted deviation of a supercell angle from 90° (degrees).

    Returns
    -------
    numpy.ndarray
        Integer matrix of shape (3, 3), rows are the supercell vectors in units of the
        primitive standard vectors; the identity for ``PRIMITIVE``.

    Raises
    ------
    SupercellError
        If no orthogonal supercell fits the protocol's edge-length window.
    ValueError
        If ``protocol`` is not a valid protocol name.
    """
    protocol = SupercellProtocol(protocol)
    if protocol is SupercellProtocol.PRIMITIVE:
        return np.eye(3, dtype=int)
    from pymatgen.transformations.advanced_transformations import (
        CubicSupercellTransformation,
    )

    min_length, max_length = SUPERCELL_LENGTHS[protocol]
    primitive = primitive_standard(structure)
    transformation = CubicSupercellTransformation(
        min_length=min_length,
        max_length=max_length,
        force_90_degrees=True,
        angle_tolerance=angle_tolerance,
    )
    message = (
        f"no supercell of {primitive.composition.reduced_formula} (primitive lattice "
        f"abc={np.round(primitive.lattice.abc, 3).tolist()} Å, "
        f"angles={np.round(primitive.lattice.angles, 2).tolist()}°) has all angles within "
        f"{angle_tolerance}° of 90° and edges between {min_length} and {max_length} Å "
        f"(protocol {protocol.value!r}); try another protocol"
    )
    try:
        supercell = transformation.apply_transformation(primitive)
    except AttributeError as exc:  # pymatgen signals "not found" with AttributeError
        raise SupercellError(message) from exc
    if max(supercell.lattice.abc) > max_length:
        raise SupercellError(message)
    return np.rint(transformation.transformation_matrix).astype(int)


def shortest_distance(structure: Structure) -> float:
    """Return the shortest interatomic distance, periodic images included.

    Parameters
    ----------
    structure
        Periodic structure.

    Returns
    -------
    float
        Shortest distance between two distinct sites or between a site and its own image (Å).
    """
    cutoff = 2.0 * (structure.volume / len(structure)) ** (1.0 / 3.0)
    while True:
        distances = structure.get_neighbor_list(cutoff)[3]
        distances = distances[distances > _SAME_SITE_TOLERANCE]
        if distances.size:
            return float(distances.min())
        cutoff *= 2.0
