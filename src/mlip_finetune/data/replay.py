"""Structures away from the material: crystal prototypes of its elements (paper §3.1, §4.3).

The multi-head replay set (:mod:`mlip_finetune.fitting.replay`) and the forgetting check
(:mod:`mlip_finetune.evaluation.forgetting`) both need structures of the material's elements
that the fine-tuning data does not contain: elemental fcc, bcc, simple cubic, diamond and
hcp cells, and rock-salt, CsCl and zinc-blende cells of every element pair
(:func:`prototype_structures`), scaled, strained and rattled (:func:`replay_structures`).
Lattice constants from pymatgen's atomic radii; lengths in Å.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Element, Structure

#: Elemental prototypes: (space group, Wyckoff position, a / atomic radius, c / a).
_ELEMENTAL = {
    "fcc": ("Fm-3m", [[0, 0, 0]], 2 * np.sqrt(2), 1.0),
    "bcc": ("Im-3m", [[0, 0, 0]], 4 / np.sqrt(3), 1.0),
    "sc": ("Pm-3m", [[0, 0, 0]], 2.0, 1.0),
    "diamond": ("Fd-3m", [[0, 0, 0]], 8 / np.sqrt(3), 1.0),
    "hcp": ("P6_3/mmc", [[1 / 3, 2 / 3, 0.25]], 2.0, np.sqrt(8 / 3)),
}
#: Binary AB prototypes: (space group, A and B positions, a / (r_A + r_B)).
_BINARY = {
    "rocksalt": ("Fm-3m", [[0, 0, 0], [0.5, 0.5, 0.5]], 2.0),
    "cscl": ("Pm-3m", [[0, 0, 0], [0.5, 0.5, 0.5]], 2 / np.sqrt(3)),
    "zincblende": ("F-43m", [[0, 0, 0], [0.25, 0.25, 0.25]], 4 / np.sqrt(3)),
}
#: Fallback atomic radius (Å) of an element pymatgen has none for.
DEFAULT_ATOMIC_RADIUS: float = 1.5


def prototype_structures(elements: Sequence[str | Element]) -> list[Structure]:
    """Primitive prototype crystals of the elements and of every element pair.

    Parameters
    ----------
    elements
        Element symbols (or pymatgen Elements); duplicates are ignored.

    Returns
    -------
    list of pymatgen.core.Structure
        Five elemental prototypes per element (fcc, bcc, sc, diamond, hcp) and three binary
        ones (rock-salt, CsCl, zinc-blende) per unordered pair, lattice constants from
        pymatgen's atomic radii (``Element.atomic_radius``, 1.5 Å when unknown).
    """
    from pymatgen.core import Element, Lattice
    from pymatgen.core import Structure as PmgStructure

    species = sorted({Element(str(e)) for e in elements}, key=lambda e: e.Z)
    radius = {e: float(e.atomic_radius or DEFAULT_ATOMIC_RADIUS) for e in species}
    out = []
    for element in species:
        for group, coords, a_over_r, c_over_a in _ELEMENTAL.values():
            a = a_over_r * radius[element]
            lattice = (
                Lattice.hexagonal(a, c_over_a * a) if group == "P6_3/mmc" else Lattice.cubic(a)
            )
            cell = PmgStructure.from_spacegroup(group, lattice, [element], coords)
            out.append(cell.get_primitive_structure())
    for first, second in itertools.combinations(species, 2):
        for group, coords, a_over_r in _BINARY.values():
            a = a_over_r * (radius[first] + radius[second])
            cell = PmgStructure.from_spacegroup(group, Lattice.cubic(a), [first, second], coords)
            out.append(cell.get_primitive_structure())
    return out


def replay_structures(
    elements: Sequence[str | Element],
    n: int = 100,
    *,
    seed: int = 0,
    volume_range: tuple[float, float] = (0.9, 1.2),
    max_strain: float = 0.03,
    max_rattle: float = 0.1,
) -> list[Structure]:
    """Draw ``n`` strained and rattled prototype structures for a replay set.

    Parameters
    ----------
    elements
        The material's elements.
    n
        Number of structures; prototypes are used in turn.
    seed
        Random seed.
    volume_range
        Range of the uniform factor on the prototype's volume.
    max_strain, max_rattle
        Passed to :func:`mlip_finetune.data.perturbations.strain_and_rattle` (Å for the
        rattle).

    Returns
    -------
    list of pymatgen.core.Structure
        ``n`` structures, each a supercell of at least 4 atoms.

    Raises
    ------
    ValueError
        If ``n`` < 1 or no element is given.
    """
    from mlip_finetune.data.perturbations import strain_and_rattle

    if n < 1:
        raise ValueError(f"A replay set needs at least one structure, got n={n}.")
    prototypes = prototype_structures(elements)
    if not prototypes:
        raise ValueError("A replay set needs at least one element.")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cell = prototypes[i % len(prototypes)].copy()
        cell.scale_lattice(cell.volume * rng.uniform(*volume_range))
        reps = 1
        while len(cell) * reps**3 < 4:  # noqa: PLR2004  (a few atoms so rattles matter)
            reps += 1
        out.append(strain_and_rattle(cell * (reps, reps, reps), rng, max_strain, max_rattle))
    return out
