"""Equation of state: scaled volumes, fixed-volume relaxations, Birch–Murnaghan fit (paper §4.5).

Protocol (paper §4.1 "Equation of state" and §4.5): the equilibrium volume is scaled from
−5 % to +5 % in steps of 1 % (11 points), atoms are relaxed at each fixed volume and E(V) is
fitted with the third-order Birch–Murnaghan equation (SI eq. 5) through pymatgen's
``EOS("birch_murnaghan")``. Points far off the curve are dropped by the documented rule of
:func:`eos_document_from_energies` (the paper excludes such ML outliers without giving a
rule).

The work is split so that ML models and DFT share the analysis:

- :func:`eos_structures` builds the scaled structures (pure);
- :func:`eos_document_from_energies` fits their energies (pure), whoever computed them;
- :func:`eos_from_calculator` relaxes and evaluates them with an ASE calculator.

Relaxation at fixed volume moves the atoms only, in a cell scaled isotropically from the
equilibrium one, as atomate2's EOS workflows do (VASP ``ISIF = 2``, force fields
``relax_cell=False``) and as the paper says ("atomic relaxation at fixed volume"); our DFT
engines' ``relax(relax_cell=False)`` does the same. ``relax_cell_shape=True`` also relaxes
the cell shape at constant volume (ASE ``FrechetCellFilter(constant_volume=True)``), which
differs from the DFT reference protocol for non-cubic cells.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.core.relax import Optimizer, relax_structure
from mlip_finetune.schemas.properties import EOSDocument, EOSOutlier
from mlip_finetune.units import EV_PER_A3_TO_GPA, EV_TO_MEV

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: Relative volume changes V/V_eq − 1 of the EOS points: −5 % … +5 % in 1 % steps (paper §4.1).
DEFAULT_VOLUME_STRAINS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(-5, 6))
#: Fewest points a Birch–Murnaghan fit (4 parameters) is accepted with.
MIN_EOS_POINTS: int = 5
#: Outlier rule: the kept points must lie within this many times their median absolute
#: residual of the fit …
DEFAULT_OUTLIER_FACTOR: float = 10.0
#: … and this floor (meV/atom), so that noise-free smooth curves keep all points.
DEFAULT_OUTLIER_FLOOR_MEV: float = 0.5
#: Most points the outlier rule may drop.
DEFAULT_MAX_OUTLIERS: int = 2
#: Force threshold of the fixed-volume relaxations (eV/Å), the paper's elastic threshold.
DEFAULT_FMAX: float = 1e-3


class EOSFitError(ValueError):
    """The E(V) data cannot give a physical Birch–Murnaghan fit."""


@dataclass(frozen=True)
class FixedVolumeRelaxation:
    """Result of :func:`relax_at_fixed_volume`.

    Attributes
    ----------
    structure
        Relaxed structure (Å), same volume as the input.
    energy
        Potential energy (eV) at the end.
    stress
        Stress (3×3, eV/Å³, ASE sign convention, tensile > 0) at the end, or ``None`` if
        not requested.
    converged
        Whether ``fmax`` was reached within ``max_steps``.
    n_steps
        Optimiser steps taken.
    """

    structure: Structure
    energy: float
    stress: np.ndarray | None
    converged: bool
    n_steps: int


def relax_at_fixed_volume(
    structure: Structure,
    calculator: Calculator,
    *,
    fmax: float = DEFAULT_FMAX,
    max_steps: int = 2000,
    optimizer: Optimizer = "BFGS",
    relax_cell_shape: bool = False,
    fix_symmetry: bool = True,
    compute_stress: bool = False,
) -> FixedVolumeRelaxation:
    """Relax atomic positions (optionally the cell shape) at fixed volume with ASE.

    Parameters
    ----------
    structure
        Structure (Å); its volume is kept.
    calculator
        ASE calculator giving energy (eV), forces (eV/Å) and, if needed, stress (eV/Å³).
    fmax
        Force threshold (eV/Å); with ``relax_cell_shape`` also on the filter's stress term.
    max_steps
        Maximum optimiser steps (paper §4.6 caps ML relaxations at 2000).
    optimizer
        ``"BFGS"`` or ``"FIRE"`` (ASE optimisers).
    relax_cell_shape
        ``False``: positions only, fixed cell (atomate2 EOS/elastic protocol, VASP
        ``ISIF = 2``). ``True``: also the cell shape, at constant volume, through
        ``ase.filters.FrechetCellFilter(constant_volume=True)``.
    fix_symmetry
        Keep the space group of ``structure`` (``ase.constraints.FixSymmetry``); the paper
        forbids symmetry lowering during relaxations.
    compute_stress
        Also return the final stress.

    Returns
    -------
    FixedVolumeRelaxation
        Relaxed structure, energy (eV), stress (eV/Å³ or ``None``), convergence, steps.
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    optimizers = {"BFGS": BFGS, "FIRE": FIRE}
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    if fix_symmetry:
        atoms.set_constraint(FixSymmetry(atoms))
    target = FrechetCellFilter(atoms, constant_volume=True) if relax_cell_shape else atoms
    dyn = optimizers[optimizer](target, logfile=None)
    converged = bool(dyn.run(fmax=fmax, steps=max_steps))
    atoms.set_constraint()
    energy = float(atoms.get_potential_energy())
    stress = np.array(atoms.get_stress(voigt=False), dtype=float) if compute_stress else None
    return FixedVolumeRelaxation(
        structure=AseAtomsAdaptor.get_structure(atoms),
        energy=energy,
        stress=stress,
        converged=converged,
        n_steps=int(dyn.nsteps),
    )


