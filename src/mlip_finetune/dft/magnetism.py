"""Which structures get spin-polarised DFT, and their initial magnetic moments.

One rule for every DFT code (GPAW and VASP), for the training statics and the reference
phonons alike, taken from the Materials Project's input sets in pymatgen:

- **Initial moments** (:func:`initial_magmoms`) follow pymatgen's ``VaspInputSet`` (the
  order atomate2's ``VaspInputGenerator`` documents): a ``"magmom"`` site property, else the
  species' ``spin``, else the MP ``MAGMOM`` table entry of the species (e.g. ``"Fe3+"``), else
  of the element (``"Fe"``: 5 μ_B), else the table's default :data:`MP_DEFAULT_MAGMOM`
  (0.6 μ_B). The table is read from the library (``MPRelaxSet.CONFIG``; ``MPScanRelaxSet``,
  atomate2's base set, has the same one), never copied here.
- **Spin polarisation** (:func:`is_magnetic`): a structure is computed spin-polarised when it
  has a ``"magmom"`` site property with a non-zero entry, or (without that property) when it
  contains a *magnetic element* (:func:`magnetic_elements`): an element whose largest MP
  ``MAGMOM`` entry, over the element and its listed oxidation states, exceeds the default
  0.6 μ_B. That is MP's own choice of the elements that need a specific starting moment:
  V, Cr, Mn, Fe, Co (Co⁴⁺: 1 μ_B), Ni, Mo, W and the lanthanides Ce–Yb; La and Lu (4f⁰ and
  4f¹⁴, listed with the default 0.6 μ_B only) are not. A ``"magmom"`` site property of zeros
  switches spin polarisation off.

MP itself runs every calculation spin-polarised (ISPIN 2, atomate2 likewise); restricting it
to structures with a magnetic element halves the cost of the many non-magnetic materials,
whose moments would relax to zero anyway. :class:`~mlip_finetune.dft.settings.DFTSettings`'
``spin_polarised`` forces either choice.

References
----------
Materials Project input sets: pymatgen ``pymatgen/io/vasp/VASPIncarBase.yaml`` (``MAGMOM``)
and ``pymatgen.io.vasp.sets.VaspInputSet.incar``; K. Mathew et al., Comput. Mater. Sci.
139, 140 (2017) (atomate).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlip_finetune.dft.settings import DFTSettings

#: Initial moment of species missing from the MP ``MAGMOM`` table (μ_B), pymatgen's default.
MP_DEFAULT_MAGMOM: float = 0.6
#: Site property holding initial (input) or final (output) collinear moments (μ_B).
MAGMOM_PROPERTY: str = "magmom"


@functools.cache
def mp_magmom_table() -> dict[str, float]:
    """Return the Materials Project initial-moment table, species string → μ_B.

    Returns
    -------
    dict
        ``MPRelaxSet.CONFIG["INCAR"]["MAGMOM"]`` from pymatgen, e.g. ``{"Fe": 5, "Fe3+"…}``
        (keys are element symbols or species with oxidation states).
    """
    from pymatgen.io.vasp.sets import MPRelaxSet

    return {str(key): float(value) for key, value in MPRelaxSet.CONFIG["INCAR"]["MAGMOM"].items()}


def _element_of(species: str) -> str:
    """Element symbol of a species string: ``"Mn4+"`` → ``"Mn"``."""
    return species.rstrip("+-0123456789.")


@functools.cache
def magnetic_elements() -> frozenset[str]:
    """Return the elements that make a structure spin-polarised (module docstring's rule).

    Returns
    -------
    frozenset of str
        Element symbols whose largest MP ``MAGMOM`` entry exceeds :data:`MP_DEFAULT_MAGMOM`.
    """
    largest: dict[str, float] = {}
    for species, moment in mp_magmom_table().items():
        element = _element_of(species)
        largest[element] = max(largest.get(element, 0.0), moment)
    return frozenset(el for el, moment in largest.items() if moment > MP_DEFAULT_MAGMOM)


def initial_magmoms(structure: Structure) -> list[float]:
    """Return each site's initial collinear moment the way pymatgen's MP sets choose it.

    Parameters
    ----------
    structure
        Ordered structure; a ``"magmom"`` site property (μ_B) takes precedence.

    Returns
    -------
    list of float
        One moment per site (μ_B): site property, species spin, MP table entry of the species,
        of the element, or :data:`MP_DEFAULT_MAGMOM`.
    """
    table = mp_magmom_table()
    moments = []
    for site in structure:
        if MAGMOM_PROPERTY in site.properties and site.properties[MAGMOM_PROPERTY] is not None:
            moments.append(float(site.properties[MAGMOM_PROPERTY]))
        elif getattr(site.specie, "spin", None) is not None:
            moments.append(float(site.specie.spin))
        else:
            species = str(site.specie)
            moments.append(table.get(species, table.get(site.specie.symbol, MP_DEFAULT_MAGMOM)))
    return moments


def is_magnetic(structure: Structure) -> bool:
    """Whether a structure is computed spin-polarised by default (module docstring's rule).

    Parameters
    ----------
    structure
        Ordered structure.

    Returns
    -------
    bool
        With a ``"magmom"`` site property: any non-zero entry. Without one: any site's element
        is in :func:`magnetic_elements`.
    """
    given = structure.site_properties.get(MAGMOM_PROPERTY)
    if given is not None and all(m is not None for m in given):
        return any(abs(float(m)) > 0 for m in given)
    elements = magnetic_elements()
    return any(site.specie.symbol in elements for site in structure)


def spin_polarised(structure: Structure, settings: DFTSettings) -> bool:
    """Whether to run a structure spin-polarised under these settings.

    Parameters
    ----------
    structure
        Ordered structure.
    settings
        DFT settings; ``spin_polarised`` True or False forces the choice, None applies
        :func:`is_magnetic`.

    Returns
    -------
    bool
        True for a collinear spin-polarised calculation.
    """
    if settings.spin_polarised is not None:
        return settings.spin_polarised
    return is_magnetic(structure)
