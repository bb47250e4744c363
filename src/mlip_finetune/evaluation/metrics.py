"""Errors of a model against a reference: phonon MAE (paper §3.3) and static errors (§3.2).

Also relative errors of thermal properties over a temperature range and of the EOS,
elastic, Slack and phase-transition results (:func:`compare_properties`, paper §3.4–3.5).
Pure functions; the model side is any ASE calculator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.schemas.evaluation import (
    PhononPropertyErrors,
    ThermalPropertyErrors,
    ValidationMetrics,
)
from mlip_finetune.schemas.properties import ModelPropertiesDocument, PropertyErrors
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
        energy_mae_mev_per_atom=float(np.mean(np.abs(e))),
        energy_rmse_mev_per_atom=float(np.sqrt(np.mean(e**2))),
        force_mae_mev_per_angstrom=float(np.mean(np.abs(f))),
        force_rmse_mev_per_angstrom=float(np.sqrt(np.mean(f**2))),
        stress_mae_gpa=float(np.mean(np.abs(s))),
        stress_rmse_gpa=float(np.sqrt(np.mean(s**2))),
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


def _relative_or_none(value: float | None, reference: float | None) -> float | None:
    """``100·(value − reference)/reference`` (%), None when undefined."""
    if value is None or reference is None or reference == 0:
        return None
    return 100.0 * (value - reference) / reference


def thermal_property_errors(doc: PhononDocument, ref: PhononDocument) -> ThermalPropertyErrors:
    """Relative errors of C_V, S and F over the temperature range (paper §3.4, extended).

    Parameters
    ----------
    doc
        Model phonons with ``thermal_properties``.
    ref
        Reference phonons with the same temperatures.

    Returns
    -------
    ThermalPropertyErrors
        Signed relative errors (%) per temperature; ``None`` where the reference value is
        zero (C_V and S at 0 K).

    Raises
    ------
    ValueError
        If either document has no temperature range or the temperatures differ.
    """
    model_t = [t.temperature for t in doc.thermal_properties]
    ref_t = [t.temperature for t in ref.thermal_properties]
    if not ref_t or not model_t:
        raise ValueError("both documents need thermal_properties over a temperature range")
    if len(model_t) != len(ref_t) or not np.allclose(model_t, ref_t):
        raise ValueError(
            f"temperature ranges differ: {model_t[0]}…{model_t[-1]} K ({len(model_t)}) vs "
            f"{ref_t[0]}…{ref_t[-1]} K ({len(ref_t)})"
        )
    pairs = list(zip(doc.thermal_properties, ref.thermal_properties, strict=True))
    return ThermalPropertyErrors(
        temperatures=ref_t,
        heat_capacity=[_relative_or_none(m.heat_capacity, r.heat_capacity) for m, r in pairs],
        entropy=[_relative_or_none(m.entropy, r.entropy) for m, r in pairs],
        free_energy=[_relative_or_none(m.free_energy, r.free_energy) for m, r in pairs],
    )


def _dynamically_unstable(
    doc: ModelPropertiesDocument, phonons: PhononDocument | None
) -> tuple[bool | None, str | None]:
    if phonons is not None:
        return phonons.has_imaginary_modes, "phonons"
    if doc.phase_transitions is not None:
        return bool(doc.phase_transitions.unstable_modes), "phase_transitions"
    return None, None


def compare_properties(
    model_doc: ModelPropertiesDocument | dict,
    reference_doc: ModelPropertiesDocument | dict,
    *,
    model_phonons: PhononDocument | dict | None = None,
    reference_phonons: PhononDocument | dict | None = None,
) -> PropertyErrors:
    """Relative errors of EOS, elastic and Slack properties and phase-set scores of a model.

    - EOS (paper §4.5): B0, B0', V0 of the Birch–Murnaghan fits.
    - Elastic (§3.4): K_VRH, G_VRH and C11, C12, C44 of the IEEE-oriented Voigt tensors
      (the three independent constants of a cubic crystal; for other crystals the same
      entries of the tensor).
    - Slack (SI 7.4): κ, Debye temperature Θ_D and Grüneisen γ.
    - Elastic stability: both Born-stable or both not.
    - Dynamical stability (§3.5, Table 3): from ``PhononDocument.has_imaginary_modes`` when
      both phonon documents are given (the paper's criterion, commensurate q-points), else
      from the phase-transition searches (any unstable mode at seekpath points or band
      minima), else unknown.
    - New phases (Table 4): precision, recall and F1 of the phase keys
      (:func:`~mlip_finetune.evaluation.phase_transitions.compare_phase_sets`) when both
      documents have a search.

    Parameters
    ----------
    model_doc
        Model properties (or their dict).
    reference_doc
        Reference properties, usually DFT.
    model_phonons, reference_phonons
        Phonon documents of the same two (optional, for the stability classification).

    Returns
    -------
    PropertyErrors
        Signed relative errors in %, ``None`` where a side is missing or the reference is 0.

    Raises
    ------
    ValueError
        If the phase-transition searches start from different phases.
    """
    from mlip_finetune.evaluation.phase_transitions import compare_phase_sets
    from mlip_finetune.schemas.evaluation import PhononDocument

    model = ModelPropertiesDocument.model_validate(model_doc)
    ref = ModelPropertiesDocument.model_validate(reference_doc)
    values: dict[str, object] = {}

    if model.eos is not None and ref.eos is not None:
        for name in ("b0", "b0_prime", "v0"):
            values[name] = _relative_or_none(getattr(model.eos, name), getattr(ref.eos, name))
    if model.elastic is not None and ref.elastic is not None:
        for name in ("k_vrh", "g_vrh"):
            values[name] = _relative_or_none(
                getattr(model.elastic, name), getattr(ref.elastic, name)
            )
        for name, (i, j) in (("c11", (0, 0)), ("c12", (0, 1)), ("c44", (3, 3))):
            values[name] = _relative_or_none(
                model.elastic.elastic_tensor[i][j], ref.elastic.elastic_tensor[i][j]
            )
        values["elastic_stability_agreement"] = (
            model.elastic.elastically_stable == ref.elastic.elastically_stable
        )
    if model.slack is not None and ref.slack is not None:
        values["slack_kappa"] = _relative_or_none(model.slack.kappa, ref.slack.kappa)
        values["debye_temperature"] = _relative_or_none(
            model.slack.debye_temperature, ref.slack.debye_temperature
        )
        values["gruneisen"] = _relative_or_none(model.slack.gruneisen, ref.slack.gruneisen)

    both_phonons = model_phonons is not None and reference_phonons is not None
    model_unstable, source = _dynamically_unstable(
        model, PhononDocument.model_validate(model_phonons) if both_phonons else None
    )
    ref_unstable, ref_source = _dynamically_unstable(
        ref, PhononDocument.model_validate(reference_phonons) if both_phonons else None
    )
    if source is not None and source == ref_source:
        values.update(
            model_unstable=model_unstable,
            reference_unstable=ref_unstable,
            stability_agreement=model_unstable == ref_unstable,
            stability_source=source,
        )

    if model.phase_transitions is not None and ref.phase_transitions is not None:
        precision, recall, f1 = compare_phase_sets(ref.phase_transitions, model.phase_transitions)
        values.update(
            phase_precision=precision,
            phase_recall=recall,
            phase_f1=f1,
            n_model_phases=len(model.phase_transitions.phase_keys),
            n_reference_phases=len(ref.phase_transitions.phase_keys),
        )
    return PropertyErrors(label=model.label, reference_label=ref.label, **values)
