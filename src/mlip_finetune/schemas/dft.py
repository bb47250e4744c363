"""Documents of reference DFT calculations."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pymatgen.core import Structure  # noqa: TC002


class StaticDocument(BaseModel):
    """Energy, forces and stress of one structure from a DFT engine."""

    label: str = Field(description="Free text that says what this static is for.")
    structure: Structure = Field(description="Structure computed (Å).")
    energy: float = Field(description="Total energy (eV), the engine's own zero.")
    forces: list[list[float]] = Field(description="Forces, shape (n_atoms, 3), eV/Å.")
    stress: list[list[float]] = Field(
        description="Stress tensor, shape (3, 3), GPa, ASE sign convention (tensile > 0)."
    )
    engine: str = Field(description="DFT engine name, e.g. 'gpaw'.")
    settings: dict = Field(description="The DFTSettings actually used (model_dump()).")
    kpoints: list[int] = Field(description="Monkhorst-Pack mesh used.")
    wall_time_s: float = Field(description="Wall time of the calculation (s).")
    converged: bool = Field(description="SCF converged.")
    metadata: dict = Field(default_factory=dict, description="Caller's metadata, passed through.")
