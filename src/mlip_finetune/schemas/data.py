"""Documents of the training-data stage (paper §4.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure  # noqa: TC002  (pydantic needs it at run time)


class TrainingFrame(BaseModel):
    """One configuration selected for a reference DFT static."""

    structure: Structure = Field(description="Supercell of the frame (Å).")
    trajectory_index: int = Field(description="Index of the relaxation trajectory (0-based).")
    volume_scale: float = Field(
        description="Volume scaling applied before relaxation, as a fraction (-0.05 = -5 %)."
    )
    frame_index: int = Field(
        description="Position among the selected frames of its trajectory; 0 is the outermost "
        "(the starting structure), increasing towards equilibrium (paper §4.2)."
    )
    relaxation_step: int = Field(description="FIRE step of the trajectory this frame comes from.")
    foundation_energy: float = Field(description="Foundation-model energy of the frame (eV).")
    split: Literal["train", "validation"] = Field(
        description="'validation' for the 0 % volume trajectory, else 'train' (paper §4.2)."
    )


class RelaxationRecord(BaseModel):
    """Convergence record of one foundation-model relaxation."""

    trajectory_index: int
    volume_scale: float = Field(description="Volume scaling as a fraction.")
    n_steps: int = Field(description="FIRE steps taken.")
    converged: bool = Field(description="Whether max force fell below fmax.")
    final_fmax: float = Field(description="Largest atomic force at the end (eV/Å).")
    energy_start: float = Field(description="Energy of the starting structure (eV).")
    energy_end: float = Field(description="Energy at the end of the relaxation (eV).")


class TrainingDataDocument(BaseModel):
    """Output of :class:`mlip_finetune.data.TrainingDataMaker`."""

    formula: str = Field(description="Reduced formula of the input structure.")
    protocol: str = Field(description="Supercell protocol: 'primitive', 'small' or 'large'.")
    supercell_matrix: list[list[int]] = Field(
        description="3×3 integer matrix, primitive standard cell → supercell (rows are the "
        "supercell vectors in units of the primitive ones, pymatgen's make_supercell)."
    )
    supercell_lengths_angstrom: list[float] | None = Field(
        default=None,
        description="Edge lengths a, b, c of the supercell (Å); None in documents made "
        "before they were recorded.",
    )
    supercell_angles_degrees: list[float] | None = Field(
        default=None,
        description="Angles α, β, γ of the supercell (degrees); 90° for the paper's cubic "
        "cells, the most cubic ones the lattice allows otherwise.",
    )
    n_atoms_supercell: int
    frames: list[TrainingFrame] = Field(description="Selected frames, trajectory-major order.")
    relaxations: list[RelaxationRecord]
    n_train: int
    n_validation: int
    seed: int
    foundation_model_path: str
    foundation_model_sha256: str
    wall_time_s: float = Field(default=0.0, description="Wall time of the whole stage (s).")
