"""Replay sets for multi-head fine-tuning (paper §3.1, §4.3).

The paper replays 100 randomly chosen structures of the foundation's training set (MPtrj)
on the foundation's head while the new head learns the material. That set cannot be
downloaded at run time here (DESIGN.md, offline policy), so a replay set is either

- the user's own local file (e.g. a subsample of MPtrj they keep next to the model), randomly
  subsampled to ``n`` structures by :func:`subsample_replay_file`, or
- built by :func:`build_replay_file`: diverse crystal prototypes of the material's elements
  (elemental fcc, bcc, simple cubic, diamond, hcp; rock-salt, CsCl and zinc-blende for
  every element pair; :func:`mlip_finetune.data.replay.replay_structures`), strained and
  rattled, labelled with the foundation model itself
  (:func:`mlip_finetune.core.labelling.label_with_model`).
  These pseudo-labels carry exactly the knowledge multi-head replay is meant to preserve:
  the foundation's potential-energy surface away from the material.

Either way the file mace reads has ``REF_energy``/``REF_forces``/``REF_stress`` keys
(:mod:`mlip_finetune.fitting.dataset`) on the foundation's energy zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.core.errors import InputError
from mlip_finetune.core.labelling import label_with_model
from mlip_finetune.data.replay import prototype_structures, replay_structures
from mlip_finetune.fitting.dataset import ENERGY_KEY, FORCES_KEY, STRESS_KEY, write_extxyz
from mlip_finetune.schemas.fitting import ReplayInfo

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Element

    from mlip_finetune.schemas.fitting import TrainSettings

__all__ = [
    "ReplayFileError",
    "build_replay_file",
    "label_with_model",
    "prepare_replay_set",
    "prototype_structures",
    "replay_structures",
    "subsample_replay_file",
]


class ReplayFileError(InputError):
    """A replay file is missing, empty or has no energy/force/stress labels."""


def _full_stress(stress: object) -> np.ndarray:
    """3×3 stress from 9 components or ASE's 6-component Voigt order (xx yy zz yz xz xy)."""
    from ase.stress import voigt_6_to_full_3x3_stress

    values = np.asarray(stress, dtype=float).ravel()
    if values.size == 6:  # noqa: PLR2004
        return voigt_6_to_full_3x3_stress(values)
    return values.reshape(3, 3)


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


def prepare_replay_set(
    settings: TrainSettings,
    elements: list[str],
    foundation_model_path: str,
    work_dir: Path,
    device: str,
) -> ReplayInfo:
    """Build or subsample the multi-head replay set into ``work_dir/replay.xyz``.

    Parameters
    ----------
    settings
        ``replay_file`` (the user's file, subsampled) or None (built from prototypes),
        ``n_replay`` structures, ``seed``.
    elements
        The material's elements (for a built set).
    foundation_model_path
        Foundation MACE model file labelling a built set.
    work_dir
        Directory of ``replay.xyz``.
    device
        Torch device for labelling.

    Returns
    -------
    ReplayInfo
        The file, its sha256, its number of structures and where it came from.
    """
    from ase.io import read

    from mlip_finetune.core.provenance import sha256_file

    path = work_dir / "replay.xyz"
    if settings.replay_file is not None:
        subsample_replay_file(settings.replay_file, path, settings.n_replay, seed=settings.seed)
        source = str(Path(settings.replay_file).resolve())
    else:
        build_replay_file(
            elements,
            foundation_model_path,
            path,
            n=settings.n_replay,
            seed=settings.seed,
            device=device,
        )
        source = "built: foundation-labelled prototypes (mlip_finetune.fitting.replay)"
    return ReplayInfo(
        path=str(path.resolve()),
        sha256=sha256_file(path),
        n_structures=len(read(path, index=":")),
        source=source,
    )
