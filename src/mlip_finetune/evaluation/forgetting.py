"""Forgetting check: each model against the foundation away from the material (paper §3.1).

Fine-tuning on one material can degrade a foundation model elsewhere; multi-head replay
(paper §3.1, §4.3) exists to limit that. This check measures it. Structures far from the
material's training data, the replay prototypes of
:func:`~mlip_finetune.data.replay.replay_structures` (elemental fcc, bcc, sc, diamond,
hcp and binary rock-salt, CsCl, zinc-blende cells of the material's elements, scaled,
strained and rattled), are labelled by the foundation
(:func:`~mlip_finetune.core.labelling.label_with_model`), and every model is scored on those
labels with :func:`~mlip_finetune.evaluation.metrics.validation_metrics`. The foundation's
own row is zero; a fine-tuned model's row is what fine-tuning cost in generality (errors
relative to the foundation, not to DFT).

Energy zero: fine-tuning may move the atomic reference energies (e.g. onto GPAW's isolated-
atom zero), which shifts every energy by ``Σ_el n_el δ_el`` without changing forces or
relative energies. Those per-element shifts are fitted by least squares on the set and
removed before the energy errors (:mod:`mlip_finetune.core.energy_zero`), and reported.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from jobflow import job

from mlip_finetune.schemas.properties import ForgettingDocument, ForgettingRow

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ase import Atoms
    from pymatgen.core import Structure

    from mlip_finetune.schemas.dft import StaticDocument

#: Label of the foundation's own (zero) row.
FOUNDATION_LABEL: str = "foundation"
#: Default number of prototype structures (the paper's replay set has 100; a check needs fewer).
DEFAULT_N_STRUCTURES: int = 20


class _MemoisedCalculator(Calculator):
    """Evaluate each distinct structure once with ``inner`` and replay the results.

    The energy-shift fit and the error metrics look at the same structures; this keeps the
    model to one evaluation per structure (energy eV, forces eV/Å, stress eV/Å³).
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, inner: Calculator) -> None:
        super().__init__()
        self.inner = inner
        self.memo: dict[tuple[bytes, ...], dict] = {}

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        """Fill ``results`` from the memo, evaluating ``inner`` on a new structure."""
        super().calculate(atoms, properties, system_changes)
        key = (
            self.atoms.numbers.tobytes(),
            self.atoms.positions.tobytes(),
            self.atoms.cell.array.tobytes(),
        )
        if key not in self.memo:
            copy = self.atoms.copy()
            copy.calc = self.inner
            energy = float(copy.get_potential_energy())
            self.memo[key] = {
                "energy": energy,
                "free_energy": energy,
                "forces": np.array(copy.get_forces(), dtype=float),
                "stress": np.array(copy.get_stress(voigt=True), dtype=float),
            }
        memo = self.memo[key]
        self.results = {
            "energy": memo["energy"],
            "free_energy": memo["free_energy"],
            "forces": memo["forces"].copy(),
            "stress": memo["stress"].copy(),
        }


def _elements(structure_or_elements: Structure | dict | Sequence[str]) -> list[str]:
    """Element symbols of a structure (or its dict) or of a list of symbols, sorted by Z."""
    from pymatgen.core import Element, Structure

    if isinstance(structure_or_elements, dict):
        structure_or_elements = Structure.from_dict(structure_or_elements)
    if isinstance(structure_or_elements, Structure):
        symbols = [el.symbol for el in structure_or_elements.composition.elements]
    elif isinstance(structure_or_elements, str):
        symbols = [structure_or_elements]
    else:
        symbols = [str(el) for el in structure_or_elements]
    try:
        elements = sorted({Element(s) for s in symbols}, key=lambda el: el.Z)
    except ValueError as err:
        raise ValueError(f"not element symbols: {symbols}") from err
    if not elements:
        raise ValueError("the forgetting check needs at least one element")
    return [el.symbol for el in elements]


def element_energy_shifts(
    calculator: Calculator, labels: Sequence[StaticDocument], elements: Sequence[str]
) -> dict[str, float]:
    """Per-element shifts δ_el between the labels' energy zero and the model's (eV/atom).

    :func:`mlip_finetune.core.energy_zero.fit_energy_shift` with one column per element:
    least squares of ``E_label,s − E_model,s = Σ_el n_el,s δ_el`` over the structures
    (``numpy.linalg.lstsq``, minimum-norm solution when the compositions cannot separate two
    elements), keyed by element symbol.

    Parameters
    ----------
    calculator
        ASE calculator of the model (energies in eV).
    labels
        Labelled structures (energies in eV).
    elements
        Element symbols, the columns of the fit.

    Returns
    -------
    dict
        Element symbol → δ_el (eV/atom); adding ``Σ n_el δ_el`` to a model energy puts it on
        the labels' energy zero.
    """
    from pymatgen.core import Element

    from mlip_finetune.core.energy_zero import fit_energy_shift

    by_z = fit_energy_shift(calculator, labels, [Element(el).Z for el in elements])
    return {el: by_z[Element(el).Z] for el in elements}


