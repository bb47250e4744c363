"""Perturbations of the fine-tuning data protocol (paper §4.2) and of off-equilibrium sets.

Each rattled configuration of the protocol is made as: supercell → hiphive Monte Carlo
rattle (:func:`mc_rattle`) → lattice jitter (:func:`jitter_lattice`, ±2 % on lengths and
angles) → isotropic volume scaling. :func:`strain_and_rattle` perturbs structures outside
the protocol (stand-in and replay sets). Lengths in Å.
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Lattice, Structure

from mlip_finetune.data.supercells import shortest_distance

#: Default ``d_min`` of :func:`mc_rattle` as a fraction of the shortest interatomic distance.
D_MIN_FRACTION: float = 0.8
#: Width of hiphive's error-function acceptance as a fraction of ``d_min``; its centre is put
#: two widths above ``d_min`` so that ``d_min`` acts as a hard floor.
MC_RATTLE_WIDTH_FRACTION: float = 0.05
#: Monte Carlo cycles of the hiphive rattle (hiphive's own default).
MC_RATTLE_N_ITER: int = 10
#: Rattles tried (with derived seeds) before :class:`RattleError` is raised.
MC_RATTLE_MAX_TRIES: int = 20


class RattleError(ValueError):
    """The Monte Carlo rattle could not respect the minimum interatomic distance."""


def mc_rattle(
    structure: Structure,
    amplitude: float = 0.1,
    d_min: float | None = None,
    seed: int = 42,
) -> Structure:
    """Displace atoms by hiphive's Monte Carlo rattle (paper §4.2).

    Calls ``hiphive.structure_generation.rattle.mc_rattle`` with ``n_iter`` =
    :data:`MC_RATTLE_N_ITER` cycles and a per-move standard deviation
    ``amplitude / sqrt(3 * n_iter)``, so that the root-mean-square displacement length
    ``sqrt(mean_i |u_i|^2)`` is about ``amplitude`` (hiphive: displacements grow as
    ``sqrt(n_iter) * rattle_std`` per Cartesian component). hiphive accepts a move with
    probability ``(1 + erf((d - centre) / width)) / 2`` for the closest distance ``d``; here
    ``width = 0.05 d_min`` (:data:`MC_RATTLE_WIDTH_FRACTION`) and ``centre = d_min + 2 width``,
    so a move to ``d_min`` is accepted with probability 0.2 %. A result that still has a pair
    closer than ``d_min`` is discarded and the rattle repeated with a derived seed (up to
    :data:`MC_RATTLE_MAX_TRIES` times): the returned structure has no pair closer than
    ``d_min``.

    Parameters
    ----------
    structure
        Structure to rattle (not modified).
    amplitude
        Target RMS displacement length (Å); the paper's "mode amplitude of ~0.1 Å".
    d_min
        Hard minimum interatomic distance (Å). ``None`` uses :data:`D_MIN_FRACTION` (0.8)
        times the shortest interatomic distance of ``structure``.
    seed
        Seed of hiphive's ``numpy.random.RandomState``; same seed, same displacements.

    Returns
    -------
    pymatgen.core.Structure
        New structure with the same lattice and species, displaced Cartesian positions.

    Raises
    ------
    ValueError
        If ``amplitude`` is not positive.
    RattleError
        If hiphive finds no accepted move, or no rattle respecting ``d_min`` was found.
    """
    from hiphive.structure_generation.rattle import mc_rattle as hiphive_mc_rattle
    from pymatgen.io.ase import AseAtomsAdaptor

    if amplitude <= 0:
        raise ValueError(f"rattle amplitude must be positive, got {amplitude} Å")
    if d_min is None:
        d_min = D_MIN_FRACTION * shortest_distance(structure)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    rattle_std = amplitude / math.sqrt(3 * MC_RATTLE_N_ITER)
    width = MC_RATTLE_WIDTH_FRACTION * d_min
    retry_seeds = np.random.default_rng(seed).integers(1, 2**31 - 1, MC_RATTLE_MAX_TRIES - 1)
    for attempt_seed in (seed, *retry_seeds):
        try:
            displacements = hiphive_mc_rattle(
                atoms,
                rattle_std,
                d_min + 2.0 * width,
                width=width,
                n_iter=MC_RATTLE_N_ITER,
                seed=int(attempt_seed),
            )
        except Exception as exc:  # hiphive raises a bare Exception when stuck
            raise RattleError(
                f"hiphive's Monte Carlo rattle found no accepted move with d_min={d_min:.3f} Å "
                f"({exc}); lower d_min"
            ) from exc
        rattled = Structure(
            structure.lattice,
            structure.species,
            structure.cart_coords + displacements,
            coords_are_cartesian=True,
            to_unit_cell=True,
        )
        if shortest_distance(rattled) >= d_min:
            return rattled
    raise RattleError(
        f"no Monte Carlo rattle of {structure.composition.reduced_formula} with amplitude "
        f"{amplitude} Å kept all distances above d_min={d_min:.3f} Å "
        f"in {MC_RATTLE_MAX_TRIES} tries; lower d_min or the amplitude"
    )


def jitter_lattice(
    structure: Structure,
    max_fraction: float = 0.02,
    rng: np.random.Generator | int | None = None,
) -> Structure:
    """Scale each lattice length and angle by an independent random factor (paper §4.2).

    Each of a, b, c, alpha, beta, gamma is multiplied by a factor drawn uniformly from
    ``[1 - max_fraction, 1 + max_fraction]`` ("randomly scaling the angles and vectors within
    ±2 %"); fractional coordinates are kept. The new lattice is built with
    ``Lattice.from_parameters``, so its Cartesian orientation is pymatgen's standard one.

    Parameters
    ----------
    structure
        Structure to perturb (not modified).
    max_fraction
        Largest relative change of a length or an angle, in [0, 0.2).
    rng
        NumPy generator, or a seed for ``numpy.random.default_rng``.

    Returns
    -------
    pymatgen.core.Structure
        New structure on the perturbed lattice.

    Raises
    ------
    ValueError
        If ``max_fraction`` is outside [0, 0.2) or the perturbed angles give no valid cell.
    """
    if not 0 <= max_fraction < 0.2:  # noqa: PLR2004  (beyond 20 % this is no longer a jitter)
        raise ValueError(f"max_fraction must be in [0, 0.2), got {max_fraction}")
    rng = np.random.default_rng(rng)
    factors = rng.uniform(1.0 - max_fraction, 1.0 + max_fraction, size=6)
    parameters = np.array([*structure.lattice.abc, *structure.lattice.angles]) * factors
    lattice = Lattice.from_parameters(*parameters)
    if not np.isfinite(lattice.volume) or lattice.volume <= 0:
        raise ValueError(f"jittered lattice parameters {parameters.tolist()} give no valid cell")
    return Structure(lattice, structure.species, structure.frac_coords)


def strain_and_rattle(
    structure: Structure, rng: np.random.Generator, max_strain: float, max_rattle: float
) -> Structure:
    """Apply a random symmetric strain and a Gaussian rattle to a structure.

    Used for off-equilibrium structures outside the paper's protocol (the stand-in's and the
    replay set's), not for the fine-tuning frames (those use :func:`mc_rattle`).

    Parameters
    ----------
    structure
        Input structure (not modified).
    rng
        Random generator.
    max_strain
        Strain components uniform in ``[-max_strain, max_strain]``, symmetrised.
    max_rattle
        Gaussian σ (Å) drawn uniformly in ``[0, max_rattle]``, then applied to every
        Cartesian coordinate.

    Returns
    -------
    pymatgen.core.Structure
        Deformed copy, same species order.
    """
    strain = rng.uniform(-max_strain, max_strain, size=(3, 3))
    deformation = np.eye(3) + 0.5 * (strain + strain.T)
    sigma = rng.uniform(0.0, max_rattle)
    coords = structure.cart_coords @ deformation + rng.normal(0.0, sigma, (len(structure), 3))
    return Structure(
        Lattice(structure.lattice.matrix @ deformation),
        structure.species,
        coords,
        coords_are_cartesian=True,
    )


def scale_volume(structure: Structure, fraction: float) -> Structure:
    """Scale a cell isotropically to ``V' = V (1 + fraction)`` (paper §4.2).

    Parameters
    ----------
    structure
        Structure to scale (not modified).
    fraction
        Relative volume change, e.g. ``-0.05`` for -5 %.

    Returns
    -------
    pymatgen.core.Structure
        New structure with the same fractional coordinates and angles.

    Raises
    ------
    ValueError
        If ``fraction <= -1``.
    """
    if fraction <= -1:
        raise ValueError(f"volume fraction must be > -1, got {fraction}")
    scaled = structure.copy()
    scaled.scale_lattice(structure.volume * (1.0 + fraction))
    return scaled
