"""Helpers of the fitting tests: DFT-like statics labelled by a test model."""

from __future__ import annotations

from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from mlip_finetune.core.calculators import mace_calculator
from mlip_finetune.schemas.data import TrainingDataDocument, TrainingFrame
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA


def labelled_statics(model_path, n):
    """``n`` rattled diamond-Si cells labelled by a model, energies and forces perturbed.

    Energies are the model's plus 0.1·i eV and forces 1.2× the model's, so that training has
    something to learn; stresses in GPa (ASE sign).
    """
    calc = mace_calculator(model_path, device="cpu")
    docs = []
    for i in range(n):
        atoms = bulk("Si", "diamond", a=5.40 + 0.03 * i)
        atoms.rattle(0.05, seed=i)
        atoms.calc = calc
        docs.append(
            StaticDocument(
                label=str(i),
                structure=AseAtomsAdaptor.get_structure(atoms),
                energy=atoms.get_potential_energy() + 0.1 * i,
                forces=(atoms.get_forces() * 1.2).tolist(),
                stress=(atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA).tolist(),
                engine="test",
                settings={},
                kpoints=[1, 1, 1],
                wall_time_s=0.0,
                converged=True,
            )
        )
    return docs


def training_data_document(statics):
    """3 trajectories × 3 frames: trajectory 2 is validation; frame_index 0..2."""
    frames = [
        TrainingFrame(
            structure=s.structure,
            trajectory_index=i // 3,
            volume_scale=[-0.05, 0.05, 0.0][i // 3],
            frame_index=i % 3,
            relaxation_step=i % 3,
            foundation_energy=s.energy,
            split="validation" if i // 3 == 2 else "train",
        )
        for i, s in enumerate(statics)
    ]
    return TrainingDataDocument(
        formula="Si",
        protocol="primitive",
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        n_atoms_supercell=2,
        frames=frames,
        relaxations=[],
        n_train=6,
        n_validation=3,
        seed=0,
        foundation_model_path="",
        foundation_model_sha256="",
    )
