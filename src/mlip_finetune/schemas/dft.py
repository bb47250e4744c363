"""Documents of reference DFT calculations."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pymatgen.core import Structure  # noqa: TC002


class StaticDocument(BaseModel):
    """Energy, forces and stress of one structure from a DFT engine.

    ``energy`` is the training energy: the free energy F = E - TS of the smeared occupations
    (GPAW's force-consistent energy, VASP's ``TOTEN``, ``e_fr_energy``), the energy whose
    derivatives are the forces and stress, so that energy, forces and stress labels are
    consistent for metals. ``free_energy_ev`` and ``energy_sigma0_ev`` keep the engine's two
    numbers on its own zero; a later shift of ``energy`` to another zero
    (:mod:`mlip_finetune.core.energy_zero`) leaves them as computed.
    """

    label: str = Field(description="Free text that says what this static is for.")
    structure: Structure = Field(description="Structure computed (Å).")
    energy: float = Field(
        description=(
            "Training energy (eV): the force-consistent free energy, on the engine's own "
            "zero unless shifted."
        )
    )
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
    free_energy_ev: float | None = Field(
        default=None,
        description=(
            "Force-consistent (Mermin) free energy F = E - TS (eV), engine's zero: GPAW "
            "get_potential_energy(force_consistent=True), VASP TOTEN (e_fr_energy)."
        ),
    )
    energy_sigma0_ev: float | None = Field(
        default=None,
        description=(
            "Energy extrapolated to zero smearing, σ → 0 (eV), engine's zero: GPAW "
            "get_potential_energy(), VASP 'energy(sigma->0)' (e_0_energy)."
        ),
    )
    spin_polarised: bool = Field(
        default=False, description="Collinear spin-polarised calculation (GPAW spinpol, ISPIN 2)."
    )
    magnetic_moment_total_mub: float | None = Field(
        default=None,
        description="Final total magnetic moment of the cell (μ_B); None if not spin-polarised.",
    )
    magnetic_moments_mub: list[float] | None = Field(
        default=None,
        description=(
            "Final magnetic moment of each site (μ_B, the engine's atomic partition); None if "
            "not spin-polarised or not reported."
        ),
    )
