"""Settings of the property suite, shared by every property Maker (paper §4.1, §4.5–4.6).

:class:`PropertySettings` is the protocol (relaxation thresholds, EOS volumes, elastic
strains, Slack temperature, phase-transition search and its phonons) of
:class:`~mlip_finetune.evaluation.jobs.MLPropertiesMaker` (the defaults),
:class:`~mlip_finetune.evaluation.jobs.DFTPropertiesMaker` (:meth:`PropertySettings.dft`)
and :func:`~mlip_finetune.evaluation.properties.properties_from_calculator`;
:func:`check_property_grid` is their build-time check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from mlip_finetune.core.relax import Optimizer  # noqa: TC001  (pydantic needs it at run time)
from mlip_finetune.evaluation.elastic import (
    DEFAULT_STRAIN_MAGNITUDES,
    DEFAULT_SYMPREC,
    FittingMethod,
)
from mlip_finetune.evaluation.eos import DEFAULT_FMAX, DEFAULT_VOLUME_STRAINS, MIN_EOS_POINTS
from mlip_finetune.evaluation.phonons import DEFAULT_DISPLACEMENT, FcCalculator
from mlip_finetune.evaluation.thermal_conductivity import SLACK_TEMPERATURE_K
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings

if TYPE_CHECKING:
    from collections.abc import Sequence


class PropertySettings(BaseModel):
    """Protocol of the property suite, the same for models and DFT (paper §4.1, §4.5–4.6).

    The defaults are the paper's and the ML suite's; :meth:`dft` gives the DFT suite's
    (200 ionic steps, no phase-transition search).
    """

    model_config = ConfigDict(extra="forbid")

    relax: bool = Field(
        default=True,
        description="Relax cell and positions first (FixSymmetry, FrechetCellFilter).",
    )
    fmax: float = Field(
        default=DEFAULT_FMAX,
        description="Force threshold of every relaxation (eV/Å); the paper's 1 meV/Å (§4.1).",
    )
    max_steps: int = Field(
        default=2000,
        description="Step cap of each relaxation (ML: paper §4.6's 2000; DFT: ionic steps).",
    )
    optimizer: Optimizer = Field(default="BFGS", description="ASE optimiser, BFGS or FIRE.")
    volume_strains: tuple[float, ...] = Field(
        default=DEFAULT_VOLUME_STRAINS,
        description="EOS volumes V/V_eq − 1 (dimensionless), −5 … +5 % in 1 % steps (§4.1).",
    )
    relax_cell_shape: bool = Field(
        default=False,
        description="Relax the cell shape at each fixed EOS volume too (calculator suite "
        "only; default positions only, as the paper).",
    )
    strain_magnitudes: tuple[float, ...] = Field(
        default=DEFAULT_STRAIN_MAGNITUDES,
        description="Elastic strain magnitudes (dimensionless), atomate2's ±0.5 %, ±1 %.",
    )
    sym_reduce: bool = Field(
        default=True, description="Compute only symmetry-inequivalent elastic deformations."
    )
    symprec: float = Field(
        default=DEFAULT_SYMPREC,
        description="Symmetry precision of the deformation reduction (Å), atomate2's 0.1.",
    )
    fitting_method: FittingMethod = Field(
        default="finite_difference", description="Elastic fit (pymatgen), as atomate2."
    )
    slack_temperature: float = Field(
        default=SLACK_TEMPERATURE_K, description="Temperature of the Slack κ (K)."
    )
    phase_transitions: bool = Field(
        default=True, description="Run the phase-transition search (paper §3.5, §4.6)."
    )
    phase_transition_settings: PhaseTransitionSettings = Field(
        default_factory=PhaseTransitionSettings,
        description="Settings of the search (grids, atom limit, thresholds).",
    )
    supercell_matrix: list[list[int]] | None = Field(
        default=None,
        description="Phonon supercell of the search (3×3, phonopy convention); None takes "
        "the cubic one of side ≥ min_length.",
    )
    min_length: float = Field(
        default=20.0, description="Minimum phonon supercell side (Å), paper §4.1: 20 Å."
    )
    displacement: float = Field(
        default=DEFAULT_DISPLACEMENT,
        description="Finite displacement of the search's phonons (Å).",
    )
    fc_calculator: FcCalculator = Field(
        default="symfc", description="Force-constant solver, symfc (paper) or traditional."
    )

    @classmethod
    def dft(cls, **overrides: Any) -> PropertySettings:
        """Return the DFT suite's defaults (200 ionic steps, no search), with overrides.

        Parameters
        ----------
        **overrides
            Field values that replace the DFT defaults.

        Returns
        -------
        PropertySettings
        """
        return cls(**{"max_steps": 200, "phase_transitions": False, **overrides})

    @property
    def search_settings(self) -> PhaseTransitionSettings | None:
        """Settings of the phase-transition search, or None when it is switched off."""
        if not self.phase_transitions:
            return None
        return PhaseTransitionSettings.model_validate(self.phase_transition_settings)


def check_property_grid(volume_strains: Sequence[float], fmax: float, max_steps: int) -> None:
    """Build-time checks shared by the property Makers.

    Parameters
    ----------
    volume_strains
        EOS volumes V/V_eq − 1.
    fmax, max_steps
        Relaxation threshold (eV/Å) and step cap.

    Raises
    ------
    ValueError
        If fewer than 5 distinct volume strains, a strain ≤ −1, or a non-positive
        ``fmax``/``max_steps`` is given.
    """
    strains = [float(s) for s in volume_strains]
    if len(strains) < MIN_EOS_POINTS or len(set(strains)) != len(strains):
        raise ValueError(
            f"volume_strains needs at least {MIN_EOS_POINTS} distinct values for a "
            f"Birch–Murnaghan fit, got {strains}"
        )
    if min(strains) <= -1:
        raise ValueError(f"volume_strains must be > -1, got {strains}")
    if fmax <= 0 or max_steps <= 0:
        raise ValueError(f"fmax and max_steps must be positive, got {fmax} and {max_steps}")
