"""Elastic tensor from strain–stress with relaxed internal coordinates (paper §3.4, §4.1).

The paper computes elastic constants with atomate2's ``ElasticMaker`` (force threshold
1 meV/Å, paper §4.1), the same protocol for DFT and ML models (§4.5). This module follows
atomate2 0.1.5 step by step with the same library calls, split so ML and DFT share it:

- :func:`elastic_deformations` gives the strained structures: atomate2's
  ``generate_elastic_deformations`` (``atomate2.common.jobs.elastic``) with its defaults,
  the six strain states of ``get_default_strain_states(2)`` (normal xx, yy, zz and shear
  yz, xz, xy, engineering shear strain 2ε) at magnitudes ``linspace(-0.01, 0.01, 5)``
  without 0, i.e. ±0.5 % and ±1 %, reduced by symmetry (``symprec = 0.1``,
  ``SETTINGS.SYMPREC``);
- :func:`elastic_document_from_stresses` fits their stresses (pure), as atomate2's
  ``ElasticDocument.from_stresses``: strains expanded by symmetry (atomate2's
  ``expand_strains``), Cauchy → second Piola–Kirchhoff stress, pymatgen's
  ``ElasticTensorExpansion.from_diff_fit`` (atomate2's default ``"finite_difference"``)
  and ``ElasticTensor.convert_to_ieee``;
- :func:`elastic_from_calculator` relaxes the bulk (cell + positions), relaxes the atoms of
  every strained cell at fixed cell (atomate2's ``elastic_relax_maker`` has
  ``relax_cell=False``) and runs both with an ASE calculator.

Stress sign convention: every stress here is the physical Cauchy stress in GPa with
tensile > 0, the convention of ASE (which uses eV/Å³) and of pymatgen's ``ElasticTensor``
(``σ = C ε``). VASP prints the opposite sign in kBar (atomate2 multiplies it by −0.1);
convert with :func:`stress_from_ase` or :func:`stress_from_vasp`.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np

from mlip_finetune.core.relax import Optimizer, relax_structure
from mlip_finetune.evaluation.eos import DEFAULT_FMAX, relax_at_fixed_volume
from mlip_finetune.schemas.properties import ElasticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA, KBAR_TO_GPA

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator
    from pymatgen.analysis.elasticity import Deformation
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: Strain magnitudes of atomate2's ``generate_elastic_deformations`` for a 2nd-order tensor:
#: ``np.linspace(-0.01, 0.01, 5)`` with the zero strain removed.
DEFAULT_STRAIN_MAGNITUDES: tuple[float, ...] = (-0.01, -0.005, 0.005, 0.01)
#: atomate2's ``SETTINGS.SYMPREC`` (Å), used for the symmetry reduction and expansion.
DEFAULT_SYMPREC: float = 0.1

FittingMethod = Literal["finite_difference", "independent", "pseudoinverse"]


class ElasticFitError(ValueError):
    """Stresses and deformations cannot give an elastic tensor."""


def stress_from_ase(stress: np.ndarray | Sequence) -> np.ndarray:
    """Convert an ASE stress to the GPa, tensile > 0 convention used here.

    Parameters
    ----------
    stress
        ASE stress, shape (3, 3) or Voigt (6,) in ASE's order xx, yy, zz, yz, xz, xy,
        eV/Å³, tensile > 0.

    Returns
    -------
    numpy.ndarray
        Stress, shape (3, 3), GPa, tensile > 0 (same sign).

    Raises
    ------
    ValueError
        If the shape is neither (3, 3) nor (6,).
    """
    from ase.stress import voigt_6_to_full_3x3_stress

    arr = np.asarray(stress, dtype=float)
    if arr.shape == (6,):
        arr = voigt_6_to_full_3x3_stress(arr)
    if arr.shape != (3, 3):
        raise ValueError(f"stress must have shape (3, 3) or (6,), got {arr.shape}")
    return arr * EV_PER_A3_TO_GPA


def stress_from_vasp(stress_kbar: np.ndarray | Sequence) -> np.ndarray:
    """Convert a VASP stress (kBar, compressive > 0) to GPa, tensile > 0.

    Parameters
    ----------
    stress_kbar
        Stress tensor as VASP prints it (``vasprun.xml`` ``stress``), shape (3, 3), kBar.

    Returns
    -------
    numpy.ndarray
        ``-0.1 · stress_kbar``, shape (3, 3), GPa, tensile > 0 (atomate2's conversion).
    """
    return -KBAR_TO_GPA * np.asarray(stress_kbar, dtype=float)


def elastic_deformations(
    structure: Structure,
    *,
    strain_magnitudes: Sequence[float] = DEFAULT_STRAIN_MAGNITUDES,
    sym_reduce: bool = True,
    symprec: float = DEFAULT_SYMPREC,
) -> tuple[list[Deformation], list[Structure]]:
    """Deformations and deformed structures of atomate2's elastic workflow.

    Parameters
    ----------
    structure
        Relaxed (zero-stress) structure (Å).
    strain_magnitudes
        Magnitudes multiplying atomate2's six strain states (default ±0.5 %, ±1 %).
    sym_reduce
        Keep only symmetry-inequivalent strains (atomate2's default).
    symprec
        Symmetry precision (Å).

    Returns
    -------
    deformations : list of pymatgen.analysis.elasticity.Deformation
        Deformation gradients F (3×3), in atomate2's order.
    structures : list of pymatgen.core.Structure
        ``F`` applied to ``structure`` (``Deformation.apply_to_structure``, what atomate2's
        ``DeformStructureTransformation`` does), same order.

    Raises
    ------
    ValueError
        If the strains cannot determine all 21 constants (atomate2's check).
    """
    from atomate2.common.jobs.elastic import generate_elastic_deformations

    deformations = generate_elastic_deformations.original(
        structure,
        order=2,
        strain_magnitudes=[float(m) for m in strain_magnitudes],
        symprec=symprec,
        sym_reduce=sym_reduce,
    )
    return deformations, [d.apply_to_structure(structure) for d in deformations]


def elastic_document_from_stresses(
    structure: Structure,
    deformations: Sequence[np.ndarray],
    stresses: Sequence[np.ndarray],
    label: str,
    *,
    equilibrium_stress: np.ndarray | None = None,
    fitting_method: FittingMethod = "finite_difference",
    symprec: float | None = DEFAULT_SYMPREC,
    fmax: float | None = None,
    relax_converged: Sequence[bool] | None = None,
    wall_time_s: float = 0.0,
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> ElasticDocument:
    """Fit the elastic tensor to stresses of deformed structures (atomate2's analysis).

    Follows atomate2 0.1.5 ``ElasticDocument.from_stresses`` with stresses already in GPa,
    tensile > 0 (so without its −0.1 VASP conversion).

    Parameters
    ----------
    structure
        Undeformed structure (Å).
    deformations
        Deformation gradients F, each (3, 3), as from :func:`elastic_deformations`.
    stresses
        Cauchy stresses of the relaxed deformed structures, each (3, 3), GPa,
        tensile > 0 (see :func:`stress_from_ase`, :func:`stress_from_vasp`).
    label
        Who computed the stresses.
    equilibrium_stress
        Stress of the undeformed structure (3, 3), GPa, tensile > 0; ``None`` uses zero,
        as pymatgen does.
    fitting_method
        ``"finite_difference"`` (atomate2's default), ``"independent"`` or
        ``"pseudoinverse"`` (pymatgen fits).
    symprec
        Symmetry precision (Å) for expanding symmetry-reduced strains (atomate2's
        ``expand_strains``); ``None`` when every strain was computed.
    fmax, relax_converged, wall_time_s, model_path, model_sha256
        Stored as given.

    Returns
    -------
    ElasticDocument
        6×6 tensor in GPa (IEEE orientation and raw), Voigt/Reuss/Hill K and G (GPa),
        universal anisotropy, Poisson ratio, Born stability.

    Raises
    ------
    ElasticFitError
        If the numbers of deformations and stresses differ, a stress is not 3×3 or the
        strains cannot determine the tensor.
    """
    from atomate2.common.schemas.elastic import expand_strains
    from pymatgen.analysis.elasticity import (
        Deformation,
        ElasticTensor,
        ElasticTensorExpansion,
        Stress,
    )

    if len(deformations) != len(stresses):
        raise ElasticFitError(
            f"{len(deformations)} deformations but {len(stresses)} stresses; one per deformation"
        )
    stress_arr = np.asarray(stresses, dtype=float)
    if stress_arr.ndim != 3 or stress_arr.shape[1:] != (3, 3):  # noqa: PLR2004
        raise ElasticFitError(f"stresses must have shape (n, 3, 3) in GPa, got {stress_arr.shape}")
    defos = [Deformation(np.asarray(d, dtype=float)) for d in deformations]
    strains = [d.green_lagrange_strain for d in defos]
    cauchy = [Stress(s) for s in stress_arr]
    if symprec is not None:
        placeholders = [""] * len(strains)
        strains, cauchy, _, _ = expand_strains(
            structure, strains, cauchy, placeholders, placeholders, symprec
        )
    full_defos = [s.get_deformation_matrix() for s in strains]
    pk_stresses = [s.piola_kirchoff_2(d) for s, d in zip(cauchy, full_defos, strict=True)]
    eq_stress = None if equilibrium_stress is None else Stress(np.asarray(equilibrium_stress))

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if fitting_method == "finite_difference":
                tensor = ElasticTensor(
                    ElasticTensorExpansion.from_diff_fit(
                        strains, pk_stresses, eq_stress=eq_stress, order=2
                    )[0]
                )
            elif fitting_method == "pseudoinverse":
                tensor = ElasticTensor.from_pseudoinverse(strains, pk_stresses)
            elif fitting_method == "independent":
                tensor = ElasticTensor.from_independent_strains(
                    strains, pk_stresses, eq_stress=eq_stress
                )
            else:
                raise ElasticFitError(f"unknown fitting_method {fitting_method!r}")
    except (ValueError, np.linalg.LinAlgError, KeyError, IndexError) as err:
        if isinstance(err, ElasticFitError):
            raise
        raise ElasticFitError(f"elastic tensor fit failed: {err}") from err

    ieee = tensor.convert_to_ieee(structure)
    voigt = np.asarray(ieee.voigt, dtype=float)
    return ElasticDocument(
        label=label,
        structure=structure,
        elastic_tensor=voigt.tolist(),
        elastic_tensor_raw=np.asarray(tensor.voigt, dtype=float).tolist(),
        k_voigt=float(ieee.k_voigt),
        k_reuss=float(ieee.k_reuss),
        k_vrh=float(ieee.k_vrh),
        g_voigt=float(ieee.g_voigt),
        g_reuss=float(ieee.g_reuss),
        g_vrh=float(ieee.g_vrh),
        universal_anisotropy=float(ieee.universal_anisotropy),
        homogeneous_poisson=float(ieee.homogeneous_poisson),
        elastically_stable=bool(np.all(np.linalg.eigvalsh(0.5 * (voigt + voigt.T)) > 0)),
        fitting_method=fitting_method,
        deformations=[np.asarray(d, dtype=float).tolist() for d in defos],
        stresses=stress_arr.tolist(),
        equilibrium_stress=None if eq_stress is None else np.asarray(eq_stress).tolist(),
        fmax=fmax,
        relax_converged=None if relax_converged is None else [bool(c) for c in relax_converged],
        wall_time_s=wall_time_s,
        model_path=model_path,
        model_sha256=model_sha256,
    )


def elastic_from_calculator(
    structure: Structure,
    calculator: Calculator,
    label: str,
    *,
    relax: bool = True,
    fmax: float = DEFAULT_FMAX,
    max_steps: int = 2000,
    optimizer: Optimizer = "BFGS",
    strain_magnitudes: Sequence[float] = DEFAULT_STRAIN_MAGNITUDES,
    sym_reduce: bool = True,
    symprec: float = DEFAULT_SYMPREC,
    fitting_method: FittingMethod = "finite_difference",
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> ElasticDocument:
    """Elastic tensor of ``structure`` with an ASE calculator (atomate2 ElasticMaker protocol).

    Parameters
    ----------
    structure
        Starting structure (Å).
    calculator
        ASE calculator giving energy (eV), forces (eV/Å) and stress (eV/Å³).
    label
        Name stored in the document.
    relax
        First relax cell and positions keeping the symmetry
        (:func:`~mlip_finetune.core.relax.relax_structure`); its residual stress
        is the equilibrium stress of the fit, as in atomate2.
    fmax
        Force threshold (eV/Å) of all relaxations; default 1e-3 eV/Å, the paper's 1 meV/Å
        (§4.1). (atomate2's force-field ElasticMaker default is tighter, 1e-5 eV/Å.)
    max_steps, optimizer
        Optimiser settings (ASE).
    strain_magnitudes, sym_reduce, symprec
        See :func:`elastic_deformations`.
    fitting_method
        See :func:`elastic_document_from_stresses`.
    model_path, model_sha256
        Recorded in the document.

    Returns
    -------
    ElasticDocument
        ``wall_time_s`` covers the relaxations and the fit.

    Raises
    ------
    ElasticFitError
        See :func:`elastic_document_from_stresses`.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    start = time.perf_counter()
    if relax:
        structure, converged = relax_structure(
            structure, calculator, fmax=fmax, max_steps=max_steps, optimizer=optimizer
        )
        if not converged:
            logger.warning(f"elastic {label}: bulk relaxation did not reach fmax={fmax}")
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    eq_stress = stress_from_ase(atoms.get_stress(voigt=False))

    deformations, deformed = elastic_deformations(
        structure, strain_magnitudes=strain_magnitudes, sym_reduce=sym_reduce, symprec=symprec
    )
    stresses, converged_list = [], []
    for strained in deformed:
        result = relax_at_fixed_volume(
            strained,
            calculator,
            fmax=fmax,
            max_steps=max_steps,
            optimizer=optimizer,
            relax_cell_shape=False,
            compute_stress=True,
        )
        stresses.append(stress_from_ase(result.stress))
        converged_list.append(result.converged)
    return elastic_document_from_stresses(
        structure,
        deformations,
        stresses,
        label,
        equilibrium_stress=eq_stress,
        fitting_method=fitting_method,
        symprec=symprec if sym_reduce else None,
        fmax=fmax,
        relax_converged=converged_list,
        wall_time_s=time.perf_counter() - start,
        model_path=model_path,
        model_sha256=model_sha256,
    )
