"""Replay sets for multi-head fine-tuning (paper §3.1, §4.3).

The paper replays 100 randomly chosen structures of the foundation's training set (MPtrj)
on the foundation's head while the new head learns the material. That set cannot be
downloaded at run time here (DESIGN.md, offline policy), so a replay set is either

- the user's own local file (e.g. a subsample of MPtrj they keep next to the model), randomly
  subsampled to ``n`` structures by :func:`subsample_replay_file`, or
- built by :func:`build_replay_file`: diverse crystal prototypes of the material's elements
  (elemental fcc, bcc, simple cubic, diamond, hcp; rock-salt, CsCl and zinc-blende for
  every element pair), strained and rattled, labelled with the foundation model itself.
  These pseudo-labels carry exactly the knowledge multi-head replay is meant to preserve:
  the foundation's potential-energy surface away from the material.

Either way the file mace reads has ``REF_energy``/``REF_forces``/``REF_stress`` keys
(:mod:`mlip_finetune.fitting.dataset`) on the foundation's energy zero.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.fitting.dataset import ENERGY_KEY, FORCES_KEY, STRESS_KEY, write_extxyz
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA

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


class ReplayFileError(ValueError):
    """A replay file is missing, empty or has no energy/force/stress labels."""


def _full_stress(stress: object) -> np.ndarray:
    """3×3 stress from 9 components or ASE's 6-component Voigt order (xx yy zz yz xz xy)."""
    from ase.stress import voigt_6_to_full_3x3_stress

    values = np.asarray(stress, dtype=float).ravel()
    if values.size == 6:  # noqa: PLR2004
        return voigt_6_to_full_3x3_stress(values)
    return values.reshape(3, 3)


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
    radius = {e: float(e.atomic_radius or 1.5) for e in species}
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
        Passed to :func:`mlip_finetune.data.utils.strain_and_rattle` (Å for the rattle).

    Returns
    -------
    list of pymatgen.core.Structure
        ``n`` structures, each a supercell of at least 4 atoms.

    Raises
    ------
    ValueError
        If ``n`` < 1 or no element is given.
    """
    from mlip_finetune.data.utils import strain_and_rattle

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


def label_with_model(
    structures: Sequence[Structure], model_path: str, label: str = "replay", device: str = "cpu"
) -> list[StaticDocument]:
    """Label structures with a MACE model (energies, forces, stresses).

    Parameters
    ----------
    structures
        Structures to label.
    model_path
        MACE model file.
    label
        Prefix of each document's label (``"<label> i"``).
    device
        Torch device.

    Returns
    -------
    list of StaticDocument
        ``engine = "mace:<file name>"``; stress in GPa, ASE sign.
    """
    from mlip_finetune.calculators import mace_calculator

    calc = mace_calculator(model_path, device=device)
    docs = []
    for i, structure in enumerate(structures):
        atoms = structure.to_ase_atoms()
        atoms.calc = calc
        docs.append(
            StaticDocument(
                label=f"{label} {i}",
                structure=structure,
                energy=float(atoms.get_potential_energy()),
                forces=atoms.get_forces().tolist(),
                stress=(atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA).tolist(),
                engine=f"mace:{Path(model_path).name}",
                settings={},
                kpoints=[],
                wall_time_s=0.0,
                converged=True,
            )
        )
    return docs


def build_replay_file(
    elements: Sequence[str | Element],
    model_path: str,
    path: str | Path,
    *,
    n: int = 100,
    seed: int = 0,
    device: str = "cpu",
) -> Path:
    """Build a replay set labelled by the foundation and write it for mace.

    Parameters
    ----------
    elements
        The material's elements.
    model_path
        Foundation MACE model file (its labels define the replay targets).
    path
        Output extended-XYZ file.
    n, seed
        Number of structures and random seed (:func:`replay_structures`).
    device
        Torch device for labelling.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    structures = replay_structures(elements, n=n, seed=seed)
    return write_extxyz(label_with_model(structures, model_path, device=device), path)


def subsample_replay_file(source: str | Path, path: str | Path, n: int, seed: int = 0) -> Path:
    """Randomly choose ``n`` labelled structures of a user's replay file (paper §4.3).

    Parameters
    ----------
    source
        Any file ASE reads with energies, forces and stresses, either under the ``REF_*``
        keys or as ASE's calculator results (``energy``/``forces``/``stress`` in extxyz).
    path
        Output extended-XYZ file with ``REF_*`` keys.
    n
        Number of structures; all of them when the file holds fewer.
    seed
        Random seed of the choice.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ReplayFileError
        If the file does not exist, holds no structure, or a structure lacks energy, forces
        or stress.
    """
    from ase.io import read, write

    source = Path(source)
    if not source.is_file():
        raise ReplayFileError(f"Replay file {source} does not exist.")
    frames = read(source, index=":")
    if not frames:
        raise ReplayFileError(f"Replay file {source} holds no structure.")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(frames), size=min(n, len(frames)), replace=False))
    out = []
    for i in chosen:
        atoms = frames[i]
        try:
            if ENERGY_KEY in atoms.info:
                energy = atoms.info[ENERGY_KEY]
                forces = atoms.arrays[FORCES_KEY]
                stress = atoms.info[STRESS_KEY]
            else:
                energy = atoms.get_potential_energy()
                forces = atoms.get_forces()
                stress = atoms.get_stress(voigt=False)
        except (KeyError, RuntimeError, AttributeError) as err:
            raise ReplayFileError(
                f"Structure {i} of replay file {source} lacks energy, forces or stress "
                f"({ENERGY_KEY}/{FORCES_KEY}/{STRESS_KEY} or ASE calculator results)."
            ) from err
        labelled = atoms.copy()
        labelled.calc = None
        labelled.info = {ENERGY_KEY: float(energy), "config_type": "replay"}
        labelled.info[STRESS_KEY] = _full_stress(stress)
        labelled.arrays[FORCES_KEY] = np.asarray(forces, dtype=float)
        out.append(labelled)
    path = Path(path)
    write(path, out, format="extxyz")
    return path
