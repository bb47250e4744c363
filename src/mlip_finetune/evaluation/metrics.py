"""Errors of a model against a reference: phonon MAE (paper §3.3) and static errors (§3.2).

Pure functions; the model side is any ASE calculator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.schemas.evaluation import PhononPropertyErrors, ValidationMetrics
from mlip_finetune.units import EV_PER_A3_TO_GPA, EV_TO_MEV

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator

    from mlip_finetune.schemas.dft import StaticDocument
    from mlip_finetune.schemas.evaluation import PhononDocument

#: Voigt order of the 6 stress components compared (ASE order).
VOIGT_INDICES: tuple[tuple[int, int], ...] = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def phonon_frequency_mae(doc: PhononDocument, ref: PhononDocument) -> float:
    """Mean absolute phonon-frequency error over the Brillouin zone (paper §3.3, Table 1).

    ``MAE = sum_q w_q sum_nu |omega_qnu(doc) - omega_qnu(ref)| / (3N sum_q w_q)`` over the
    q-points of the same Γ-centred mesh (weights ``w_q`` are 1 on the full grid that
    :func:`~mlip_finetune.evaluation.phonons.phonon_document_from_forces` stores), i.e. the
    plain mean over every (q, band) pair of the full mesh. Bands are compared in sorted
    order at each q (no eigenvector matching, as in a band-by-band comparison of sorted
    dispersions).

    Parameters
    ----------
    doc
        Model phonons.
    ref
        Reference phonons (usually DFT), computed on the same mesh and unit cell.

    Returns
    -------
    float
        MAE in THz.

    Raises
    ------
    ValueError
        If the meshes, irreducible q-points, weights or numbers of atoms differ.
    """
    if list(doc.mesh) != list(ref.mesh):
        raise ValueError(f"meshes differ: {doc.mesh} vs {ref.mesh}")
    if len(doc.structure) != len(ref.structure):
        raise ValueError(f"numbers of atoms differ: {len(doc.structure)} vs {len(ref.structure)}")
    weights = np.asarray(doc.mesh_weights, dtype=float)
    # phonopy may report a grid point as q or as q + G (its choice of Brillouin-zone image
    # differs between nearly identical cells); frequencies are the same, so compare mod G.
    if len(doc.mesh_qpoints) != len(ref.mesh_qpoints):
        delta = np.ones(1)
    else:
        delta = np.asarray(doc.mesh_qpoints) - np.asarray(ref.mesh_qpoints)
        delta -= np.rint(delta)
    if not np.allclose(delta, 0.0, atol=1e-8) or not np.array_equal(weights, ref.mesh_weights):
        raise ValueError(
            "mesh q-points differ (different cell settings); the MAE needs the same "
            "q-points in both documents"
        )
    diff = np.abs(np.asarray(doc.mesh_frequencies) - np.asarray(ref.mesh_frequencies))
    per_q = diff.mean(axis=1)
    return float(np.average(per_q, weights=weights))


def _predict(
    calculator: Calculator, static: StaticDocument
) -> tuple[float, np.ndarray, np.ndarray]:
    """Energy (eV), forces (eV/Å) and Voigt stress (eV/Å³, ASE sign) of one structure."""
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(static.structure)
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    forces = np.asarray(atoms.get_forces(), dtype=float)
    stress = np.asarray(atoms.get_stress(voigt=True), dtype=float)
    return energy, forces, stress


def energy_offset_per_atom(calculator: Calculator, statics: Sequence[StaticDocument]) -> float:
    """Constant per-atom shift between the DFT code's energy zero and the model's.

    ``offset = mean_s (E_dft,s - E_model,s) / N_s``. DFT codes differ in their energy zero
    (GPAW references isolated atoms, VASP/MACE do not), so absolute energies of a model
    trained on another code are off by a nearly constant amount per atom. Compute the offset
    on the TRAINING frames and pass it to :func:`validation_metrics` for the validation
    frames, so that no information of the validation set leaks into the score. A model
    fine-tuned on the same DFT data has an offset ≈ 0; the foundation's offset is the
    code-to-code reference shift.

    Parameters
    ----------
    calculator
        ASE calculator of the model.
    statics
        DFT statics (training frames).

    Returns
    -------
    float
        Offset (eV/atom) to add to model energies per atom.

    Raises
    ------
    ValueError
        If ``statics`` is empty.
    """
    if not statics:
        raise ValueError("energy_offset_per_atom needs at least one static")
    shifts = [
        (static.energy - _predict(calculator, static)[0]) / len(static.structure)
        for static in statics
    ]
    return float(np.mean(shifts))


def validation_metrics(
    calculator: Calculator,
    statics: Sequence[StaticDocument],
    energy_offset_per_atom: float = 0.0,
) -> ValidationMetrics:
    """Energy, force and stress errors of a model on DFT statics.

    Parameters
    ----------
    calculator
        ASE calculator of the model (energy eV, forces eV/Å, stress eV/Å³).
    statics
        Reference statics (validation frames); stress in GPa, ASE sign.
    energy_offset_per_atom
        Constant added to model energies per atom (eV/atom), from
        :func:`energy_offset_per_atom` on the training frames.

    Returns
    -------
    ValidationMetrics
        Energy errors per structure in meV/atom, force errors over all Cartesian
        components in meV/Å, stress errors over the 6 Voigt components in GPa.

    Raises
    ------
    ValueError
        If ``statics`` is empty or a static's forces do not match its structure.
    """
    if not statics:
        raise ValueError("validation_metrics needs at least one static")
    energy_err, force_err, stress_err = [], [], []
    for static in statics:
        n_atoms = len(static.structure)
        ref_forces = np.asarray(static.forces, dtype=float)
        if ref_forces.shape != (n_atoms, 3):
            raise ValueError(
                f"static {static.label!r}: forces shape {ref_forces.shape} != ({n_atoms}, 3)"
            )
        energy, forces, stress = _predict(calculator, static)
        energy_err.append(energy / n_atoms + energy_offset_per_atom - static.energy / n_atoms)
        force_err.append((forces - ref_forces).ravel())
        ref_stress = np.asarray(static.stress, dtype=float)
        ref_voigt = np.array([ref_stress[i, j] for i, j in VOIGT_INDICES])
        stress_err.append(stress * EV_PER_A3_TO_GPA - ref_voigt)

    e = np.asarray(energy_err) * EV_TO_MEV
    f = np.concatenate(force_err) * EV_TO_MEV
    s = np.concatenate(stress_err)
    return ValidationMetrics(
        n_structures=len(statics),
        n_atoms=sum(len(static.structure) for static in statics),
        energy_offset_per_atom=energy_offset_per_atom,
        energy_mae=float(np.mean(np.abs(e))),
        energy_rmse=float(np.sqrt(np.mean(e**2))),
        force_mae=float(np.mean(np.abs(f))),
        force_rmse=float(np.sqrt(np.mean(f**2))),
        stress_mae=float(np.mean(np.abs(s))),
        stress_rmse=float(np.sqrt(np.mean(s**2))),
    )


def _relative(value: float, reference: float) -> float:
    return 100.0 * (value - reference) / reference if reference else float("nan")


def phonon_property_errors(doc: PhononDocument, ref: PhononDocument) -> PhononPropertyErrors:
    """Relative errors of ω_max, ω_mean, the DOS and 300 K thermal properties (paper §3.3–3.4).

    Parameters
    ----------
    doc
        Model phonons.
    ref
        Reference phonons on the same q-mesh (:func:`phonon_frequency_mae` checks apply).

    Returns
    -------
    PhononPropertyErrors
        Signed relative errors in %. ``mean_frequency`` uses the q-weighted mean over all
        bands of the mesh; ΔDOS integrates ``|g_model − g_ref|`` on the reference's DOS grid
        (trapezoidal rule, the model DOS linearly interpolated, zero outside its range) and
        divides by ``∫ g_ref``. Thermal properties are phonopy's C_V (J/K/mol), S (J/K/mol)
        and F (kJ/mol) at 300 K; F can be near zero, so its relative error can be large.

    Raises
    ------
    ValueError
        If the meshes differ (as in :func:`phonon_frequency_mae`).
    """
    phonon_frequency_mae(doc, ref)  # same mesh, same cell: raises otherwise

    def mean_frequency(d: PhononDocument) -> float:
        per_q = np.asarray(d.mesh_frequencies).mean(axis=1)
        return float(np.average(per_q, weights=np.asarray(d.mesh_weights, dtype=float)))

    grid = np.asarray(ref.dos_frequencies)
    g_ref = np.asarray(ref.dos)
    g_model = np.interp(grid, doc.dos_frequencies, doc.dos, left=0.0, right=0.0)
    norm = np.trapezoid(g_ref, grid)
    delta_dos = 100.0 * np.trapezoid(np.abs(g_model - g_ref), grid) / norm if norm else np.nan
    model_t, ref_t = doc.thermal_300k, ref.thermal_300k
    return PhononPropertyErrors(
        max_frequency=_relative(doc.max_frequency, ref.max_frequency),
        mean_frequency=_relative(mean_frequency(doc), mean_frequency(ref)),
        delta_dos=float(delta_dos),
        heat_capacity_300k=_relative(model_t.heat_capacity, ref_t.heat_capacity),
        entropy_300k=_relative(model_t.entropy, ref_t.entropy),
        free_energy_300k=_relative(model_t.free_energy, ref_t.free_energy),
    )
