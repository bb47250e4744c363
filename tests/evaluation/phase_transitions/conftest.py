"""Toy crystals with known instabilities for the phase-transition tests (paper §3.5, §4.6).

The toy is a CsCl-type crystal, A (Pb) at the corners and B (Ti) in the body centre, with
an ASE calculator written below:

- on-site double well of each B relative to the centroid of its 8 A neighbours,
  ``Σ_α a_α d_α² + b d_α⁴`` with ``d = r_B − mean(r_A)``; ``a_α < 0`` is a double well;
- vector springs ``(k/2)|D − D0|²`` between nearest A–A and B–B neighbours (``D0`` the ideal
  bond vector), which fix the lattice at ``(a0, a0, c0)`` and set the dispersion; a negative
  B–B constant couples neighbouring B antiferro-distortively.

Because everything is separable by Cartesian component, the distorted minima are analytic:

- tetragonal, ``a_z < 0``, B–B ferro springs: a 1-D unstable Γ mode (B against A along z);
  the minimum has ``d_z² = −a_z/(2b)``, energy ``−a_z²/(4b)`` per B, space group P4mm;
- cubic, ``a > 0``, B–B springs ``κ < 0`` with ``a + 6κ < 0 < a + 4κ``: only the B modes at
  R = (½, ½, ½) are unstable (3-fold); the A atoms decouple there, each B moves by ``±δ``
  against its six B neighbours, energy per B and axis ``(a + 6κ)δ² + bδ⁴``, minimum along
  [111] in the two-cell supercell of R.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Lattice, Structure

from mlip_finetune.evaluation.phase_transitions import (
    phonopy_from_calculator,
    search_phase_transitions,
)
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings

A0 = 4.0
A_SYMBOL, B_SYMBOL = "Pb", "Ti"


def _neighbours(atoms, cutoff):
    """All (i, j, D = r_j − r_i + image) with |D| < cutoff, by brute force over images.

    ASE's ``neighbor_list`` gives the same pairs, ~20x slower on these few-atom cells.
    """
    cell = atoms.cell[:]
    reps = np.ceil(cutoff * np.linalg.norm(np.linalg.inv(cell), axis=0)).astype(int)
    images = np.array(list(np.ndindex(*(2 * reps + 1)))) - reps
    shifts = images @ cell
    pos = atoms.positions
    vectors = pos[None, :, None] - pos[:, None, None] + shifts[None, None]  # (i, j, image)
    distance = np.linalg.norm(vectors, axis=-1)
    i, j, k = np.nonzero((distance < cutoff) & (distance > 1e-8))
    return i, j, vectors[i, j, k]


class ToyDoubleWell(Calculator):
    """Energy, forces and stress of the toy CsCl crystal described in the module docstring."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(
        self,
        quadratic: tuple[float, float, float],
        quartic: float,
        *,
        k_aa: float,
        k_bb: float,
        a0: float = A0,
        c0: float = A0,
    ) -> None:
        super().__init__()
        self.quadratic = np.asarray(quadratic, dtype=float)
        self.quartic = quartic
        self.springs = {A_SYMBOL: k_aa, B_SYMBOL: k_bb}
        self.cell0 = np.array([a0, a0, c0])

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        symbols = np.array(atoms.get_chemical_symbols())
        n = len(atoms)
        cutoff = 1.2 * self.cell0.max()
        first, second, vectors = _neighbours(atoms, cutoff)  # D = r_j − r_i
        energy = 0.0
        forces = np.zeros((n, 3))
        virial = np.zeros((3, 3))

        # Same-species vector springs; every bond appears twice in the list.
        for symbol, k in self.springs.items():
            mask = (symbols[first] == symbol) & (symbols[second] == symbol)
            vec = vectors[mask]
            ideal = np.rint(vec / self.cell0) * self.cell0
            nearest = np.count_nonzero(np.rint(vec / self.cell0), axis=1) == 1
            strain = (vec - ideal)[nearest]
            energy += 0.25 * k * np.sum(strain**2)
            grad = 0.5 * k * strain  # dE/dD per ordered pair
            np.add.at(forces, first[mask][nearest], grad)
            np.add.at(forces, second[mask][nearest], -grad)
            virial += vec[nearest].T @ grad

        # On-site double well of B relative to the centroid of its 8 A neighbours.
        mask = (symbols[first] == B_SYMBOL) & (symbols[second] == A_SYMBOL)
        centres, cages, vec = first[mask], second[mask], vectors[mask]
        order = np.argsort(centres, kind="stable")
        centres, cages, vec = centres[order], cages[order], vec[order]
        b_atoms = np.flatnonzero(symbols == B_SYMBOL)
        counts = np.bincount(centres, minlength=n)[b_atoms]
        assert np.all(counts == 8), counts
        d = -vec.reshape(len(b_atoms), 8, 3).mean(axis=1)  # r_B − centroid(A)
        energy += np.sum(self.quadratic * d**2 + self.quartic * d**4)
        g = 2 * self.quadratic * d + 4 * self.quartic * d**3  # dE/dd
        forces[b_atoms] -= g
        np.add.at(forces, cages, np.repeat(g, 8, axis=0) / 8)
        virial += vec.T @ (-np.repeat(g, 8, axis=0) / 8)

        stress = 0.5 * (virial + virial.T) / atoms.get_volume()
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces,
            "stress": stress.flat[[0, 4, 8, 5, 2, 1]],
        }


def cscl(a0: float = A0, c0: float = A0) -> Structure:
    return Structure(Lattice.tetragonal(a0, c0), [A_SYMBOL, B_SYMBOL], [[0, 0, 0], [0.5, 0.5, 0.5]])


def mass_ratio() -> float:
    structure = cscl()
    return structure[1].specie.atomic_mass / structure[0].specie.atomic_mass


C0 = 4.2
GAMMA_A, GAMMA_B = -1.0, 5.0  # Γ toy: a_z (eV/Å²), b (eV/Å⁴); d* = 0.316 Å
R_A, R_KAPPA, R_B = 1.0, -0.2, 1.0  # R toy: a + 6κ = -0.2, a + 4κ = +0.2 eV/Å²; δ = 0.316 Å


def gamma_toy() -> ToyDoubleWell:
    return ToyDoubleWell((1.0, 1.0, GAMMA_A), GAMMA_B, k_aa=2.0, k_bb=2.0, c0=C0)


def r_toy() -> ToyDoubleWell:
    return ToyDoubleWell((R_A,) * 3, R_B, k_aa=2.0, k_bb=R_KAPPA)


def stable_toy() -> ToyDoubleWell:
    return ToyDoubleWell((1.0,) * 3, 1.0, k_aa=2.0, k_bb=2.0)


@pytest.fixture(scope="package")
def gamma_doc():
    calculator = gamma_toy()
    phonon = phonopy_from_calculator(cscl(c0=C0), calculator, [2, 2, 2])
    settings = PhaseTransitionSettings(max_amplitude=0.5)
    return search_phase_transitions(phonon, calculator, "toy-gamma", settings=settings)


@pytest.fixture(scope="package")
def r_doc():
    calculator = r_toy()
    phonon = phonopy_from_calculator(cscl(), calculator, [2, 2, 2])
    settings = PhaseTransitionSettings(max_amplitude=0.5)
    start = time.perf_counter()
    doc = search_phase_transitions(phonon, calculator, "toy-r", settings=settings)
    doc.wall_time_s = time.perf_counter() - start
    return doc, phonon
