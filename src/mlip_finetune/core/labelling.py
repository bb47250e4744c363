"""Label structures with a model: energies, forces and stresses from any ASE calculator.

The stand-in foundation (CHGNet as teacher), the multi-head replay set, surrogate
distillation and the forgetting check all turn structures into
:class:`~mlip_finetune.schemas.dft.StaticDocument` labels the same way, with
:func:`label_structures`; :func:`label_with_model` does it with a MACE model file.

A StaticDocument's ``kpoints`` is the Monkhorst-Pack mesh of a DFT calculation. A machine-
learned model has none: :func:`label_structures` records ``[]`` unless the caller says
otherwise (the stand-in's CHGNet labels have always said ``[1, 1, 1]``; nothing reads it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure


def label_structures(
    structures: Sequence[Structure],
    calculator: Calculator,
    *,
    label: str,
    engine: str,
    kpoints: Sequence[int] = (),
) -> list[StaticDocument]:
    """Label structures with an ASE calculator.

    Parameters
    ----------
    structures
        Structures to label.
    calculator
        Any ASE calculator giving energy (eV), forces (eV/Å) and stress (eV/Å³).
    label
        Prefix of each document's label (``"<label> i"``).
    engine
        Recorded as the documents' ``engine`` (e.g. ``"chgnet"``, ``"mace:<file>"``).
    kpoints
        Recorded as the documents' ``kpoints``; a model has no k-point mesh (``[]``).

    Returns
    -------
    list of StaticDocument
        One per structure, in order: energy (eV), forces (eV/Å), stress (GPa, ASE sign),
        ``settings = {}``, ``converged = True``, the wall time of the calculator call (s).
    """
    docs = []
    for i, structure in enumerate(structures):
        atoms = structure.to_ase_atoms()
        atoms.calc = calculator
        start = time.perf_counter()
        energy = float(atoms.get_potential_energy())
        forces = atoms.get_forces()
        stress = atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA
        docs.append(
            StaticDocument(
                label=f"{label} {i}",
                structure=structure,
                energy=energy,
                forces=forces.tolist(),
                stress=stress.tolist(),
                engine=engine,
                settings={},
                kpoints=list(kpoints),
                wall_time_s=time.perf_counter() - start,
                converged=True,
            )
        )
    return docs


def label_with_model(
    structures: Sequence[Structure], model_path: str, label: str = "replay", device: str = "cpu"
) -> list[StaticDocument]:
    """Label structures with a MACE model file (:func:`label_structures`).

    Parameters
    ----------
    structures
        Structures to label.
    model_path
        MACE model file.
    label
        Prefix of each document's label (``"<label> i"``).
    device
        Torch device.

    Returns
    -------
    list of StaticDocument
        ``engine = "mace:<file name>"``, no k-points; stress in GPa, ASE sign.
    """
    from mlip_finetune.core.calculators import mace_calculator

    return label_structures(
        structures,
        mace_calculator(model_path, device=device),
        label=label,
        engine=f"mace:{Path(model_path).name}",
    )
