"""Documents of the property evaluations: EOS, elastic tensor, Slack κ, stability (paper §4.5).

Also the per-model property bundle, its errors against a reference and the forgetting check.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, computed_field
from pymatgen.core import Structure  # noqa: TC002

from mlip_finetune.schemas.evaluation import ValidationMetrics  # noqa: TC001
from mlip_finetune.schemas.phase_transitions import (  # noqa: TC001
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)


class EOSOutlier(BaseModel):
    """One E(V) point excluded from the Birch–Murnaghan fit, and why."""

    index: int = Field(description="Index of the point in the input order.")
    volume: float = Field(description="Volume of the point (Å³/atom).")
    energy: float = Field(description="Energy of the point (eV/atom).")
    residual: float = Field(
        description="E − E_fit (meV/atom) from the final fit, which this point took no part in."
    )
    threshold: float = Field(description="Threshold it exceeded (meV/atom).")
    reason: str = Field(description="The rule, in words, with the numbers.")


class EOSDocument(BaseModel):
    """Birch–Murnaghan equation of state of one model (or DFT) for one material (paper §4.5).

    Volumes and energies are per atom, so V0 is in Å³/atom and E0 in eV/atom; B0 does not
    depend on that choice.
    """

    label: str = Field(description="Who computed the energies: 'dft', 'foundation', …")
    structure: Structure | None = Field(
        default=None, description="Equilibrium structure the volumes were scaled from (Å)."
    )
    n_atoms: int = Field(description="Atoms per cell of the computed structures.")
    volume_strains: list[float] | None = Field(
        default=None, description="Relative volume changes V/V_eq − 1 of the points, if known."
    )
    volumes: list[float] = Field(description="Volumes of all points (Å³/atom).")
    energies: list[float] = Field(description="Energies of all points (eV/atom).")
    included: list[bool] = Field(description="Whether each point entered the final fit.")
    excluded: list[EOSOutlier] = Field(
        default_factory=list, description="Points dropped by the outlier rule, by index."
    )
    outlier_factor: float = Field(description="k of the outlier rule (× median |residual|).")
    outlier_floor: float = Field(description="Floor of the outlier threshold (meV/atom).")
    max_outliers: int = Field(description="Most points the rule may drop.")
    e0: float = Field(description="Energy at the minimum (eV/atom).")
    v0: float = Field(description="Equilibrium volume (Å³/atom).")
    b0: float = Field(description="Bulk modulus at V0 (GPa).")
    b0_prime: float = Field(description="Pressure derivative of the bulk modulus, dB/dP.")
    rms_residual: float = Field(description="RMS residual of the final fit (meV/atom).")
    relax_converged: list[bool] | None = Field(
        default=None, description="Whether each fixed-volume relaxation converged (ML path)."
    )
    relax_cell_shape: bool | None = Field(
        default=None,
        description="Whether the cell shape was relaxed at fixed volume (False: positions only).",
    )
    wall_time_s: float = Field(default=0.0, description="Wall time (s).")
    model_path: str | None = Field(default=None, description="MACE model file, None for DFT.")
    model_sha256: str | None = None


class ElasticDocument(BaseModel):
    """Second-order elastic tensor and Voigt/Reuss/Hill moduli (paper §3.4, §4.1, SI 7.4).

    Stresses follow the physics (and ASE) sign convention, tensile > 0, in GPa; VASP's output
    has the opposite sign and kBar units.
    """

    label: str = Field(description="Who computed the stresses: 'dft', 'foundation', …")
    structure: Structure = Field(description="Equilibrium structure that was strained (Å).")
    elastic_tensor: list[list[float]] = Field(
        description="6×6 Voigt elastic tensor (GPa) in the IEEE standard orientation "
        "(pymatgen ElasticTensor.convert_to_ieee)."
    )
    elastic_tensor_raw: list[list[float]] = Field(
        description="6×6 Voigt elastic tensor (GPa) in the Cartesian frame of `structure`."
    )
    k_voigt: float = Field(description="Voigt bulk modulus (GPa).")
    k_reuss: float = Field(description="Reuss bulk modulus (GPa).")
    k_vrh: float = Field(description="Voigt–Reuss–Hill bulk modulus (GPa).")
    g_voigt: float = Field(description="Voigt shear modulus (GPa).")
    g_reuss: float = Field(description="Reuss shear modulus (GPa).")
    g_vrh: float = Field(description="Voigt–Reuss–Hill shear modulus (GPa), SI eq. 6.")
    universal_anisotropy: float = Field(description="5 G_V/G_R + K_V/K_R − 6 (0 = isotropic).")
    homogeneous_poisson: float = Field(description="Poisson ratio from K_VRH and G_VRH.")
    elastically_stable: bool = Field(
        description="All eigenvalues of the 6×6 Voigt tensor positive (Born criterion)."
    )
    fitting_method: str = Field(description="pymatgen fit: 'finite_difference', …")
    deformations: list[list[list[float]]] = Field(
        description="Deformation gradients F (3×3) of the computed structures."
    )
    stresses: list[list[list[float]]] = Field(
        description="Cauchy stresses (3×3, GPa, tensile > 0) of the computed structures."
    )
    equilibrium_stress: list[list[float]] | None = Field(
        default=None, description="Stress of the unstrained structure (3×3, GPa, tensile > 0)."
    )
    fmax: float | None = Field(
        default=None, description="Force threshold of the internal relaxations (eV/Å)."
    )
    relax_converged: list[bool] | None = Field(
        default=None, description="Whether each strained structure's relaxation converged."
    )
    wall_time_s: float = Field(default=0.0, description="Wall time (s).")
    model_path: str | None = Field(default=None, description="MACE model file, None for DFT.")
    model_sha256: str | None = None


class SlackDocument(BaseModel):
    """Slack lattice thermal conductivity from elastic moduli (paper SI 7.4, eqs. 1–4)."""

    label: str | None = Field(default=None, description="Model or 'dft'.")
    bulk_modulus: float = Field(description="B_VRH used (GPa).")
    shear_modulus: float = Field(description="G_VRH used (GPa).")
    mean_atomic_mass: float = Field(description="Average atomic mass M̄ (amu).")
    volume_per_atom: float = Field(description="Volume per atom δ³ (Å³).")
    n_atoms_primitive: int = Field(description="Atoms in the primitive cell, n.")
    density: float = Field(description="Mass density ρ = M̄/δ³ (kg/m³).")
    transverse_velocity: float = Field(description="v_T = (G/ρ)^½ (m/s), SI eq. 3.")
    longitudinal_velocity: float = Field(description="v_L = ((B + 4G/3)/ρ)^½ (m/s), SI eq. 4.")
    mean_velocity: float = Field(description="Debye mean v_m = [(2/v_T³ + 1/v_L³)/3]^(-1/3) (m/s).")
    poisson_ratio: float = Field(description="ν from v_T/v_L, SI eq. 2.")
    gruneisen: float = Field(description="γ = 3/2 (1 + ν)/(2 − 3ν), SI eq. 2.")
    debye_temperature: float = Field(
        description="Θ_D = (ħ/k_B) v_m (6π²/δ³)^⅓ (K), all 3N modes (pymatgen's definition)."
    )
    acoustic_debye_temperature: float = Field(description="Θ_a = Θ_D n^(-1/3) (K).")
    slack_coefficient: float = Field(
        description="A(γ) of eq. 1 (W K / (m amu Å K³)), κ in W/(m·K) for M̄ in amu, δ in Å."
    )
    temperature: float = Field(description="Temperature T (K).")
    kappa: float = Field(description="Slack lattice thermal conductivity at T (W/(m·K)).")


class StabilityConfusion(BaseModel):
    """Dynamical-stability confusion matrix of a model against a reference (paper Table 3).

    The stable class is the *positive* one and the unstable class the *negative* one, so the
    paper's "negative precision/recall" are precision and recall of the unstable class. The
    paper labels its rows by the *reference* class: "false stable" is a reference-stable
    material predicted unstable, "false unstable" a reference-unstable material predicted
    stable (only this reading reproduces Table 3's column sums, 44 stable + 9 unstable, and
    its percentages).
    """

    n_materials: int = Field(description="Number of materials compared.")
    true_stable: int = Field(description="Reference stable, predicted stable (TP).")
    false_stable: int = Field(
        description="Reference stable, predicted unstable (FN; the paper's 'false stable')."
    )
    false_unstable: int = Field(
        description="Reference unstable, predicted stable (FP; the paper's 'false unstable')."
    )
    true_unstable: int = Field(description="Reference unstable, predicted unstable (TN).")
    negative_precision: float | None = Field(
        description="true_unstable / (true_unstable + false_stable): share of predicted-"
        "unstable materials that are unstable in the reference; None if none is predicted "
        "unstable."
    )
    negative_recall: float | None = Field(
        description="true_unstable / (true_unstable + false_unstable): share of reference-"
        "unstable materials predicted unstable; None if the reference has none."
    )
    false_stable_materials: list[str] = Field(
        default_factory=list, description="Keys of the reference-stable, predicted-unstable."
    )
    false_unstable_materials: list[str] = Field(
        default_factory=list, description="Keys of the reference-unstable, predicted-stable."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tp(self) -> int:
        """True positives (stable is positive): reference and prediction stable."""
        return self.true_stable

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tn(self) -> int:
        """True negatives: reference and prediction unstable."""
        return self.true_unstable

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fp(self) -> int:
        """False positives: predicted stable, reference unstable."""
        return self.false_unstable

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fn(self) -> int:
        """False negatives: predicted unstable, reference stable."""
        return self.false_stable


class ModelPropertiesDocument(BaseModel):
    """EOS, elastic tensor, Slack κ and phase transitions of one model (or DFT), one material.

    Output of :class:`~mlip_finetune.evaluation.jobs.MLPropertiesMaker` (one job per model)
    and :class:`~mlip_finetune.evaluation.jobs.DFTPropertiesMaker` (label ``"dft"``). A
    property whose analysis is impossible for this model (an E(V) curve without a minimum, an
    elastic tensor with non-positive moduli) is ``None`` and its reason is in ``failures``:
    a poor model is a result to report, not a crash of the whole evaluation.
    """

    label: str = Field(description="Who computed the properties: 'dft', 'foundation', …")
    structure: Structure = Field(
        description="Equilibrium structure every property was computed from (Å): relaxed "
        "by this model (or DFT) when `relaxed`, else the input."
    )
    relaxed: bool = Field(description="Whether cell and positions were relaxed first.")
    relax_converged: bool | None = Field(
        default=None, description="Whether that relaxation reached its force threshold."
    )
    eos: EOSDocument | None = Field(default=None, description="Birch–Murnaghan EOS.")
    elastic: ElasticDocument | None = Field(default=None, description="Elastic tensor, VRH.")
    slack: SlackDocument | None = Field(
        default=None, description="Slack κ, Debye temperature, Grüneisen from the elastic moduli."
    )
    phase_transitions: PhaseTransitionDocument | None = Field(
        default=None, description="Phase-transition search; None when not requested or failed."
    )
    phase_transition_settings: PhaseTransitionSettings | None = Field(
        default=None, description="Settings of the search, None when it was not requested."
    )
    failures: dict[str, str] = Field(
        default_factory=dict,
        description="Property ('eos', 'elastic', 'slack', 'phase_transitions') → why it is "
        "missing.",
    )
    wall_times: dict[str, float] = Field(
        default_factory=dict,
        description="Wall time per step (s): 'relax' (DFT without relaxation: 'static'), "
        "'eos', 'elastic', 'slack' (ML only), 'phase_transitions' and 'total' (DFT: sums of "
        "the calculations' wall times).",
    )
    engine: str = Field(description="'mace', 'gpaw', or the ASE calculator's class name.")
    dft_settings: dict | None = Field(
        default=None, description="DFTSettings used (model_dump()), None for ML models."
    )
    model_path: str | None = Field(default=None, description="MACE model file, None for DFT.")
    model_sha256: str | None = None


class PropertyErrors(BaseModel):
    """Errors of one model's properties against a reference's (paper §3.4–3.5, §4.5, Table 4).

    Relative errors are ``100·(model − reference)/reference`` in %, signed, as in
    :class:`~mlip_finetune.schemas.evaluation.PhononPropertyErrors`; ``None`` when either
    document lacks the property or the reference value is zero.
    """

    label: str = Field(description="Model label.")
    reference_label: str = Field(description="Reference label (usually 'dft').")
    b0: float | None = Field(default=None, description="Relative error of the EOS B0 (%).")
    b0_prime: float | None = Field(default=None, description="Relative error of B0' (%).")
    v0: float | None = Field(default=None, description="Relative error of V0 (%).")
    k_vrh: float | None = Field(default=None, description="Relative error of K_VRH (%).")
    g_vrh: float | None = Field(default=None, description="Relative error of G_VRH (%).")
    c11: float | None = Field(
        default=None, description="Relative error of C11 of the IEEE-oriented tensor (%)."
    )
    c12: float | None = Field(default=None, description="Relative error of C12 (%).")
    c44: float | None = Field(default=None, description="Relative error of C44 (%).")
    slack_kappa: float | None = Field(
        default=None, description="Relative error of the Slack κ at 300 K (%)."
    )
    debye_temperature: float | None = Field(
        default=None, description="Relative error of the Debye temperature Θ_D (%)."
    )
    gruneisen: float | None = Field(
        default=None, description="Relative error of the Grüneisen parameter γ (%)."
    )
    elastic_stability_agreement: bool | None = Field(
        default=None, description="Both Born-stable or both Born-unstable (None: no tensor)."
    )
    model_unstable: bool | None = Field(
        default=None, description="Model dynamically unstable (see stability_source)."
    )
    reference_unstable: bool | None = Field(
        default=None, description="Reference dynamically unstable (see stability_source)."
    )
    stability_agreement: bool | None = Field(
        default=None, description="Model and reference agree on dynamical stability."
    )
    stability_source: str | None = Field(
        default=None,
        description="'phonons': PhononDocument.has_imaginary_modes (commensurate q-points, "
        "paper §4.6); 'phase_transitions': any unstable mode found by the search (seekpath "
        "points and band minima); None: no information.",
    )
    phase_precision: float | None = Field(
        default=None, description="Precision of the new-phase set (Table 4), in [0, 1]."
    )
    phase_recall: float | None = Field(default=None, description="Recall of the phase set.")
    phase_f1: float | None = Field(default=None, description="F1 of the phase set.")
    n_model_phases: int | None = Field(default=None, description="New phases of the model.")
    n_reference_phases: int | None = Field(default=None, description="New phases of the reference.")


class ForgettingRow(BaseModel):
    """Errors of one model against the foundation's own labels (the forgetting check)."""

    label: str = Field(description="Model label ('foundation' for the zero row).")
    model_path: str = Field(description="MACE model file.")
    model_sha256: str
    element_energy_shifts: dict[str, float] = Field(
        description="Per-element energy shifts δ_el (eV/atom) removed before the energy "
        "errors: least squares of E_foundation − E_model = Σ_el n_el δ_el over the set, i.e. "
        "a change of atomic reference energies is not counted as forgetting."
    )
    metrics: ValidationMetrics = Field(
        description="Energy (meV/atom, after the shifts), force (meV/Å) and stress (GPa) "
        "errors against the foundation's labels."
    )


class ForgettingDocument(BaseModel):
    """How much of the foundation's generality each model kept (paper §3.1 replay idea).

    Structures far from the material's training data, the multi-head replay prototypes of
    :func:`~mlip_finetune.data.replay.replay_structures` (elemental and binary prototypes
    of the material's elements, strained, scaled and rattled), are labelled by the
    foundation; each model's errors against those labels measure what fine-tuning cost
    away from the material. The foundation's own row is zero by construction.
    """

    elements: list[str] = Field(description="Elements the prototypes were built from.")
    foundation_path: str
    foundation_sha256: str
    n_structures: int = Field(description="Number of prototype structures.")
    seed: int = Field(description="Random seed of replay_structures.")
    formulas: list[str] = Field(description="Reduced formula of each structure, in order.")
    rows: list[ForgettingRow] = Field(description="Foundation first, then the models.")
    wall_time_s: float = Field(description="Wall time of labelling and evaluation (s).")
