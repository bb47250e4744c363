"""Slack thermal conductivity (paper SI 7.4 eqs. 1–4): hand arithmetic, pymatgen, EMT Cu."""

from __future__ import annotations

import math

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.analysis.elasticity import ElasticTensor
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.evaluation.elastic import elastic_from_calculator
from mlip_finetune.evaluation.thermal_conductivity import (
    n_atoms_in_primitive_cell,
    slack_from_calculator,
    slack_from_elastic,
    slack_from_structure,
    slack_prefactor,
    slack_thermal_conductivity,
)


def test_slack_hand_computed():
    # B = 100 GPa, G = 60 GPa, M̄ = 40 amu, δ³ = 20 Å³, n = 2, T = 300 K.
    doc = slack_thermal_conductivity(100.0, 60.0, 40.0, 20.0, 2, temperature=300.0)
    # ρ = 40 · 1.66053906660e-27 kg / 20e-30 m³
    assert doc.density == pytest.approx(3321.078, rel=1e-6)  # kg/m³
    # eq. 3: v_T = (60e9 / 3321.078)^½ ; eq. 4: v_L = ((100 + 80)e9 / 3321.078)^½
    assert doc.transverse_velocity == pytest.approx(4250.461, rel=1e-6)  # m/s
    assert doc.longitudinal_velocity == pytest.approx(7362.015, rel=1e-6)
    # eq. 2: (v_T/v_L)² = 60/180 = 1/3 → ν = (1 − 2/3)/(2 − 2/3) = 1/4,
    #        γ = 3/2 · (1 + 1/4)/(2 − 3/4) = 3/2.
    assert doc.poisson_ratio == pytest.approx(0.25, abs=1e-12)
    assert doc.gruneisen == pytest.approx(1.5, abs=1e-12)
    # v_m = [(2/4250.461³ + 1/7362.015³)/3]^(-1/3) = 4718.818 m/s
    assert doc.mean_velocity == pytest.approx(4718.818, rel=1e-6)
    # Θ_D = ħ/k_B · v_m · (6π²/20e-30 m³)^(1/3) = 517.567 K; Θ_a = Θ_D/2^(1/3) = 410.793 K
    assert doc.debye_temperature == pytest.approx(517.567, rel=1e-5)
    assert doc.acoustic_debye_temperature == pytest.approx(410.793, rel=1e-5)
    # eq. 1 with A(γ) = 2.43e-6/(1 − 0.514/1.5 + 0.228/2.25) = 3.2030e-6 (ref. 19):
    # κ = 3.2030e-6 · 40 · 410.793³ · 20^(1/3) · 2^(1/3)/(1.5² · 300) = 44.999 W/(m·K)
    assert doc.slack_coefficient == pytest.approx(3.2030e-6, rel=1e-3)
    assert doc.kappa == pytest.approx(44.999, rel=1e-3)
    assert slack_prefactor() == pytest.approx(2.43e-6, rel=1e-3)


def test_slack_scalings():
    base = slack_thermal_conductivity(100.0, 60.0, 40.0, 20.0, 2)
    # κ ∝ 1/T.
    hot = slack_thermal_conductivity(100.0, 60.0, 40.0, 20.0, 2, temperature=600.0)
    assert hot.kappa == pytest.approx(base.kappa / 2, rel=1e-12)
    # Per-atom quantities fixed: Θ_a³ n^(1/3) = Θ_D³ n^(-2/3), so κ ∝ n^(-2/3).
    bigger = slack_thermal_conductivity(100.0, 60.0, 40.0, 20.0, 16)
    assert bigger.debye_temperature == pytest.approx(base.debye_temperature)
    assert bigger.kappa == pytest.approx(base.kappa * 8 ** (-2 / 3), rel=1e-12)
    # Same G/B ratio: ν and γ unchanged, velocities ∝ √B.
    stiff = slack_thermal_conductivity(400.0, 240.0, 40.0, 20.0, 2)
    assert stiff.gruneisen == pytest.approx(base.gruneisen)
    assert stiff.transverse_velocity == pytest.approx(2 * base.transverse_velocity)


def test_slack_bad_input():
    with pytest.raises(ValueError, match="positive moduli"):
        slack_thermal_conductivity(100.0, -5.0, 40.0, 20.0, 2)
    with pytest.raises(ValueError, match="volume_per_atom"):
        slack_thermal_conductivity(100.0, 60.0, 40.0, 0.0, 2)


def test_slack_matches_pymatgen_where_they_overlap():
    """pymatgen's ElasticTensor helpers are an independent implementation of eqs. 2–4, Θ_D."""
    si = AseAtomsAdaptor.get_structure(bulk("Si", "diamond", a=5.43, cubic=True))  # 8 atoms
    assert n_atoms_in_primitive_cell(si) == 2
    b, g = 98.0, 66.5
    # Isotropic tensor with these moduli: C11 = B + 4G/3, C12 = B − 2G/3, C44 = G.
    c11, c12 = b + 4 * g / 3, b - 2 * g / 3
    tensor = ElasticTensor.from_voigt(
        [
            [c11, c12, c12, 0, 0, 0],
            [c12, c11, c12, 0, 0, 0],
            [c12, c12, c11, 0, 0, 0],
            [0, 0, 0, g, 0, 0],
            [0, 0, 0, 0, g, 0],
            [0, 0, 0, 0, 0, g],
        ]
    )
    doc = slack_from_structure(si, b, g)
    assert doc.n_atoms_primitive == 2
    assert doc.transverse_velocity == pytest.approx(tensor.trans_v(si), rel=1e-6)
    assert doc.longitudinal_velocity == pytest.approx(tensor.long_v(si), rel=1e-6)
    assert doc.poisson_ratio == pytest.approx(tensor.homogeneous_poisson, rel=1e-9)
    assert doc.debye_temperature == pytest.approx(tensor.debye_temperature(si), rel=1e-6)
    # Si: Θ_D from elastic constants ≈ 645 K (experiment 645 K), density 2.33 g/cm³.
    assert doc.debye_temperature == pytest.approx(645, rel=0.03)
    assert doc.density == pytest.approx(2330, rel=0.01)


def test_slack_from_emt_cu():
    cu = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.6))
    elastic = elastic_from_calculator(cu, EMT(), "emt")
    doc = slack_from_elastic(elastic)
    assert doc.label == "emt"
    assert doc.bulk_modulus == elastic.k_vrh
    assert doc.shear_modulus == elastic.g_vrh
    assert doc.n_atoms_primitive == 1
    assert doc.acoustic_debye_temperature == doc.debye_temperature
    # Cu: Θ_D ≈ 343 K (experiment); EMT's elastic constants are close to experiment.
    assert 300 < doc.debye_temperature < 420
    # Metals have γ ≈ 2 (Cu: 2.0); the Poisson-ratio estimate lands near it.
    assert 1.5 < doc.gruneisen < 2.5
    direct = slack_from_calculator(cu, EMT(), "emt", elastic_kwargs={"sym_reduce": False})
    assert direct.kappa == pytest.approx(doc.kappa, rel=1e-3)
    assert math.isfinite(doc.kappa)
    assert doc.kappa > 0