def _shifted(labels: Sequence[StaticDocument], shifts: Mapping[str, float]) -> list[StaticDocument]:
    """Labels moved onto the model's energy zero: E − Σ_el n_el δ_el."""
    from pymatgen.core import Element

    from mlip_finetune.core.energy_zero import shift_energies

    return shift_energies(labels, {Element(el).Z: delta for el, delta in shifts.items()})


def forgetting_document(
    structure_or_elements: Structure | Sequence[str],
    foundation_path: str,
    models: Mapping[str, str],
    *,
    n: int = DEFAULT_N_STRUCTURES,
    seed: int = 0,
    device: str = "auto",
) -> ForgettingDocument:
    """Errors of each model against the foundation's labels on replay prototypes.

    Parameters
    ----------
    structure_or_elements
        The material (its elements are used) or element symbols.
    foundation_path
        Foundation MACE model file; its predictions are the labels.
    models
        Label → MACE model file of each model to check (the fine-tuned ones). A model
        labelled ``"foundation"`` must be the foundation file itself.
    n
        Number of prototype structures.
    seed
        Random seed of :func:`~mlip_finetune.data.replay.replay_structures`.
    device
        Torch device.

    Returns
    -------
    ForgettingDocument
        The foundation's row (zero by construction) first, then one row per model in the
        order given: energy errors in meV/atom after removing per-element shifts
        (:func:`element_energy_shifts`), forces in meV/Å, stresses in GPa.

    Raises
    ------
    ValueError
        If ``n`` < 1, no element is given, or a model labelled ``"foundation"`` is another
        file than ``foundation_path``.
    """
    from pathlib import Path

    from mlip_finetune.core.calculators import mace_calculator
    from mlip_finetune.core.labelling import label_with_model
    from mlip_finetune.core.provenance import sha256_file
    from mlip_finetune.data.replay import replay_structures
    from mlip_finetune.evaluation.metrics import validation_metrics

    start = time.perf_counter()
    elements = _elements(structure_or_elements)
    foundation = Path(foundation_path).expanduser().resolve()
    models = dict(models)
    if FOUNDATION_LABEL in models:
        if Path(models[FOUNDATION_LABEL]).expanduser().resolve() != foundation:
            raise ValueError(
                f"model {FOUNDATION_LABEL!r} is {models[FOUNDATION_LABEL]}, not the foundation "
                f"{foundation}; give it another label"
            )
        del models[FOUNDATION_LABEL]
    structures = replay_structures(elements, n=n, seed=seed)
    labels = label_with_model(structures, str(foundation), label="forgetting", device=device)

    rows = []
    for label, path in [(FOUNDATION_LABEL, str(foundation)), *models.items()]:
        calculator = _MemoisedCalculator(mace_calculator(path, device=device))
        shifts = element_energy_shifts(calculator, labels, elements)
        rows.append(
            ForgettingRow(
                label=label,
                model_path=str(path),
                model_sha256=sha256_file(path),
                element_energy_shifts=shifts,
                metrics=validation_metrics(calculator, _shifted(labels, shifts)),
            )
        )
    return ForgettingDocument(
        elements=elements,
        foundation_path=str(foundation),
        foundation_sha256=sha256_file(foundation),
        n_structures=len(structures),
        seed=seed,
        formulas=[s.composition.reduced_formula for s in structures],
        rows=rows,
        wall_time_s=time.perf_counter() - start,
    )


@job(output_schema=ForgettingDocument)
def forgetting_check(
    structure_or_elements: Structure | Sequence[str],
    foundation_path: str,
    models: Mapping[str, str],
    *,
    n: int = DEFAULT_N_STRUCTURES,
    seed: int = 0,
    device: str = "auto",
) -> ForgettingDocument:
    """Job of :func:`forgetting_document`: every model against the foundation, one job.

    Parameters
    ----------
    structure_or_elements
        The material or its element symbols.
    foundation_path
        Foundation MACE model file.
    models
        Label → model file.
    n, seed
        Number of prototypes and random seed.
    device
        Torch device.

    Returns
    -------
    ForgettingDocument
        See :func:`forgetting_document`.
    """
    return forgetting_document(
        structure_or_elements, foundation_path, models, n=n, seed=seed, device=device
    )
