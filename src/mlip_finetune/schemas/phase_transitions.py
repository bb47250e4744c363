"""Settings and documents of the displacive phase-transition search (paper §3.5, §4.6, SI 7.6).

A *phase key* is ``(space-group number, number of atoms in the primitive cell)``: SI 7.6 and
§3.5 count a predicted phase as a true positive when it "matches a DFT benchmark phase in both
space group and number of atoms in the primitive unit cell". The q-point that led to a phase
is not part of the key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pymatgen.core import Structure  # noqa: TC002

#: Grid points per axis for a mode subspace of dimension 1–4 (paper §4.6).
PAPER_GRID_POINTS: dict[int, int] = {1: 21, 2: 21, 3: 9, 4: 7}


class PhaseTransitionSettings(BaseModel):
    """Parameters of the search; defaults are the paper's values (§4.6, SI 7.6)."""

    imaginary_threshold: float = Field(
        default=-1e-4,
        description="A mode below this frequency (THz) is unstable (paper §4.6: -1e-4 THz).",
    )
    degeneracy_tolerance: float = Field(
        default=1e-3,
        gt=0,
        description="Frequencies (THz) closer than this at one q form one degenerate subspace.",
    )
    supercell_atom_limit: int = Field(
        default=1000,
        gt=0,
        description="Commensurate supercells must have fewer atoms than this (SI 7.6: only "
        "supercells with fewer than 1000 atoms were calculated).",
    )
    band_npoints: int = Field(
        default=51,
        ge=3,
        description="q-points per seekpath segment (end points included) searched for band "
        "minima; a minimum's q is one of these points.",
    )
    grid_points: dict[int, int] = Field(
        default_factory=lambda: dict(PAPER_GRID_POINTS),
        description="Grid points per axis by real subspace dimension (paper §4.6: 21, "
        "21×21, 9×9×9, 7×7×7×7). Odd numbers, so the undistorted structure is on the grid. A "
        "subspace whose dimension is missing here is reported and skipped.",
    )
    max_amplitude: float = Field(
        default=0.5,
        gt=0,
        description="Each grid axis spans [-max_amplitude, +max_amplitude] (Å); the amplitude "
        "of a pattern is the largest single-atom displacement it causes.",
    )
    fmax: float = Field(
        default=0.005,
        gt=0,
        description="Force threshold of the relaxation from a grid minimum (eV/Å; paper §4.6: "
        "5 meV/Å for the ML models).",
    )
    max_steps: int = Field(
        default=2000, gt=0, description="Relaxation step cap (paper §4.6: 2000 for ML models)."
    )
    optimizer: Literal["BFGS", "FIRE"] = Field(default="BFGS", description="ASE optimiser.")
    symprec: float = Field(
        default=0.1,
        gt=0,
        description="spglib tolerance (Å) for the space group of relaxed and initial "
        "structures (paper §4.6: 0.1 Å).",
    )
    displaced_symprec: float = Field(
        default=0.01,
        gt=0,
        description="Tolerance (Å) for the symmetry of a displaced grid structure, the one "
        "ASE's FixSymmetry keeps during relaxation (ASE's default, 0.01 Å).",
    )
    minimum_energy_tolerance: float = Field(
        default=1e-5,
        ge=0,
        description="Grid minima of one scan with the same displaced space group and energies "
        "within this (eV/atom) are taken as symmetry-equivalent; only the first is relaxed.",
    )
    batch_size: int = Field(
        default=256,
        gt=0,
        description="Structures handed to the energy function per call during a grid scan.",
    )

    @field_validator("grid_points")
    @classmethod
    def _odd_positive(cls, value: dict[int, int]) -> dict[int, int]:
        for dimension, points in value.items():
            if dimension < 1 or points < 3 or points % 2 == 0:  # noqa: PLR2004
                raise ValueError(
                    f"grid_points needs dimension ≥ 1 and an odd number ≥ 3 of points, "
                    f"got {dimension}: {points}"
                )
        return value


class UnstableMode(BaseModel):
    """One degenerate subspace of imaginary modes at one q-point."""

    qpoint: list[float] = Field(
        description="q in reduced coordinates of the input cell's reciprocal lattice (no 2π), "
        "snapped to the rational value used for the supercell when one was found."
    )
    label: str = Field(
        description="Seekpath label ('Γ', 'X', …) or 'A–B min' for a band minimum on the "
        "segment from A to B."
    )
    frequency: float = Field(description="Lowest frequency of the subspace (THz, negative).")
    frequencies: list[float] = Field(description="All frequencies of the subspace (THz).")
    band_indices: list[int] = Field(description="Band indices at q (0-based, ascending ω).")
    degeneracy: int = Field(description="Eigenvalue multiplicity (number of bands).")
    subspace_dimension: int | None = Field(
        default=None,
        description="Dimension of the real displacement space the bands span in the "
        "supercell: the degeneracy where q ≡ -q (mod G), twice it elsewhere (q and -q waves).",
    )
    supercell_matrix: list[list[int]] | None = Field(
        default=None,
        description="Smallest commensurate supercell, 3×3 in phonopy's convention "
        "(supercell lattice columns = unit-cell columns @ matrix); None when too large.",
    )
    n_supercell_atoms: int | None = Field(default=None, description="Atoms in that supercell.")
    skipped: str | None = Field(
        default=None, description="Why the subspace was not scanned (None when scanned)."
    )