def eos_structures(
    structure: Structure, volume_strains: Sequence[float] = DEFAULT_VOLUME_STRAINS
) -> list[Structure]:
    """Scale a structure isotropically to the EOS volumes.

    Parameters
    ----------
    structure
        Equilibrium structure (Å), volume V_eq.
    volume_strains
        Relative volume changes; point i has volume ``V_eq·(1 + volume_strains[i])``.
        Default −5 % … +5 % in 1 % steps (paper §4.1).

    Returns
    -------
    list of pymatgen.core.Structure
        One structure per strain, same fractional coordinates, lattice scaled by
        ``(1 + s)^(1/3)`` (pymatgen ``Structure.scale_lattice``). Regenerating with the same
        arguments gives the same list, so external energies can be matched by index.

    Raises
    ------
    ValueError
        If a strain is ≤ −1 (non-positive volume) or two strains coincide.
    """
    strains = [float(s) for s in volume_strains]
    if any(s <= -1 for s in strains):
        raise ValueError(f"volume strains must be > -1, got {strains}")
    if len(set(strains)) != len(strains):
        raise ValueError(f"volume strains must be distinct, got {strains}")
    volume = structure.volume
    return [structure.copy().scale_lattice(volume * (1.0 + s)) for s in strains]


@dataclass(frozen=True)
class _Fit:
    e0: float
    b0: float  # eV/Å³
    b1: float
    v0: float
    func: object

    def __call__(self, volumes: np.ndarray) -> np.ndarray:
        return np.asarray(self.func(volumes), dtype=float)


def _bm_fit(volumes: np.ndarray, energies: np.ndarray) -> _Fit:
    """Birch–Murnaghan fit through pymatgen; pymatgen's failures become EOSFitError."""
    import warnings

    from pymatgen.analysis.eos import EOS, EOSError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = EOS("birch_murnaghan").fit(volumes, energies)
    except (EOSError, ValueError, TypeError, np.linalg.LinAlgError) as err:
        raise EOSFitError(f"Birch–Murnaghan fit failed: {err}") from err
    return _Fit(float(fit.e0), float(fit.b0), float(fit.b1), float(fit.v0), fit.func)


def _threshold(residuals_mev: np.ndarray, factor: float, floor: float) -> float:
    """Outlier threshold (meV/atom) from the residuals of the least-trimmed fit."""
    return max(factor * float(np.median(np.abs(residuals_mev))), floor)


