"""Slack lattice thermal conductivity from elastic moduli (paper §3.4, SI 7.4 eqs. 1–4).

The paper's equations are the specification:

- eq. 3, 4: sound velocities from the Voigt–Reuss–Hill moduli and the mass density ρ,
  ``v_T = (G/ρ)^½``, ``v_L = ((B + 4G/3)/ρ)^½``;
- eq. 2: Poisson ratio and Grüneisen parameter from their ratio,
  ``ν = (1 − 2x²)/(2 − 2x²)`` with ``x = v_T/v_L``, ``γ = 3/2 (1 + ν)/(2 − 3ν)``
  (Jia, Chen & Zhang, PRB 95, 155206 (2017), the paper's ref. 19);
- eq. 1: ``κ = A(γ) M̄ δ n^(1/3) Θ³/(γ² T)``.

Eq. 1 is Slack's formula in the form of ref. 19: M̄ the average atomic mass (amu), δ³ the
volume per atom (δ in Å), n the number of atoms in the primitive cell, and Θ the *acoustic*
Debye temperature ``Θ_a = Θ_D n^(-1/3)``; the paper writes Θ_D, which coincides with Θ_a
only for one atom per primitive cell. ``Θ_D = (ħ/k_B) v_m (6π²/δ³)^(1/3)`` with the Debye
mean velocity ``v_m = [(2/v_T³ + 1/v_L³)/3]^(-1/3)``. The paper does not print A(γ); ref. 19
(after Julian 1965) uses ``A(γ) = 2.43e-6/(1 − 0.514/γ + 0.228/γ²)`` for κ in W/(m·K). We
compute the constant from CODATA values, ``0.849·3·4^(1/3)/(20π³) · k_B³/ħ³ · amu · Å``
(= 2.4296e-6, the prefactor of Slack's formula as written by Toher et al., PRB 90, 174107
(2014)), rather than use the rounded 2.43.

pymatgen's ``ElasticTensor`` agrees where it overlaps: ``trans_v``/``long_v`` are eqs. 3–4,
``homogeneous_poisson`` equals ν of eq. 2, and ``debye_temperature`` is Θ_D above (not Θ_a).
pymatgen has no Slack conductivity (it offers Clarke's and Cahill's minimum conductivities).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlip_finetune.schemas.properties import SlackDocument

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from mlip_finetune.schemas.properties import ElasticDocument

#: Temperature of the paper's Slack conductivities (K).
SLACK_TEMPERATURE_K: float = 300.0


def slack_prefactor() -> float:
    """Slack's constant ``0.849·3·4^(1/3)/(20π³) · k_B³/ħ³ · amu · Å`` (≈ 2.43e-6).

    Returns
    -------
    float
        The numerator of A(γ): with M̄ in amu, δ in Å and temperatures in K,
        ``κ = A(γ) M̄ Θ_a³ δ n^(1/3)/(γ² T)`` comes out in W/(m·K).
    """
    from scipy import constants

    k_over_hbar = constants.k / constants.hbar
    geometric = 0.849 * 3.0 * 4.0 ** (1.0 / 3.0) / (20.0 * math.pi**3)
    return geometric * k_over_hbar**3 * constants.atomic_mass * 1e-10


def slack_thermal_conductivity(
    bulk_modulus: float,
    shear_modulus: float,
    mean_atomic_mass: float,
    volume_per_atom: float,
    n_atoms_primitive: int,
    *,
    temperature: float = SLACK_TEMPERATURE_K,
    label: str | None = None,
) -> SlackDocument:
    """Slack thermal conductivity and its intermediate quantities (SI 7.4 eqs. 1–4).

    Parameters
    ----------
    bulk_modulus
        Voigt–Reuss–Hill bulk modulus B_VRH (GPa).
    shear_modulus
        Voigt–Reuss–Hill shear modulus G_VRH (GPa).
    mean_atomic_mass
        Average atomic mass M̄ = total mass / number of atoms (amu).
    volume_per_atom
        Volume per atom δ³ (Å³). The mass density is ``ρ = M̄/δ³`` (kg/m³).
    n_atoms_primitive
        Number of atoms n in the primitive cell.
    temperature
        T (K), default 300 K (paper §3.4).
    label
        Stored in the document.

    Returns
    -------
    SlackDocument
        ρ (kg/m³), v_T, v_L, v_m (m/s), ν, γ, Θ_D and Θ_a (K), A(γ) and κ (W/(m·K)).

    Raises
    ------
    ValueError
        If B or G is not positive (the velocities would be imaginary; an elastically
        unstable tensor has no Slack conductivity), or another input is not positive.
    """
    from scipy import constants

    if not (bulk_modulus > 0 and shear_modulus > 0):
        raise ValueError(
            f"Slack κ needs positive moduli, got B = {bulk_modulus} GPa, G = {shear_modulus} GPa"
        )
    for name, value in (
        ("mean_atomic_mass", mean_atomic_mass),
        ("volume_per_atom", volume_per_atom),
        ("n_atoms_primitive", n_atoms_primitive),
        ("temperature", temperature),
    ):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")

    volume_m3 = volume_per_atom * 1e-30
    density = mean_atomic_mass * constants.atomic_mass / volume_m3  # kg/m³
    v_t = math.sqrt(shear_modulus * 1e9 / density)  # eq. 3
    v_l = math.sqrt((bulk_modulus + 4.0 / 3.0 * shear_modulus) * 1e9 / density)  # eq. 4
    ratio2 = (v_t / v_l) ** 2
    poisson = (1.0 - 2.0 * ratio2) / (2.0 - 2.0 * ratio2)  # eq. 2
    gruneisen = 1.5 * (1.0 + poisson) / (2.0 - 3.0 * poisson)  # eq. 2
    v_m = ((2.0 / v_t**3 + 1.0 / v_l**3) / 3.0) ** (-1.0 / 3.0)
    theta_d = constants.hbar / constants.k * v_m * (6.0 * math.pi**2 / volume_m3) ** (1.0 / 3.0)
    theta_a = theta_d * n_atoms_primitive ** (-1.0 / 3.0)
    coefficient = slack_prefactor() / (1.0 - 0.514 / gruneisen + 0.228 / gruneisen**2)
    delta = volume_per_atom ** (1.0 / 3.0)  # Å
    kappa = (
        coefficient
        * mean_atomic_mass
        * delta
        * n_atoms_primitive ** (1.0 / 3.0)
        * theta_a**3
        / (gruneisen**2 * temperature)
    )  # eq. 1
    return SlackDocument(
        label=label,
        bulk_modulus=bulk_modulus,
        shear_modulus=shear_modulus,
        mean_atomic_mass=mean_atomic_mass,
        volume_per_atom=volume_per_atom,
        n_atoms_primitive=int(n_atoms_primitive),
        density=density,
        transverse_velocity=v_t,
        longitudinal_velocity=v_l,
        mean_velocity=v_m,
        poisson_ratio=poisson,
        gruneisen=gruneisen,
        debye_temperature=theta_d,
        acoustic_debye_temperature=theta_a,
        slack_coefficient=coefficient,
        temperature=temperature,
        kappa=kappa,
    )


def n_atoms_in_primitive_cell(structure: Structure, symprec: float = 0.1) -> int:
    """Count the atoms in the primitive cell of ``structure`` (spglib via pymatgen).

    Parameters
    ----------
    structure
        Any cell of the crystal (Å).
    symprec
        Symmetry precision (Å), atomate2's default 0.1.

    Returns
    -------
    int
        Atoms in the primitive standard cell (``SpacegroupAnalyzer.find_primitive``).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    primitive = SpacegroupAnalyzer(structure, symprec=symprec).find_primitive()
    return len(primitive) if primitive is not None else len(structure)