class ModeScan(BaseModel):
    """Energies on the amplitude grid of one mode subspace: U(Q) for the double-well plots."""

    qpoint: list[float] = Field(description="q (reduced coordinates of the input cell).")
    label: str = Field(description="Label of the unstable mode (see UnstableMode).")
    band_indices: list[int] = Field(description="Bands spanning the subspace.")
    supercell_matrix: list[list[int]] = Field(description="Commensurate supercell (phonopy).")
    n_atoms: int = Field(description="Atoms in the supercell.")
    amplitudes: list[float] = Field(
        description="Grid values of every axis (Å): largest single-atom displacement of the "
        "corresponding basis pattern."
    )
    mass_weighted_norms: list[float] = Field(
        description="Normal-coordinate amplitude per Å of grid amplitude, one per basis pattern "
        "(Å·√amu per Å): Q_i = amplitude_i · norm_i with Q = (Σ_j m_j |u_j|²)^½ over the "
        "supercell."
    )
    grid_shape: list[int] = Field(description="Points per axis, one entry per dimension.")
    energies: list[float] = Field(
        description="Energy per atom relative to the undistorted supercell (meV/atom), "
        "flattened in C order over grid_shape."
    )
    reference_energy: float = Field(description="Undistorted supercell energy (eV/atom).")
    minima: list[list[float]] = Field(
        description="Amplitude vectors (Å) of the grid's local minima, origin excluded."
    )
    minima_on_boundary: list[bool] = Field(
        description="Whether each minimum lies on the grid edge (energy still falling "
        "outwards: widen max_amplitude to see the well)."
    )

    def double_well(self) -> tuple[list[float], list[float]]:
        """U(Q) of a one-dimensional scan, for the paper's double-well plots (Fig. 4b, 5b).

        Returns
        -------
        tuple of list of float
            ``(Q, U)``: normal-coordinate amplitudes (Å·√amu) and energies relative to the
            undistorted structure (meV/atom), one per grid point.

        Raises
        ------
        ValueError
            If the scan is not one-dimensional.
        """
        if len(self.grid_shape) != 1:
            raise ValueError(f"U(Q) needs a 1-D scan, this one has shape {self.grid_shape}")
        norm = self.mass_weighted_norms[0]
        return [a * norm for a in self.amplitudes], list(self.energies)


class PhasePathway(BaseModel):
    """One relaxation from a grid minimum (one row of the paper's SI Tables 6–10)."""

    qpoint: list[float] = Field(description="q of the mode followed.")
    label: str = Field(description="Label of the mode followed.")
    start_amplitudes: list[float] = Field(description="Grid amplitude vector started from (Å).")
    displaced_space_group_symbol: str = Field(description="Symmetry of the displaced structure.")
    displaced_space_group_number: int
    final_space_group_symbol: str = Field(description="Symmetry after relaxation (spglib).")
    final_space_group_number: int
    n_primitive_atoms: int = Field(description="Atoms in the final primitive cell.")
    n_atoms: int = Field(description="Atoms in the relaxed supercell.")
    energy_gain: float = Field(
        description="E_initial/N − E_final/N (meV/atom); positive when the new structure is "
        "lower than the relaxed undistorted one (the SI tables' ΔE/atom)."
    )
    converged: bool = Field(description="Whether the relaxation reached fmax within max_steps.")
    is_new: bool = Field(description="False when the final phase equals the initial one.")


class NewPhase(BaseModel):
    """One new phase (initial phase removed, duplicates merged by phase key)."""

    space_group_symbol: str
    space_group_number: int
    n_primitive_atoms: int = Field(description="Atoms in the primitive cell.")
    energy_gain: float = Field(description="Largest gain among the merged pathways (meV/atom).")
    qpoints: list[list[float]] = Field(description="q-points whose modes lead to this phase.")
    labels: list[str] = Field(description="Labels of those modes.")
    structure: Structure = Field(description="Relaxed structure of the largest gain (Å).")

    @property
    def key(self) -> tuple[int, int]:
        """Phase key ``(space-group number, primitive-cell atoms)``."""
        return (self.space_group_number, self.n_primitive_atoms)


class PhaseTransitionDocument(BaseModel):
    """Displacive phase transitions predicted by one model (or DFT) for one structure."""

    label: str = Field(description="Who computed the energies: 'dft', 'foundation', …")
    structure: Structure = Field(description="Initial (relaxed, undistorted) unit cell (Å).")
    initial_space_group_symbol: str
    initial_space_group_number: int
    initial_n_primitive_atoms: int
    settings: PhaseTransitionSettings
    unstable_modes: list[UnstableMode] = Field(description="Every unstable subspace found.")
    scans: list[ModeScan] = Field(description="One grid scan per scanned subspace.")
    pathways: list[PhasePathway] = Field(description="Every relaxation, in scan order.")
    new_phases: list[NewPhase] = Field(description="New phases, largest energy gain first.")
    phase_keys: list[tuple[int, int]] = Field(
        description="Sorted (space-group number, primitive-cell atoms) of the new phases: the "
        "set compared between models (SI 7.6, Table 4)."
    )
    wall_time_s: float = Field(description="Wall time of the search (s).")
    model_path: str | None = Field(default=None, description="MACE model file, None for DFT.")
    model_sha256: str | None = None