def _best_trimmed_fits(
    volumes: np.ndarray, energies: np.ndarray, max_drops: int
) -> list[tuple[list[int], list[int], np.ndarray]]:
    """For m = 0 … max_drops: (kept, dropped, residuals in meV/atom) of the best m-trimmed fit.

    "Best" is the smallest sum of squared residuals over all ways of leaving out m points;
    a level where every fit fails is skipped.
    """
    indices = range(len(volumes))
    best = []
    for m in range(max_drops + 1):
        trials = []
        for dropped in itertools.combinations(indices, m):
            kept = [i for i in indices if i not in dropped]
            try:
                fit = _bm_fit(volumes[kept], energies[kept])
            except EOSFitError:
                continue
            residuals = (energies[kept] - fit(volumes[kept])) * EV_TO_MEV
            trials.append((float(np.sum(residuals**2)), kept, list(dropped), residuals))
        if trials:
            _, kept, dropped, residuals = min(trials, key=lambda trial: trial[0])
            best.append((kept, dropped, residuals))
    return best


def _select_points(
    volumes: np.ndarray,
    energies: np.ndarray,
    max_drops: int,
    *,
    factor: float,
    floor: float,
    label: str,
) -> tuple[list[int], list[int], float]:
    """Kept indices, dropped indices and threshold (meV/atom) of the outlier rule."""
    trimmed = _best_trimmed_fits(volumes, energies, max_drops)
    if not trimmed:
        raise EOSFitError(f"Birch–Murnaghan fit failed for {label} on every subset of points")
    threshold = _threshold(trimmed[-1][2], factor, floor)
    for kept, dropped, residuals in trimmed:
        if np.abs(residuals).max() <= threshold:
            return kept, dropped, threshold
    logger.warning(
        f"EOS {label}: points still off the curve by more than {threshold:.3g} meV/atom "
        f"after the maximum of {max_drops} exclusions"
    )
    kept, dropped, _ = trimmed[-1]
    return kept, dropped, threshold


