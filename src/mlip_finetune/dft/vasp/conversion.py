"""VASP outputs as our documents: atomate2's ``TaskDoc`` → :class:`StaticDocument`.

:func:`static_document_from_task` (and its job :func:`vasp_static_document`) converts a VASP
static or relaxation into the :class:`~mlip_finetune.schemas.dft.StaticDocument` the GPAW
engine writes: energy (eV), forces (eV/Å) in the caller's site order (:func:`site_order`),
stress in GPa with tensile > 0 (:func:`vasp_stress_to_gpa`), the k-point mesh and the SCF
convergence of the last ionic step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from jobflow import job
from pymatgen.io.vasp import Kpoints

from mlip_finetune.dft.engines import DFTCode
from mlip_finetune.dft.jobs import as_structure
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import KBAR_TO_GPA

if TYPE_CHECKING:
    from emmet.core.tasks import TaskDoc
    from pymatgen.core import Structure

#: Largest distance (Å) between a site of the input structure and its VASP counterpart.
SITE_MATCH_TOLERANCE: float = 1e-3


def fmax_from_ediffg(incar: dict) -> float | None:
    """Return the force threshold of a VASP relaxation from a negative EDIFFG.

    Parameters
    ----------
    incar
        INCAR tags (or an INCAR preset).

    Returns
    -------
    float or None
        ``-EDIFFG`` (eV/Å) when EDIFFG is negative (a force criterion), else None.
    """
    ediffg = float(incar.get("EDIFFG", 0.0) or 0.0)
    return -ediffg if ediffg < 0 else None


def vasp_stress_to_gpa(stress_kbar: Any) -> np.ndarray:
    """Convert a VASP stress tensor (kBar, positive = compressive) to GPa, tensile > 0.

    VASP (vasprun.xml ``stress``, OUTCAR ``in kB``) reports the stress with the sign of a
    pressure: a compressed cell has positive diagonal entries. ASE, and
    :class:`~mlip_finetune.schemas.dft.StaticDocument`, use the opposite sign (ASE's
    ``ase.io.vasp`` readers apply the same ``-0.1`` factor).

    Parameters
    ----------
    stress_kbar
        Stress tensor, shape (3, 3), kBar, VASP sign convention.

    Returns
    -------
    numpy.ndarray
        Stress tensor, shape (3, 3), GPa, ASE sign convention (tensile > 0).

    Raises
    ------
    ValueError
        If the input is not a (3, 3) array.
    """
    stress = np.asarray(stress_kbar, dtype=float)
    if stress.shape != (3, 3):
        raise ValueError(f"Expected a (3, 3) stress tensor, got shape {stress.shape}.")
    return -KBAR_TO_GPA * stress


def site_order(
    reference: Structure, other: Structure, tol: float = SITE_MATCH_TOLERANCE
) -> list[int]:
    """Return, for each site of ``reference``, the index of the same site in ``other``.

    pymatgen input sets may sort a POSCAR's sites by electronegativity (``sort_structure``;
    atomate2 0.1.5 keeps the caller's order because its dataclass field ``structure``
    shadows pymatgen's sorting setter). Mapping VASP's order back to the caller's, and
    checking the positions on the way, keeps forces aligned with phonopy's supercells
    whatever a future atomate2 does.

    Parameters
    ----------
    reference
        Structure in the caller's site order (Å).
    other
        The same sites in another order, on the same lattice (Å).
    tol
        Largest periodic distance (Å) between matched sites.

    Returns
    -------
    list of int
        ``order`` such that ``other[order[i]]`` is ``reference[i]``.

    Raises
    ------
    ValueError
        If the structures differ in size, or a site has no unique counterpart of the same
        species within ``tol``.
    """
    if len(reference) != len(other):
        raise ValueError(f"Structures differ in size: {len(reference)} vs {len(other)} sites.")
    distances = other.lattice.get_all_distances(reference.frac_coords, other.frac_coords)
    order = []
    for i, site in enumerate(reference):
        candidates = [
            j for j in np.flatnonzero(distances[i] < tol) if other[int(j)].species == site.species
        ]
        if len(candidates) != 1:
            raise ValueError(
                f"Site {i} ({site.species_string} at {site.coords.round(4).tolist()} Å) has "
                f"{len(candidates)} counterparts within {tol} Å in the VASP structure."
            )
        order.append(int(candidates[0]))
    if len(set(order)) != len(order):
        raise ValueError("Two sites of the input map onto the same VASP site.")
    return order


def _kpoint_divisions(kpoints: Any) -> list[int]:
    """Return the mesh divisions of a pymatgen ``Kpoints`` (or its dict); [] if explicit."""
    if kpoints is None:
        return []
    if isinstance(kpoints, dict):
        kpoints = Kpoints.from_dict(kpoints)
    style = str(kpoints.style.name).lower()
    if style not in ("gamma", "monkhorst"):
        return []
    return [int(n) for n in kpoints.kpts[0]]


def _scf_converged(calc: Any) -> bool:
    """Whether the last ionic step's SCF converged (fewer electronic steps than NELM).

    pymatgen's ``Vasprun.converged_electronic`` rule; falls back to the run's overall state
    when the ionic steps were not kept.
    """
    steps = calc.output.ionic_steps
    if not steps:
        return str(calc.has_vasp_completed) == "successful"
    nelm = int((calc.input.parameters or {}).get("NELM", 60))
    return 0 < len(steps[-1].electronic_steps or []) < nelm


def vasp_energies(task_output: Any, calc: Any) -> tuple[float, float]:
    """Return VASP's (free energy, σ → 0 energy) of the last ionic step (eV).

    The free energy is ``TOTEN`` (vasprun ``e_fr_energy``), the energy whose derivatives
    VASP's forces and stress are. pymatgen's ``Vasprun.final_energy``, which emmet stores as
    ``TaskDoc.output.energy``, is ``e_0_energy`` (σ → 0, pymatgen ≥ 2020), so the free energy
    is read explicitly from the ionic step.

    Parameters
    ----------
    task_output
        ``TaskDoc.output`` (its ``energy`` is the σ → 0 energy).
    calc
        ``TaskDoc.calcs_reversed[0]``, whose ``output.ionic_steps`` hold ``e_fr_energy``.

    Returns
    -------
    tuple of float
        (free energy, σ → 0 energy) in eV; the free energy falls back to the σ → 0 energy
        when the ionic steps were not stored.
    """
    sigma0 = float(task_output.energy)
    steps = calc.output.ionic_steps or []
    free = getattr(steps[-1], "e_fr_energy", None) if steps else None
    return (sigma0 if free is None else float(free)), sigma0


def _vasp_moments(calc: Any, order: list[int]) -> tuple[float | None, list[float] | None]:
    """Total (OUTCAR ``number of electron … magnetization``) and per-site moments (μ_B)."""
    outcar = calc.output.outcar or {}
    total = outcar.get("total_magnetization") if isinstance(outcar, dict) else None
    structure = calc.output.structure
    sites = structure.site_properties.get("magmom") if structure is not None else None
    per_site = None if sites is None else [float(sites[j]) for j in order]
    return (None if total is None else float(total)), per_site


def static_document_from_task(
    task_doc: TaskDoc | dict,
    structure: Structure,
    label: str = "",
    metadata: dict | None = None,
) -> StaticDocument:
    """Convert an atomate2 VASP ``TaskDoc`` into a :class:`StaticDocument`.

    Parameters
    ----------
    task_doc
        Output of a VASP static or relaxation (emmet ``TaskDoc`` or its dict).
    structure
        The structure handed to the VASP job, in the caller's site order (Å).
    label
        Free-text label of the document.
    metadata
        Caller's metadata; ``vasp_task_label``, ``vasp_dir_name`` and ``vasp_calc_type`` are
        added, and for relaxations (NSW > 0) ``n_steps`` (ionic steps VASP ran),
        ``relax_converged`` (VASP's ionic and electronic convergence), ``fmax`` (eV/Å, from
        a negative EDIFFG, else None) and ``relax_cell`` (ISIF ≥ 3).

    Returns
    -------
    StaticDocument
        Energy (eV): VASP's free energy ``TOTEN`` (``e_fr_energy``, :func:`vasp_energies`),
        the energy consistent with forces and stress, which is the training energy; both
        ``free_energy_ev`` and ``energy_sigma0_ev`` (``e_0_energy``) are recorded. Forces
        (eV/Å) and stress (GPa, tensile > 0; see :func:`vasp_stress_to_gpa`) in the caller's
        site order; ``spin_polarised`` (ISPIN 2) and the final moments (μ_B, OUTCAR) when
        VASP wrote them; the input structure for a static, the relaxed one for a relaxation.
        ``settings`` records the INCAR VASP read (custodian's corrections included), the
        POTCARs, the mesh and the run type; ``wall_time_s`` is VASP's elapsed time from the
        OUTCAR (0 if absent); ``converged`` is the SCF convergence of the last ionic step.

    Raises
    ------
    ValueError
        If the TaskDoc lacks energy, forces or stress, or its sites cannot be matched to
        ``structure``.
    """
    from emmet.core.tasks import TaskDoc
    from pymatgen.core import Structure

    task = task_doc if isinstance(task_doc, TaskDoc) else TaskDoc.model_validate(task_doc)
    structure = as_structure(structure)
    output = task.output
    if output is None or output.energy is None or output.forces is None or output.stress is None:
        raise ValueError(
            f"VASP task {task.task_label!r} in {task.dir_name} has no energy, forces or stress; "
            "was the stress computed (ISIF >= 2)?"
        )
    calc = task.calcs_reversed[0]
    order = site_order(structure, calc.input.structure)
    incar = {str(key): value for key, value in dict(calc.input.incar).items()}
    extra: dict[str, Any] = {
        "vasp_task_label": task.task_label,
        "vasp_dir_name": task.dir_name,
        "vasp_calc_type": str(task.calc_type),
    }
    if int(incar.get("NSW", 0) or 0) > 0:
        final_structure = Structure.from_sites([output.structure[j] for j in order])
        extra |= {
            "n_steps": len(calc.output.ionic_steps or []),
            "relax_converged": str(calc.has_vasp_completed) == "successful",
            "fmax": fmax_from_ediffg(incar),
            "relax_cell": int(incar.get("ISIF", 2)) >= 3,  # noqa: PLR2004 (VASP's ISIF code)
        }
    else:
        final_structure = structure
    settings = {
        "engine": DFTCode.VASP.value,
        "incar": incar,
        "kpoints": _kpoint_divisions(calc.input.kpoints),
        "potcar": [str(p) for p in (calc.input.potcar or [])],
        "potcar_type": [str(p) for p in (calc.input.potcar_type or [])],
        "run_type": str(calc.run_type),
    }
    run_stats = calc.output.run_stats
    free_energy, sigma0 = vasp_energies(output, calc)
    spin = int(incar.get("ISPIN", 1) or 1) == 2  # noqa: PLR2004 (VASP's ISPIN code)
    total_moment, moments = _vasp_moments(calc, order) if spin else (None, None)
    return StaticDocument(
        label=label,
        structure=final_structure,
        energy=free_energy,
        free_energy_ev=free_energy,
        energy_sigma0_ev=sigma0,
        spin_polarised=spin,
        magnetic_moment_total_mub=total_moment,
        magnetic_moments_mub=moments,
        forces=np.asarray(output.forces, dtype=float)[order].tolist(),
        stress=vasp_stress_to_gpa(output.stress).tolist(),
        engine=DFTCode.VASP.value,
        settings=settings,
        kpoints=settings["kpoints"],
        wall_time_s=float(getattr(run_stats, "elapsed_time", 0.0) or 0.0),
        converged=_scf_converged(calc),
        metadata={**(metadata or {}), **extra},
    )


@job(output_schema=StaticDocument)
def vasp_static_document(
    task_doc: Any, structure: Structure, label: str = "", metadata: dict | None = None
) -> StaticDocument:
    """Job: convert a VASP ``TaskDoc`` into a :class:`StaticDocument`.

    See :func:`static_document_from_task` for parameters, return value and errors.
    """
    return static_document_from_task(task_doc, structure, label=label, metadata=metadata)
