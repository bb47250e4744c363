"""Pure building blocks of the fine-tuning data protocol (paper §4.2).

Each rattled configuration is made as: supercell of the primitive standard cell → hiphive
Monte Carlo rattle → lattice jitter (±2 % on lengths and angles) → isotropic volume scaling →
foundation-model FIRE relaxation at fixed cell → frames picked equally spaced in energy.

Units follow ASE: lengths in Å, energies in eV, forces in eV/Å.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

import numpy as np
from pymatgen.core import Lattice, Structure

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator

#: Default ``d_min`` of :func:`mc_rattle` as a fraction of the shortest interatomic distance.
D_MIN_FRACTION: float = 0.8
#: Width of hiphive's error-function acceptance as a fraction of ``d_min``; its centre is put
#: two widths above ``d_min`` so that ``d_min`` acts as a hard floor.
MC_RATTLE_WIDTH_FRACTION: float = 0.05
#: Monte Carlo cycles of the hiphive rattle (hiphive's own default).
MC_RATTLE_N_ITER: int = 10
#: Distances below this are a site's distance to itself (Å).
_SAME_SITE_TOLERANCE: float = 1e-8
#: Rattles tried (with derived seeds) before :class:`RattleError` is raised.
MC_RATTLE_MAX_TRIES: int = 20


class SupercellError(ValueError):
    """No supercell of the requested protocol exists for a structure."""


class RattleError(ValueError):
    """The Monte Carlo rattle could not respect the minimum interatomic distance."""


class FrameSelectionError(ValueError):
    """A relaxation trajectory cannot provide the requested energy-spaced frames."""


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


class RelaxationTrajectory(NamedTuple):
    """Result of :func:`relax_trajectory`.

    Attributes
    ----------
    energies
        Energy of every recorded step (eV), shape (n_steps + 1,); entry 0 is the start.
    structures
        Structure of every recorded step, same length as ``energies``.
    n_steps
        FIRE steps taken.
    converged
        Whether the largest atomic force fell below ``fmax``.
    final_fmax
        Largest atomic force of the last structure (eV/Å).
    """

    energies: np.ndarray
    structures: list[Structure]
    n_steps: int
    converged: bool
    final_fmax: float


def relax_trajectory(
    structure: Structure,
    calculator: Calculator,
    fmax: float = 1e-4,
    max_steps: int = 2000,
) -> RelaxationTrajectory:
    """Relax atomic positions at fixed cell with ASE's FIRE, recording every step.

    The cell is not relaxed, so the volume scaling of the protocol survives (paper §4.2:
    "relaxed with the FIRE optimizer ... until the forces converged to 1e-4 eV/Å").

    Parameters
    ----------
    structure
        Starting structure (not modified).
    calculator
        ASE calculator giving energy (eV) and forces (eV/Å), e.g. a MACE foundation model.
    fmax
        Force convergence threshold on the largest atomic force (eV/Å).
    max_steps
        Largest number of FIRE steps.

    Returns
    -------
    RelaxationTrajectory
        Energies (eV) and structures of steps 0..n_steps, convergence flag, final max force.
    """
    from ase.optimize import FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    energies: list[float] = []
    positions: list[np.ndarray] = []

    def record() -> None:
        energies.append(float(atoms.get_potential_energy()))
        positions.append(atoms.get_positions())

    optimizer = FIRE(atoms, logfile=None)
    optimizer.attach(record, interval=1)
    converged = bool(optimizer.run(fmax=fmax, steps=max_steps))
    final_fmax = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    structures = [
        Structure(structure.lattice, structure.species, pos, coords_are_cartesian=True)
        for pos in positions
    ]
    return RelaxationTrajectory(
        energies=np.asarray(energies),
        structures=structures,
        n_steps=int(optimizer.nsteps),
        converged=converged,
        final_fmax=final_fmax,
    )


def select_energy_spaced_frames(
    energies: Sequence[float] | np.ndarray,
    n_frames: int = 4,
    fraction: float = 0.9,
) -> list[int]:
    """Pick trajectory steps equally spaced in energy (paper §4.2).

    Targets are ``E_k = E_0 + k / (n_frames - 1) * fraction * (E_end - E_0)`` for
    ``k = 0 .. n_frames - 1``, with ``E_0`` the first and ``E_end`` the last energy ("four
    configurations equally spaced in energy from the starting structure until 90 % of
    convergence"). Frame ``k`` is the first step after frame ``k - 1`` whose energy is at or
    below ``E_k``; FIRE energies are not monotone, hence "first". Frame 0 is always step 0.
    Because ``E_end <= E_k`` for every target, the last step always qualifies, so a
    selection fails only when the trajectory is too short to give distinct steps.

    Parameters
    ----------
    energies
        Energy of every step (eV), shape (n_steps + 1,).
    n_frames
        Number of frames to select, at least 2.
    fraction
        Fraction of the total energy drop spanned by the targets, in (0, 1].

    Returns
    -------
    list of int
        Strictly increasing step indices, ``n_frames`` of them, the first being 0.

    Raises
    ------
    ValueError
        If ``n_frames < 2`` or ``fraction`` is outside (0, 1].
    FrameSelectionError
        If the energy did not decrease along the trajectory, or fewer than ``n_frames``
        distinct steps meet the targets (e.g. a relaxation converged in fewer steps).
    """
    if n_frames < 2:  # noqa: PLR2004  (two points define the energy spacing)
        raise ValueError(f"n_frames must be at least 2, got {n_frames}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    energies = np.asarray(energies, dtype=float)
    if energies.ndim != 1 or energies.size < n_frames:
        raise FrameSelectionError(
            f"a trajectory of {energies.size} steps cannot give {n_frames} distinct frames"
        )
    e_start, e_end = energies[0], energies[-1]
    if not e_end < e_start:
        raise FrameSelectionError(
            f"energy did not decrease along the trajectory ({e_start:.6f} → {e_end:.6f} eV)"
        )
    targets = e_start + np.arange(n_frames) / (n_frames - 1) * fraction * (e_end - e_start)
    selected = [0]
    for k, target in enumerate(targets[1:], start=1):
        later = np.flatnonzero(energies[selected[-1] + 1 :] <= target)
        if later.size == 0:
            raise FrameSelectionError(
                f"only {k} distinct steps of a {energies.size}-step trajectory reach the "
                f"energy targets; {n_frames} frames were requested"
            )
        selected.append(selected[-1] + 1 + int(later[0]))
    return selected


def is_validation_scale(volume_scale: float, validation_volume_scale: float = 0.0) -> bool:
    """Whether a trajectory of this volume scale is validation data (paper §4.2).

    Parameters
    ----------
    volume_scale
        Volume scaling of the trajectory, as a fraction.
    validation_volume_scale
        Volume scaling whose trajectory is held out (0 % in the paper).

    Returns
    -------
    bool
        ``True`` when the two agree to 1e-9.
    """
    return math.isclose(volume_scale, validation_volume_scale, abs_tol=1e-9)


class _HasFrameIndex(Protocol):
    frame_index: int
    split: str


FrameT = TypeVar("FrameT", bound=_HasFrameIndex)


def progressive_training_subsets(frames: Sequence[FrameT]) -> list[list[FrameT]]:
    """Grow the training set from the outermost frames inwards (paper §4.2, last sentences).

    Subset ``k`` holds every training frame with ``frame_index <= k``: subset 0 the starting
    (most distorted) structure of each training trajectory, the last subset all of them.
    Validation frames never appear.

    Parameters
    ----------
    frames
        Frames with ``frame_index`` and ``split`` attributes, e.g.
        :class:`mlip_finetune.schemas.data.TrainingFrame`.

    Returns
    -------
    list of list
        ``max(frame_index) + 1`` subsets, each in the order of ``frames``; empty if there is
        no training frame.
    """
    train = [frame for frame in frames if frame.split == "train"]
    if not train:
        return []
    n_subsets = max(frame.frame_index for frame in train) + 1
    return [[frame for frame in train if frame.frame_index <= k] for k in range(n_subsets)]