def eos_document_from_energies(
    volumes: Sequence[float],
    energies: Sequence[float],
    n_atoms: int,
    label: str,
    *,
    structure: Structure | None = None,
    volume_strains: Sequence[float] | None = None,
    outlier_factor: float = DEFAULT_OUTLIER_FACTOR,
    outlier_floor: float = DEFAULT_OUTLIER_FLOOR_MEV,
    max_outliers: int = DEFAULT_MAX_OUTLIERS,
    min_points: int = MIN_EOS_POINTS,
    relax_converged: Sequence[bool] | None = None,
    relax_cell_shape: bool | None = None,
    wall_time_s: float = 0.0,
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> EOSDocument:
    """Fit E(V) with Birch–Murnaghan after dropping outliers by a fixed rule.

    The fit is pymatgen's ``EOS("birch_murnaghan")`` (third order, PRB 70, 224107) on
    per-atom volumes and energies: ``E = E0 + 9 B0 V0/16 (η² − 1)² (6 + B0'(η² − 1) − 4η²)``
    with ``η = (V0/V)^(1/3)``. The paper's SI eq. 5 prints ``η = (V/V0)^(1/3)``; the standard
    form (Birch 1947, and pymatgen, which atomate2 uses) has the inverse ratio. Both give
    the same B0 at second order; B0' follows the standard form.

    Outlier rule (paper §4.5 excludes "individual E(V) points far from the physically
    expected curve" without stating how): the fewest exclusions that leave a consistent
    curve, judged against the noise of a least-trimmed-squares fit.

    1. For m = 0, 1, …, M (``M = max_outliers``, but never fewer than ``min_points`` points
       kept), the best m-trimmed fit is the Birch–Murnaghan fit with the smallest sum of
       squared residuals over all ways of leaving out m points (exhaustive: at most
       1 + 11 + 55 fits for 11 points and M = 2).
    2. Noise scale: the median absolute residual ``s`` of the best M-trimmed fit, which up
       to M outliers cannot inflate. Threshold ``t = max(outlier_factor · s,
       outlier_floor)`` (meV/atom).
    3. The smallest m whose best m-trimmed fit has every kept point within ``t`` wins; its
       left-out points are excluded. Trying every subset, rather than dropping the worst
       point of a fit through everything, keeps a far-off point from pulling the curve
       towards itself and away from good points (several outliers, end points).
    4. If no m ≤ M qualifies, the M-trimmed fit is kept and a warning logged. With more
       than M outliers the noise scale itself is inflated and fewer points may be dropped;
       ``rms_residual`` then shows the remaining scatter.

    Each excluded point is reported with its residual from the final fit (which it took no
    part in) and ``t``.

    Parameters
    ----------
    volumes
        Cell volumes (Å³ per cell), one per point.
    energies
        Total energies (eV per cell), same order.
    n_atoms
        Atoms per cell; volumes and energies are divided by it.
    label
        Who computed the energies.
    structure
        Equilibrium structure, stored in the document.
    volume_strains
        Relative volume changes of the points, stored.
    outlier_factor
        k of the rule (× median absolute residual).
    outlier_floor
        Smallest threshold (meV/atom). 0.5 meV/atom is ~4 % of the E(V) range of a stiff
        metal over ±5 % (Cu: ~13 meV/atom) and far above the noise of a smooth model.
    max_outliers
        Most points dropped (0 disables the rule).
    min_points
        Fewest points accepted for a fit (4 parameters).
    relax_converged, relax_cell_shape, wall_time_s, model_path, model_sha256
        Stored as given.

    Returns
    -------
    EOSDocument
        V0 (Å³/atom), E0 (eV/atom), B0 (GPa), B0', the points, which ones were excluded
        and why, and the RMS residual of the final fit (meV/atom).

    Raises
    ------
    EOSFitError
        If fewer than ``min_points`` points are given, the fit fails, B0 ≤ 0, or V0 lies
        outside the range of the fitted volumes (the minimum is not bracketed).
    ValueError
        If lengths differ, ``n_atoms`` < 1 or a value is not finite.
    """
    vols = np.asarray(volumes, dtype=float)
    ens = np.asarray(energies, dtype=float)
    if vols.shape != ens.shape or vols.ndim != 1:
        raise ValueError(
            f"volumes and energies must be 1-D of equal length, got {vols.shape}, {ens.shape}"
        )
    if n_atoms < 1:
        raise ValueError(f"n_atoms must be >= 1, got {n_atoms}")
    if not (np.all(np.isfinite(vols)) and np.all(np.isfinite(ens))) or np.any(vols <= 0):
        raise ValueError("volumes must be positive and energies finite")
    if len(vols) < min_points:
        raise EOSFitError(
            f"{len(vols)} E(V) points given, a Birch–Murnaghan fit needs at least {min_points}"
        )
    vols, ens = vols / n_atoms, ens / n_atoms

    max_drops = max(0, min(max_outliers, len(vols) - min_points))
    kept, dropped, threshold = _select_points(
        vols, ens, max_drops, factor=outlier_factor, floor=outlier_floor, label=label
    )
    fit = _bm_fit(vols[kept], ens[kept])
    b0_gpa = fit.b0 * EV_PER_A3_TO_GPA
    v_min, v_max = float(vols[kept].min()), float(vols[kept].max())
    if not np.isfinite(b0_gpa) or b0_gpa <= 0:
        raise EOSFitError(f"non-physical Birch–Murnaghan fit for {label}: B0 = {b0_gpa:.4g} GPa")
    if not v_min <= fit.v0 <= v_max:
        raise EOSFitError(
            f"non-physical Birch–Murnaghan fit for {label}: V0 = {fit.v0:.4g} Å³/atom outside "
            f"the sampled range [{v_min:.4g}, {v_max:.4g}] (minimum not bracketed)"
        )
    residuals = (ens - fit(vols)) * EV_TO_MEV
    rms = float(np.sqrt(np.mean(residuals[kept] ** 2)))
    excluded = []
    for i in dropped:
        excluded.append(
            EOSOutlier(
                index=i,
                volume=float(vols[i]),
                energy=float(ens[i]),
                residual=float(residuals[i]),
                threshold=threshold,
                reason=(
                    f"{abs(residuals[i]):.3g} meV/atom off the fit through the other "
                    f"{len(kept)} points, which all lie within {threshold:.3g} meV/atom = "
                    f"max({outlier_factor:g} x median |residual| of the best "
                    f"{max_drops}-point-trimmed fit, {outlier_floor:g} meV/atom)"
                ),
            )
        )
        logger.info(f"EOS {label}: excluded point {i}: {excluded[-1].reason}")
    return EOSDocument(
        label=label,
        structure=structure,
        n_atoms=n_atoms,
        volume_strains=None if volume_strains is None else [float(s) for s in volume_strains],
        volumes=vols.tolist(),
        energies=ens.tolist(),
        included=[i in kept for i in range(len(vols))],
        excluded=excluded,
        outlier_factor=outlier_factor,
        outlier_floor=outlier_floor,
        max_outliers=max_outliers,
        e0=fit.e0,
        v0=fit.v0,
        b0=b0_gpa,
        b0_prime=fit.b1,
        rms_residual=rms,
        relax_converged=None if relax_converged is None else [bool(c) for c in relax_converged],
        relax_cell_shape=relax_cell_shape,
        wall_time_s=wall_time_s,
        model_path=model_path,
        model_sha256=model_sha256,
    )


def eos_from_calculator(
    structure: Structure,
    calculator: Calculator,
    label: str,
    *,
    relax: bool = True,
    volume_strains: Sequence[float] = DEFAULT_VOLUME_STRAINS,
    fmax: float = DEFAULT_FMAX,
    max_steps: int = 2000,
    optimizer: Optimizer = "BFGS",
    relax_cell_shape: bool = False,
    outlier_factor: float = DEFAULT_OUTLIER_FACTOR,
    outlier_floor: float = DEFAULT_OUTLIER_FLOOR_MEV,
    max_outliers: int = DEFAULT_MAX_OUTLIERS,
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> EOSDocument:
    """Equation of state of ``structure`` with an ASE calculator (paper §4.1, §4.5).

    Parameters
    ----------
    structure
        Starting structure (Å).
    calculator
        ASE calculator (MACE, EMT, …) giving energies (eV), forces (eV/Å) and, when
        ``relax``, stresses (eV/Å³).
    label
        Name stored in the document.
    relax
        First relax cell and positions with symmetry kept
        (:func:`~mlip_finetune.core.relax.relax_structure`, same ``fmax``).
    volume_strains
        Relative volume changes (default −5 % … +5 % in 1 % steps).
    fmax, max_steps, optimizer, relax_cell_shape
        Fixed-volume relaxation of every point (:func:`relax_at_fixed_volume`); default
        positions only, as the paper and atomate2.
    outlier_factor, outlier_floor, max_outliers
        Outlier rule of :func:`eos_document_from_energies`.
    model_path, model_sha256
        Recorded in the document.

    Returns
    -------
    EOSDocument
        See :func:`eos_document_from_energies`; ``wall_time_s`` covers relaxations and fit.

    Raises
    ------
    EOSFitError
        See :func:`eos_document_from_energies`.
    """
    start = time.perf_counter()
    if relax:
        structure, converged = relax_structure(
            structure, calculator, fmax=fmax, max_steps=max_steps, optimizer=optimizer
        )
        if not converged:
            logger.warning(f"EOS {label}: equilibrium relaxation did not reach fmax={fmax}")
    energies, converged_list, volumes = [], [], []
    for scaled in eos_structures(structure, volume_strains):
        result = relax_at_fixed_volume(
            scaled,
            calculator,
            fmax=fmax,
            max_steps=max_steps,
            optimizer=optimizer,
            relax_cell_shape=relax_cell_shape,
        )
        volumes.append(result.structure.volume)
        energies.append(result.energy)
        converged_list.append(result.converged)
    return eos_document_from_energies(
        volumes,
        energies,
        len(structure),
        label,
        structure=structure,
        volume_strains=volume_strains,
        outlier_factor=outlier_factor,
        outlier_floor=outlier_floor,
        max_outliers=max_outliers,
        relax_converged=converged_list,
        relax_cell_shape=relax_cell_shape,
        wall_time_s=time.perf_counter() - start,
        model_path=model_path,
        model_sha256=model_sha256,
    )
