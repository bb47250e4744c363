"""A user's crystal structure checked at the door: periodic, ordered, real elements, atoms apart.

Every check raises a subclass of :class:`StructureError` (an
:class:`~mlip_finetune.core.errors.InputError`) whose one-line message says what is wrong and
what to do; :func:`validate_structure` runs them all, in order, before any job is built
(:func:`mlip_finetune.flows.validation.validate_material`, the command line).
:func:`read_structure_file` reads a structure file (any pymatgen format, and what ASE reads
besides) with a message that names the file and the problem.

Thresholds (documented, module constants):

- :data:`MIN_VOLUME_PER_ATOM` = 2 Å³: a third of diamond's 5.7 Å³/atom, the densest solid
  at ambient pressure; a smaller cell is a degenerate or near-singular lattice (or a wrong
  unit).
- :data:`MIN_LATTICE_TRANSLATION` = 1 Å: the shortest lattice translation of an elemental
  solid is hcp Be's a = 2.29 Å; a shorter one is a near-singular lattice.
- :data:`MIN_DISTANCE_FRACTION` = 0.5: two atoms closer than half the sum of their covalent
  radii (Cordero et al., Dalton Trans. 2008, 2832, as tabulated in ``ase.data``) are a
  mistake (bonds are ≈ 1.0 of that sum; H₂'s 0.74 Å is 1.2 × (0.31 + 0.31) Å).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.core.errors import InputError

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "MIN_DISTANCE_FRACTION",
    "MIN_LATTICE_TRANSLATION",
    "MIN_VOLUME_PER_ATOM",
    "AtomsTooCloseError",
    "NonPeriodicStructureError",
    "PartialOccupancyError",
    "StructureError",
    "StructureFileError",
    "UnknownSpeciesError",
    "check_distances",
    "check_ordered",
    "check_periodic",
    "covalent_radius",
    "read_structure_file",
    "validate_structure",
]

#: Smallest accepted volume per site (Å³); see the module docstring.
MIN_VOLUME_PER_ATOM: float = 2.0
#: Shortest accepted lattice translation (Å); see the module docstring.
MIN_LATTICE_TRANSLATION: float = 1.0
#: Atoms closer than this fraction of the sum of their covalent radii are rejected.
MIN_DISTANCE_FRACTION: float = 0.5
#: Sites listed by name in an error message (the rest are counted).
_MAX_LISTED = 3


class StructureError(InputError):
    """A structure that no stage can compute (the base of this module's errors)."""


class StructureFileError(StructureError):
    """A structure file that does not exist or holds no readable crystal structure."""


class NonPeriodicStructureError(StructureError):
    """No usable 3-D lattice: a molecule, a slab, or a degenerate or near-singular lattice."""


class PartialOccupancyError(StructureError):
    """Sites with partial occupancies or mixed species (a disordered structure)."""


class UnknownSpeciesError(StructureError):
    """A site whose species is not a chemical element (a dummy species such as ``X``)."""


class AtomsTooCloseError(StructureError):
    """Two atoms closer than :data:`MIN_DISTANCE_FRACTION` of their covalent radii's sum."""


def covalent_radius(atomic_number: int) -> float:
    """Return the covalent radius of an element (Å).

    Parameters
    ----------
    atomic_number
        Z, 1–118.

    Returns
    -------
    float
        ``ase.data.covalent_radii[Z]`` (Cordero et al. 2008; ASE's placeholder 0.2 Å for
        elements without a tabulated value, Z > 96).
    """
    from ase.data import covalent_radii

    return float(covalent_radii[int(atomic_number)])


def read_structure_file(path: str | Path) -> Structure:
    """Read a crystal structure from a file, with a readable error when that fails.

    pymatgen reads the file first (CIF, POSCAR, ``.json``, …); a format pymatgen does not know
    by its extension is read by ASE (extxyz, ``.traj``, …). The structure is not validated
    here (:func:`validate_structure` does that).

    Parameters
    ----------
    path
        Structure file.

    Returns
    -------
    pymatgen.core.Structure
        The file's (first) structure, Å.

    Raises
    ------
    StructureFileError
        If the file does not exist or holds no readable structure; the message names the
        file and the problem (e.g. a CIF without an ``_atom_site_label`` column).
    NonPeriodicStructureError
        If the file holds atoms without a periodic lattice (e.g. an XYZ molecule).
    """
    from pymatgen.core import Structure

    path = Path(path)
    if not path.is_file():
        raise StructureFileError(f"Structure file {path} does not exist.")
    try:
        return Structure.from_file(path)
    except KeyError as exc:
        raise StructureFileError(_missing_key_message(path, exc)) from exc
    except ValueError as exc:
        if "Unrecognized extension" not in str(exc):
            raise StructureFileError(_unreadable_message(path, exc)) from exc
        return _read_with_ase(path, exc)
    except Exception as exc:
        raise StructureFileError(_unreadable_message(path, exc)) from exc


def _unreadable_message(path: Path, exc: BaseException) -> str:
    """Return the message of a file pymatgen cannot read."""
    reason = str(exc).strip().replace("\n", " ") or type(exc).__name__
    return (
        f"cannot read a crystal structure from {path}: {type(exc).__name__}: {reason}. Give a "
        "CIF, a POSCAR or any format pymatgen or ASE reads."
    )


def _missing_key_message(path: Path, exc: KeyError) -> str:
    """Return the message of a CIF that lacks an entry pymatgen needs (a bare KeyError)."""
    key = str(exc.args[0]) if exc.args else "?"
    if key.startswith("_atom_site"):
        return (
            f"The CIF {path} has no {key} column in its atom_site loop, which pymatgen needs "
            f"to read the sites: add a {key} column (one unique name per site, e.g. Si1, Si2) "
            "to the loop_ of _atom_site_ entries, or re-export the file with VESTA or ASE."
        )
    return (
        f"cannot read a crystal structure from {path}: the file lacks the entry {key!r} that "
        "pymatgen needs; add it or re-export the file with VESTA or ASE."
    )


def _read_with_ase(path: Path, pymatgen_error: Exception) -> Structure:
    """Read a file pymatgen does not know by its extension with ASE."""
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        atoms = ase.io.read(path)
    except Exception as exc:
        raise StructureFileError(
            f"cannot read a crystal structure from {path}: pymatgen does not know the format "
            f"({pymatgen_error}) and ASE cannot read it ({type(exc).__name__}: {exc}). Give a "
            "CIF, a POSCAR or an extended XYZ file with a Lattice."
        ) from exc
    if isinstance(atoms, list):
        atoms = atoms[0]
    if not all(atoms.pbc) or atoms.cell.rank < 3:  # noqa: PLR2004  (three lattice vectors)
        raise NonPeriodicStructureError(
            f"{path} holds {len(atoms)} atoms without a 3-D periodic lattice (a molecule or "
            f"cluster; periodic along {_pbc_text(atoms.pbc)}): phonons need a crystal. Give a "
            "CIF or POSCAR of the crystal, or an extended XYZ file with a Lattice."
        )
    return AseAtomsAdaptor.get_structure(atoms)


def _pbc_text(pbc: object) -> str:
    """Return which axes are periodic, e.g. ``"a, b"`` or ``"no axis"``."""
    axes = [axis for axis, periodic in zip("abc", np.atleast_1d(pbc), strict=False) if periodic]
    return ", ".join(axes) or "no axis"


def validate_structure(structure: Structure) -> Structure:
    """Run every structure check: periodic lattice, ordered real elements, atoms apart.

    Parameters
    ----------
    structure
        The user's structure (Å).

    Returns
    -------
    pymatgen.core.Structure
        The same structure, unchanged.

    Raises
    ------
    NonPeriodicStructureError
        See :func:`check_periodic`.
    PartialOccupancyError, UnknownSpeciesError
        See :func:`check_ordered`.
    AtomsTooCloseError
        See :func:`check_distances`.
    StructureError
        If the structure has no sites.
    """
    check_periodic(structure)
    check_ordered(structure)
    check_distances(structure)
    return structure


def check_periodic(structure: Structure) -> None:
    """Raise unless a structure has a usable 3-D periodic lattice.

    Parameters
    ----------
    structure
        A pymatgen ``Structure`` (a ``Molecule`` is rejected).

    Raises
    ------
    NonPeriodicStructureError
        For a molecule (no lattice), periodicity along fewer than three axes, non-finite
        lattice vectors or coordinates, a volume per site below :data:`MIN_VOLUME_PER_ATOM`
        (degenerate or near-singular lattice), or a lattice translation shorter than
        :data:`MIN_LATTICE_TRANSLATION`.
    StructureError
        If the structure has no sites.
    """
    formula = _formula(structure)
    lattice = getattr(structure, "lattice", None)
    if lattice is None:
        raise NonPeriodicStructureError(
            f"{formula} is a molecule ({type(structure).__name__}, no lattice): phonons need a "
            "crystal; give a periodic Structure (CIF, POSCAR)."
        )
    if len(structure) == 0:
        raise StructureError("The structure has no sites; give a crystal with atoms.")
    pbc = getattr(lattice, "pbc", (True, True, True))
    if not all(pbc):
        raise NonPeriodicStructureError(
            f"{formula} is periodic only along {_pbc_text(pbc)} (a slab, wire or molecule): "
            "phonons of a crystal need periodicity along a, b and c."
        )
    matrix = np.asarray(lattice.matrix, dtype=float)
    if not np.isfinite(matrix).all() or not np.isfinite(structure.frac_coords).all():
        raise NonPeriodicStructureError(
            f"{formula} has non-finite lattice vectors or coordinates; fix the file."
        )
    volume_per_atom = abs(float(np.linalg.det(matrix))) / len(structure)
    if not volume_per_atom >= MIN_VOLUME_PER_ATOM:
        raise NonPeriodicStructureError(
            f"{formula} has a degenerate or near-singular lattice: {volume_per_atom:.3g} Å³ "
            f"per atom (at least {MIN_VOLUME_PER_ATOM} Å³ expected; lattice lengths "
            f"{_rounded(lattice.abc)} Å, angles {_rounded(lattice.angles)}°). Check the "
            "lattice vectors and their unit (Å)."
        )
    shortest = _shortest_translation(matrix)
    if not shortest >= MIN_LATTICE_TRANSLATION:
        raise NonPeriodicStructureError(
            f"{formula} has a near-singular lattice: a lattice translation of only "
            f"{shortest:.3g} Å (at least {MIN_LATTICE_TRANSLATION} Å expected; lattice "
            f"lengths {_rounded(lattice.abc)} Å, angles {_rounded(lattice.angles)}°). Check "
            "the lattice vectors and their unit (Å)."
        )


def _shortest_translation(matrix: np.ndarray) -> float:
    """Return the shortest lattice translation (Å) of an LLL-reduced basis and its sums."""
    from pymatgen.core import Lattice

    reduced = Lattice(matrix).get_lll_reduced_lattice().matrix
    combos = np.array([c for c in itertools.product((-1, 0, 1), repeat=3) if any(c)])
    return float(np.linalg.norm(combos @ reduced, axis=1).min())


def check_ordered(structure: Structure) -> None:
    """Raise unless every site holds exactly one chemical element with occupancy 1.

    Parameters
    ----------
    structure
        A periodic structure.

    Raises
    ------
    PartialOccupancyError
        Naming the disordered sites and how to order the structure.
    UnknownSpeciesError
        If a site's species is not an element (e.g. pymatgen's ``DummySpecies``).
    """
    from pymatgen.core import Element

    disordered = [i for i, site in enumerate(structure) if not site.is_ordered]
    if disordered:
        listed = "; ".join(
            f"site {i} ({_occupancy_text(structure[i])})" for i in disordered[:_MAX_LISTED]
        )
        more = f" and {len(disordered) - _MAX_LISTED} more" if len(disordered) > _MAX_LISTED else ""
        raise PartialOccupancyError(
            f"{_formula(structure)} has partial occupancies: {listed}{more}. DFT and MACE need "
            "one element per site: order it first (pymatgen's "
            "OrderDisorderedStructureTransformation or EnumerateStructureTransformation on a "
            "supercell, or Structure.replace_species for a single choice)."
        )
    for i, site in enumerate(structure):
        symbol = getattr(site.specie, "symbol", str(site.specie))
        if not Element.is_valid_symbol(symbol):
            raise UnknownSpeciesError(
                f"Site {i} of {_formula(structure)} holds {site.specie!s}, not a chemical "
                "element; replace it with an element (Structure.replace_species)."
            )


def _occupancy_text(site: object) -> str:
    """Return a site's species and occupancies, e.g. ``"Fe:0.5, Ni:0.5"``."""
    return ", ".join(f"{sp}:{occu:.3g}" for sp, occu in site.species.items())


def check_distances(structure: Structure, fraction: float = MIN_DISTANCE_FRACTION) -> None:
    """Raise if two atoms are closer than ``fraction`` of the sum of their covalent radii.

    Distances include periodic images (an atom and its own image too), computed with
    pymatgen's ``get_neighbor_list`` on the LLL-reduced cell (so a skewed basis does not
    blow up the number of images).

    Parameters
    ----------
    structure
        A periodic, ordered structure (:func:`check_periodic`, :func:`check_ordered`).
    fraction
        Fraction of the sum of the two covalent radii (:func:`covalent_radius`) below which
        a pair is rejected.

    Raises
    ------
    AtomsTooCloseError
        Naming the closest such pair (sites, elements), their distance and the threshold.
    """
    radii = np.array([covalent_radius(site.specie.Z) for site in structure])
    cutoff = fraction * 2 * float(radii.max())
    reduced = structure.get_reduced_structure(reduction_algo="LLL")
    centres, neighbours, images, distances = reduced.get_neighbor_list(cutoff, exclude_self=False)
    # keep duplicated sites (distance 0, other index), drop each atom's distance to itself
    others = (centres != neighbours) | np.any(images != 0, axis=1)
    centres, neighbours, images, distances = (
        centres[others],
        neighbours[others],
        images[others],
        distances[others],
    )
    if len(distances) == 0:
        return
    limits = fraction * (radii[centres] + radii[neighbours])
    worst = int(np.argmin(distances / limits))
    if distances[worst] >= limits[worst]:
        return
    i, j = int(centres[worst]), int(neighbours[worst])
    what = _pair_text(structure, i, j, float(distances[worst]), image=bool(np.any(images[worst])))
    raise AtomsTooCloseError(
        f"Atoms too close in {_formula(structure)}: {what}, less than {fraction} × the sum of "
        f"their covalent radii ({radii[i]:.2f} + {radii[j]:.2f} Å) = {limits[worst]:.3f} Å. "
        "Check the coordinates: a duplicated site, fractional vs Cartesian coordinates, or "
        "Bohr vs Å."
    )


def _pair_text(structure: Structure, i: int, j: int, distance: float, *, image: bool) -> str:
    """Return e.g. ``"sites 0 (Si) and 1 (Si) are 0.110 Å apart"`` for a message."""
    si, sj = structure[i].specie.symbol, structure[j].specie.symbol
    if i == j:
        return f"site {i} ({si}) is {distance:.3f} Å from its own periodic image"
    where = " (periodic image)" if image else ""
    return f"sites {i} ({si}) and {j} ({sj}) are {distance:.3f} Å apart{where}"


def _formula(structure: object) -> str:
    """Return a structure's formula for messages (never raises)."""
    try:
        return str(structure.composition.reduced_formula)
    except Exception:  # noqa: BLE001  (a message must not fail on an odd input)
        return "The structure"


def _rounded(values: object) -> list[float]:
    """Return values rounded to 3 decimals for messages."""
    return [round(float(v), 3) if math.isfinite(float(v)) else float(v) for v in values]
