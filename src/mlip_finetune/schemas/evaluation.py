"""Documents of the evaluation stage (paper §3.3, §4.5)."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, Field
from pymatgen.core import Structure  # noqa: TC002


class ThermalProperties(BaseModel):
    """Harmonic thermal properties at one temperature (phonopy ``run_thermal_properties``)."""

    temperature: float = Field(description="Temperature (K).")
    heat_capacity: float = Field(description="C_V per mole of unit cells (J/K/mol, phonopy).")
    entropy: float = Field(description="Vibrational entropy (J/K/mol).")
    free_energy: float = Field(description="Helmholtz free energy (kJ/mol).")


class PhononDocument(BaseModel):
    """Harmonic phonons of one model (or the DFT reference) for one structure."""

    label: str = Field(description="Who computed the forces: 'dft', 'foundation', 'transfer', …")
    structure: Structure = Field(description="Unit cell the phonons were computed for (Å).")
    supercell_matrix: list[list[int]] = Field(description="3×3 phonopy supercell matrix.")
    displacement: float = Field(description="Finite displacement amplitude (Å).")
    n_displacements: int = Field(description="Number of displaced supercells.")
    fc_calculator: str = Field(description="Force-constant solver ('symfc' or 'traditional').")
    mesh: list[int] = Field(description="q-point mesh used for MAE/DOS/thermal (Γ-centred).")
    mesh_qpoints: list[list[float]] = Field(
        description="q-points of the full Γ-centred grid (reduced coords, no symmetry reduction)."
    )
    mesh_weights: list[int] = Field(description="Weight of each q-point (1 on the full grid).")
    mesh_frequencies: list[list[float]] = Field(
        description="Frequencies on the mesh, shape (n_q, 3·n_atoms), THz, sorted per q; "
        "imaginary modes are negative."
    )
    band_labels: list[str] = Field(description="Labels of the seekpath path, one per kink.")
    band_distances: list[list[float]] = Field(description="Path distance per segment (1/Å).")
    band_frequencies: list[list[list[float]]] = Field(
        description="Band frequencies per segment, shape (n_seg, n_q, 3·n_atoms), THz."
    )
    dos_frequencies: list[float] = Field(description="DOS frequency grid (THz).")
    dos: list[float] = Field(description="Total DOS (states/THz per unit cell).")
    thermal_300k: ThermalProperties
    thermal_properties: list[ThermalProperties] = Field(
        default_factory=list,
        description="Harmonic C_V, S and F over a temperature range (default 0…1000 K in "
        "10 K steps, 300 K included), ascending temperature; empty in documents written "
        "before the range was stored.",
    )
    max_frequency: float = Field(description="Largest frequency on the mesh (THz).")
    min_frequency: float = Field(description="Smallest frequency on the mesh (THz).")
    has_imaginary_modes: bool = Field(
        description="Any frequency below -1e-4 THz at the supercell's commensurate q-points, "
        "excluding the three acoustic modes at Γ (paper §4.6)."
    )
    acoustic_sum_rule_max: float = Field(
        description="Largest |frequency| of the three acoustic modes at Γ (THz)."
    )
    wall_time_s: float = Field(description="Wall time of force evaluation + phonopy (s).")
    model_path: str | None = Field(default=None, description="MACE model file, None for DFT.")
    model_sha256: str | None = None


class ValidationMetrics(BaseModel):
    """Energy, force and stress errors of a model on DFT statics (paper §3.2, SI Fig. 8)."""

    n_structures: int = Field(description="Number of structures evaluated.")
    n_atoms: int = Field(description="Total number of atoms over all structures.")
    energy_offset_per_atom: float = Field(
        description="Constant per-atom shift (eV/atom) added to model energies before "
        "comparison: E_model/N + offset is compared with E_dft/N (different energy zeros)."
    )
    # names carry their unit; the bare names of documents stored before are still read
    energy_mae_mev_per_atom: float = Field(
        description="Energy MAE after the offset (meV/atom).",
        validation_alias=AliasChoices("energy_mae_mev_per_atom", "energy_mae"),
    )
    energy_rmse_mev_per_atom: float = Field(
        description="Energy RMSE after the offset (meV/atom).",
        validation_alias=AliasChoices("energy_rmse_mev_per_atom", "energy_rmse"),
    )
    force_mae_mev_per_angstrom: float = Field(
        description="Force MAE over all Cartesian components (meV/Å).",
        validation_alias=AliasChoices("force_mae_mev_per_angstrom", "force_mae"),
    )
    force_rmse_mev_per_angstrom: float = Field(
        description="Force RMSE over all Cartesian components (meV/Å).",
        validation_alias=AliasChoices("force_rmse_mev_per_angstrom", "force_rmse"),
    )
    stress_mae_gpa: float = Field(
        description="Stress MAE over the 6 Voigt components xx, yy, zz, yz, xz, xy (GPa).",
        validation_alias=AliasChoices("stress_mae_gpa", "stress_mae"),
    )
    stress_rmse_gpa: float = Field(
        description="Stress RMSE over the 6 Voigt components (GPa).",
        validation_alias=AliasChoices("stress_rmse_gpa", "stress_rmse"),
    )


class PhononPropertyErrors(BaseModel):
    """Relative errors of phonon-derived properties of a model against a reference.

    All values in percent, ``100·(model − reference)/reference`` (signed), except ΔDOS.
    """

    max_frequency: float = Field(description="Relative error of ω_max on the mesh (%).")
    mean_frequency: float = Field(description="Relative error of the mesh-mean ω (%).")
    delta_dos: float = Field(
        description="ΔDOS (%): ∫|g_model(ω) − g_ref(ω)| dω / ∫ g_ref(ω) dω · 100, on the "
        "reference's frequency grid (0 = identical, 200 = no overlap)."
    )
    heat_capacity_300k: float = Field(description="Relative error of C_V at 300 K (%).")
    entropy_300k: float = Field(description="Relative error of S_vib at 300 K (%).")
    free_energy_300k: float = Field(description="Relative error of F_vib at 300 K (%).")


class ThermalPropertyErrors(BaseModel):
    """Relative errors of harmonic thermal properties over a temperature range (paper §3.4).

    Each entry is ``100·(model − reference)/reference`` (%, signed) at the temperature of the
    same index, or ``None`` where the reference value is zero (C_V and S at 0 K) and the
    relative error is undefined. F changes sign between its zero-point value and high
    temperatures, so its relative error diverges near that crossing.
    """

    temperatures: list[float] = Field(description="Temperatures shared by both documents (K).")
    heat_capacity: list[float | None] = Field(description="Relative error of C_V(T) (%).")
    entropy: list[float | None] = Field(description="Relative error of S_vib(T) (%).")
    free_energy: list[float | None] = Field(description="Relative error of F_vib(T) (%).")