def slack_from_structure(
    structure: Structure,
    bulk_modulus: float,
    shear_modulus: float,
    *,
    temperature: float = SLACK_TEMPERATURE_K,
    n_atoms_primitive: int | None = None,
    label: str | None = None,
) -> SlackDocument:
    """Slack κ with M̄, δ³ and n taken from a structure.

    Parameters
    ----------
    structure
        Relaxed structure the moduli belong to (Å); ordered or disordered (masses from
        the composition).
    bulk_modulus, shear_modulus
        B_VRH and G_VRH (GPa).
    temperature
        T (K).
    n_atoms_primitive
        Atoms in the primitive cell; ``None`` finds it with :func:`n_atoms_in_primitive_cell`.
    label
        Stored in the document.

    Returns
    -------
    SlackDocument
        See :func:`slack_thermal_conductivity`.

    Raises
    ------
    ValueError
        See :func:`slack_thermal_conductivity`.
    """
    n_atoms = float(structure.composition.num_atoms)
    n_prim = (
        n_atoms_in_primitive_cell(structure) if n_atoms_primitive is None else n_atoms_primitive
    )
    return slack_thermal_conductivity(
        bulk_modulus,
        shear_modulus,
        float(structure.composition.weight) / n_atoms,
        structure.volume / n_atoms,
        n_prim,
        temperature=temperature,
        label=label,
    )


def slack_from_elastic(
    elastic: ElasticDocument, *, temperature: float = SLACK_TEMPERATURE_K
) -> SlackDocument:
    """Slack κ from an elastic document's B_VRH, G_VRH and structure (paper SI 7.4).

    Parameters
    ----------
    elastic
        Output of :func:`~mlip_finetune.evaluation.elastic.elastic_document_from_stresses`.
    temperature
        T (K).

    Returns
    -------
    SlackDocument
        Labelled like ``elastic``.

    Raises
    ------
    ValueError
        If B_VRH or G_VRH is not positive.
    """
    return slack_from_structure(
        elastic.structure,
        elastic.k_vrh,
        elastic.g_vrh,
        temperature=temperature,
        label=elastic.label,
    )


def slack_from_calculator(
    structure: Structure,
    calculator: Calculator,
    label: str,
    *,
    temperature: float = SLACK_TEMPERATURE_K,
    elastic_kwargs: dict | None = None,
) -> SlackDocument:
    """Slack κ with an ASE calculator: elastic tensor, then eqs. 1–4.

    When the elastic document is wanted as well, call
    :func:`~mlip_finetune.evaluation.elastic.elastic_from_calculator` once and pass its
    result to :func:`slack_from_elastic` instead.

    Parameters
    ----------
    structure
        Starting structure (Å); relaxed first by default.
    calculator
        ASE calculator giving energies, forces and stresses.
    label
        Name stored in the document.
    temperature
        T (K).
    elastic_kwargs
        Keyword arguments of
        :func:`~mlip_finetune.evaluation.elastic.elastic_from_calculator`.

    Returns
    -------
    SlackDocument
        See :func:`slack_thermal_conductivity`.
    """
    from mlip_finetune.evaluation.elastic import elastic_from_calculator

    elastic = elastic_from_calculator(structure, calculator, label, **(elastic_kwargs or {}))
    return slack_from_elastic(elastic, temperature=temperature)
