"""Elastic tensor: atomate2 strain set, exact fit of synthetic stresses, sign convention, EMT Cu."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.evaluation.elastic import (
    DEFAULT_STRAIN_MAGNITUDES,
    ElasticFitError,
    elastic_deformations,
    elastic_document_from_stresses,
    elastic_from_calculator,
    stress_from_ase,
    stress_from_vasp,
)
from mlip_finetune.evaluation.eos import eos_from_calculator
from mlip_finetune.schemas.properties import ElasticDocument

VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


@pytest.fixture(scope="module")
def cu():
    return AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.6))


@pytest.fixture(scope="module")
def cu_elastic(cu):
    return elastic_from_calculator(cu, EMT(), "emt")


def test_default_strains_are_atomate2s(cu):
    assert DEFAULT_STRAIN_MAGNITUDES == (-0.01, -0.005, 0.005, 0.01)
    deformations, structures = elastic_deformations(cu, sym_reduce=False)
    # 6 strain states x 4 magnitudes.
    assert len(deformations) == len(structures) == 24
    magnitudes = set()
    for d, s in zip(deformations, structures, strict=True):
        strain = np.asarray(d.green_lagrange_strain)
        nonzero = [(i, j) for i, j in VOIGT if abs(strain[i, j]) > 1e-6]
        assert len(nonzero) == 1  # one independent strain component per structure
        i, j = nonzero[0]
        magnitudes.add(round(float(strain[i, j]), 4))
        assert np.allclose(s.lattice.matrix, cu.lattice.matrix @ np.asarray(d).T)
    assert magnitudes == {-0.01, -0.005, 0.005, 0.01}
    reduced, _ = elastic_deformations(cu)
    assert len(reduced) < 24  # cubic symmetry reduces the set


def _synthetic_stiffness():
    """A positive-definite 6x6 Voigt tensor with no symmetry zeros (GPa)."""
    rng = np.random.default_rng(1)
    a = rng.normal(0, 15, (6, 6))
    return np.diag([210, 180, 160, 70, 60, 50]) + 0.5 * (a + a.T)


def test_fit_recovers_tensor_from_exact_stresses():
    """Stresses made from C by hand (PK2 = C:E, Cauchy = F S Fᵀ/det F) give C back."""
    stiffness = _synthetic_stiffness()
    structure = Structure(Lattice.from_parameters(3.1, 3.4, 3.9, 80, 95, 104), ["Al"], [[0, 0, 0]])
    deformations, _ = elastic_deformations(structure, sym_reduce=False)
    stresses = []
    for d in deformations:
        f = np.asarray(d)
        green = 0.5 * (f.T @ f - np.eye(3))
        green_voigt = np.array([green[i, j] * (1 if i == j else 2) for i, j in VOIGT])
        pk2_voigt = stiffness @ green_voigt
        pk2 = np.zeros((3, 3))
        for k, (i, j) in enumerate(VOIGT):
            pk2[i, j] = pk2[j, i] = pk2_voigt[k]
        stresses.append(f @ pk2 @ f.T / np.linalg.det(f))
    doc = elastic_document_from_stresses(structure, deformations, stresses, "exact", symprec=None)
    assert np.allclose(doc.elastic_tensor_raw, stiffness, atol=1e-6 * stiffness.max())
    assert doc.elastically_stable
    assert ElasticDocument.model_validate(doc.model_dump()) == doc

    # VASP-signed stresses taken as physical ones flip the tensor: the sign matters.
    flipped = elastic_document_from_stresses(
        structure, deformations, [-s for s in stresses], "flipped", symprec=None
    )
    assert np.allclose(flipped.elastic_tensor_raw, -stiffness, atol=1e-6 * stiffness.max())
    assert not flipped.elastically_stable

    with pytest.raises(ElasticFitError, match="one per deformation"):
        elastic_document_from_stresses(structure, deformations, stresses[:-1], "short")


def test_stress_sign_convention_on_strained_cell(cu_elastic):
    """ASE stress of a stretched cell is tensile (> 0) and equals C·ε to first order."""
    c = np.asarray(cu_elastic.elastic_tensor)
    atoms = AseAtomsAdaptor.get_atoms(cu_elastic.structure)
    atoms.calc = EMT()
    eq = stress_from_ase(atoms.get_stress())
    eps = 0.002
    stretched = atoms.copy()
    stretched.calc = EMT()
    stretched.set_cell(atoms.cell @ np.diag([1 + eps, 1, 1]), scale_atoms=True)
    sigma = stress_from_ase(stretched.get_stress(voigt=False)) - eq
    assert sigma[0, 0] > 0  # tensile
    assert sigma[0, 0] == pytest.approx(c[0, 0] * eps, rel=0.02)
    assert sigma[1, 1] == pytest.approx(c[0, 1] * eps, rel=0.02)
    compressed = atoms.copy()
    compressed.calc = EMT()
    compressed.set_cell(atoms.cell @ np.diag([1 - eps, 1, 1]), scale_atoms=True)
    assert stress_from_ase(compressed.get_stress())[0, 0] - eq[0, 0] < 0

    # Units and the Voigt form: 1 eV/Å³ = 160.2 GPa; ASE Voigt order xx yy zz yz xz xy.
    voigt = np.array([1.0, 2.0, 3.0, 0.4, 0.5, 0.6]) * 1e-3
    full = stress_from_ase(voigt)
    assert full[0, 0] == pytest.approx(0.1602177, rel=1e-6)
    assert full[1, 2] == full[2, 1] == pytest.approx(0.4 * 0.1602177, rel=1e-6)
    assert full[0, 1] == pytest.approx(0.6 * 0.1602177, rel=1e-6)
    # VASP: kBar, compressive > 0.
    assert np.allclose(stress_from_vasp(-10.0 * sigma), sigma)
    with pytest.raises(ValueError, match="shape"):
        stress_from_ase(np.zeros(4))


def test_emt_cu_elastic_tensor(cu_elastic):
    c = np.asarray(cu_elastic.elastic_tensor)
    assert c.shape == (6, 6)
    c11, c12, c44 = c[0, 0], c[0, 1], c[3, 3]
    assert c11 > c12 > 0
    assert c44 > 0
    # Cubic symmetry.
    for value in (c[1, 1], c[2, 2]):
        assert value == pytest.approx(c11, rel=0.01)
    for value in (c[0, 2], c[1, 2]):
        assert value == pytest.approx(c12, rel=0.01)
    for value in (c[4, 4], c[5, 5]):
        assert value == pytest.approx(c44, rel=0.01)
    assert np.abs(c[:3, 3:]).max() < 0.01 * c11
    assert np.abs(c[3:, 3:] - np.diag(np.diag(c[3:, 3:]))).max() < 0.01 * c11
    # Cubic moduli: K_V = K_R = (C11 + 2 C12)/3, G_V = (C11 − C12 + 3 C44)/5.
    assert cu_elastic.k_vrh == pytest.approx((c11 + 2 * c12) / 3, rel=0.01)
    assert cu_elastic.k_voigt == pytest.approx(cu_elastic.k_reuss, rel=1e-3)
    assert cu_elastic.g_voigt == pytest.approx((c11 - c12 + 3 * c44) / 5, rel=0.01)
    assert cu_elastic.g_reuss < cu_elastic.g_vrh < cu_elastic.g_voigt
    assert cu_elastic.elastically_stable
    assert all(cu_elastic.relax_converged)
    assert cu_elastic.fmax == pytest.approx(1e-3)
    # EMT Cu is fitted to experiment (C11 168, C12 121, C44 75 GPa): same ballpark.
    assert 140 < c11 < 200
    assert 60 < c44 < 100


def test_emt_cu_bulk_modulus_agrees_with_eos(cu, cu_elastic):
    eos = eos_from_calculator(cu, EMT(), "emt")
    assert cu_elastic.k_vrh == pytest.approx(eos.b0, rel=0.05)


def test_internal_relaxation_of_hcp():
    """hcp has an internal coordinate that in-plane strains couple to (atoms are not inversion
    centres): relaxing it lowers C11 and C66 and leaves C33 alone; both tensors stay hexagonal.
    """
    hcp = AseAtomsAdaptor.get_structure(bulk("Cu", "hcp", a=2.54, c=4.14))
    kwargs = {"relax": False, "sym_reduce": False}
    relaxed = elastic_from_calculator(hcp, EMT(), "relaxed", **kwargs)
    clamped = elastic_from_calculator(hcp, EMT(), "clamped", fmax=1e3, **kwargs)
    assert all(relaxed.relax_converged)
    c_rel = np.asarray(relaxed.elastic_tensor)
    c_cl = np.asarray(clamped.elastic_tensor)
    assert c_rel[0, 0] < c_cl[0, 0] - 5  # GPa
    assert c_rel[5, 5] < c_cl[5, 5] - 5
    assert c_rel[2, 2] == pytest.approx(c_cl[2, 2], rel=1e-3)
    for c in (c_rel, c_cl):
        assert c[5, 5] == pytest.approx((c[0, 0] - c[0, 1]) / 2, rel=0.01)
        assert c[1, 1] == pytest.approx(c[0, 0], rel=0.01)
