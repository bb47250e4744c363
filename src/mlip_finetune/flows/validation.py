"""The door of a material flow: everything checked before a MaterialFlowMaker builds a job.

:func:`validate_material` is called by
:meth:`~mlip_finetune.flows.material.MaterialFlowMaker.make` (so a Flow built in Python fails
when it is built, not hours later on a cluster) and so by every command that builds one
(``mlip-finetune run``, ``run --dry-run``, ``submit``). In order, each with its own exception
(all :class:`~mlip_finetune.core.errors.InputError`):

1. the structure (:func:`~mlip_finetune.core.validation.validate_structure`): periodic,
   ordered, real elements, atoms apart;
2. the foundation's elements, read from its model file, or the stand-in teacher's
   (:func:`~mlip_finetune.foundation.elements.check_foundation_elements`);
3. the DFT engine's elements: PAW setups or POTCARs
   (:func:`~mlip_finetune.dft.engines.check_engine_elements`);
4. the cells the protocol sends to DFT (:func:`dft_workload`) against the maker's limit of
   atoms per DFT static (``MaterialFlowMaker.max_dft_atoms``, set per preset from
   ``PresetSizes.max_dft_atoms`` in :mod:`mlip_finetune.flows.presets`):
   :class:`DFTSizeError`, which names the presets that fit.

:func:`jobs_by_stage` groups a built flow's jobs by their tag's stage (``run --dry-run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.core.errors import InputError, MlipFinetuneError
from mlip_finetune.core.validation import StructureError, validate_structure
from mlip_finetune.data.supercells import (
    SupercellError,
    primitive_standard,
    supercell_matrix_for_protocol,
)
from mlip_finetune.dft.engines import check_engine_elements
from mlip_finetune.foundation.elements import check_foundation_elements
from mlip_finetune.schemas.jobs import STAGE_ORDER, Stage, job_tag

if TYPE_CHECKING:
    from jobflow import Flow
    from pymatgen.core import Structure

    from mlip_finetune.flows.material import MaterialFlowMaker
    from mlip_finetune.foundation import FoundationModel

__all__ = [
    "DFTBatch",
    "DFTSizeError",
    "MaterialWorkload",
    "check_dft_elements",
    "check_dft_size",
    "dft_workload",
    "jobs_by_stage",
    "validate_material",
]


class DFTSizeError(InputError):
    """The protocol would send larger cells to DFT than the preset allows."""


@dataclass(frozen=True)
class DFTBatch:
    """DFT calculations of one kind that a material flow will run.

    Attributes
    ----------
    stage
        Pipeline stage of the calculations.
    description
        What they are, e.g. ``"training statics"``.
    n_calculations
        Number of calculations (statics; a relaxation counts once).
    n_atoms
        Atoms per calculation.
    """

    stage: Stage
    description: str
    n_calculations: int
    n_atoms: int

    @property
    def text(self) -> str:
        """Return e.g. ``"training statics (small cell): 20 × 8 atoms"``."""
        return f"{self.description}: {self.n_calculations} × {self.n_atoms} atoms"


@dataclass(frozen=True)
class MaterialWorkload:
    """The cells of one material flow and the DFT calculations they will cost.

    Attributes
    ----------
    unit_cell
        The primitive standard cell every stage starts from (Å).
    phonon_matrix
        3×3 phonon supercell matrix (phonopy's convention), DFT and ML alike.
    training_matrix
        3×3 supercell matrix of the training data's protocol (relative to ``unit_cell``).
    batches
        The DFT calculations, in pipeline order.
    """

    unit_cell: Structure
    phonon_matrix: list[list[int]]
    training_matrix: list[list[int]]
    batches: tuple[DFTBatch, ...]

    @property
    def max_atoms(self) -> int:
        """Return the atoms of the largest DFT calculation (0 without DFT)."""
        return max((b.n_atoms for b in self.batches), default=0)

    def by_stage(self, stage: Stage) -> list[DFTBatch]:
        """Return the batches of one stage."""
        return [b for b in self.batches if b.stage is stage]


def validate_material(
    structure: Structure, foundation: FoundationModel, maker: MaterialFlowMaker
) -> MaterialWorkload:
    """Check everything a material flow needs before any job is built (the door).

    Parameters
    ----------
    structure
        The user's structure (Å).
    foundation
        The resolved foundation (or a dry run's stand-in placeholder).
    maker
        The maker about to build the flow.

    Returns
    -------
    MaterialWorkload
        The cells and the DFT calculations of the flow.

    Raises
    ------
    mlip_finetune.core.validation.StructureError
        A non-periodic, disordered or overlapping structure (its subclasses).
    mlip_finetune.foundation.UnsupportedElementError
        An element the foundation (or the stand-in's teacher) lacks.
    mlip_finetune.foundation.elements.InvalidModelFileError
        A foundation file that is not a MACE model.
    mlip_finetune.dft.engines.DFTElementError
        An element without PAW setups or POTCARs.
    mlip_finetune.data.supercells.SupercellError
        No training or phonon supercell for the cell.
    DFTSizeError
        Cells above the maker's ``max_dft_atoms``.
    """
    validate_structure(structure)
    check_foundation_elements(foundation, [site.specie.Z for site in structure])
    check_dft_elements(structure, maker)
    workload = dft_workload(structure, maker)
    check_dft_size(structure, workload, maker)
    return workload


def check_dft_elements(structure: Structure, maker: MaterialFlowMaker) -> None:
    """Raise if the maker's DFT engine cannot compute an element of the structure.

    The engine and its settings are read from the static Maker's ``settings_record()``
    (``engine``: ``gpaw`` or ``vasp``); a static Maker without one, or of another engine
    (e.g. a test's model-labelled "DFT"), is not checked.

    Parameters
    ----------
    structure
        The material.
    maker
        Its flow maker.

    Raises
    ------
    mlip_finetune.dft.engines.DFTElementError
        See :func:`~mlip_finetune.dft.engines.check_engine_elements`.
    """
    record_of = getattr(maker.static_maker, "settings_record", None)
    record = record_of() if callable(record_of) else {}
    engine = record.get("engine") if isinstance(record, dict) else None
    if engine is None:
        return
    check_engine_elements(engine, [el.symbol for el in structure.composition.elements], record)


def _primitive(structure: Structure) -> Structure:
    """Return the primitive standard cell, or raise a StructureError if spglib fails."""
    try:
        return primitive_standard(structure)
    except MlipFinetuneError:
        raise
    except Exception as exc:
        raise StructureError(
            f"The symmetry analysis (spglib) of {structure.composition.reduced_formula} "
            f"failed ({type(exc).__name__}: {exc}); check the lattice and the coordinates."
        ) from exc


def _phonon_matrix(unit_cell: Structure, maker: MaterialFlowMaker) -> list[list[int]]:
    """Return the maker's phonon supercell matrix, or raise a SupercellError.

    atomate2's search is capped at the maker's limit of atoms per DFT static
    (:func:`~mlip_finetune.evaluation.supercells.atomate2_supercell_matrix`).
    """
    from mlip_finetune.evaluation.phonons import phonon_supercell_matrix

    if maker.phonon_supercell_matrix is not None:
        return [list(map(int, row)) for row in maker.phonon_supercell_matrix]
    try:
        return phonon_supercell_matrix(
            unit_cell, maker.phonon_min_length, max_atoms=maker.max_dft_atoms
        )
    except MlipFinetuneError:
        raise
    except (ValueError, AttributeError, RuntimeError) as exc:
        raise SupercellError(
            f"No phonon supercell of at least {maker.phonon_min_length} Å found for "
            f"{unit_cell.composition.reduced_formula} ({type(exc).__name__}: {exc})."
        ) from exc


def _n_displacements(unit_cell: Structure, matrix: list[list[int]], displacement: float) -> int:
    """Return the number of phonopy's symmetry-reduced finite displacements."""
    from mlip_finetune.evaluation.phonons import make_phonopy

    return len(make_phonopy(unit_cell, matrix, displacement).displacements)


def dft_workload(structure: Structure, maker: MaterialFlowMaker) -> MaterialWorkload:
    """Return the cells of a material flow and the DFT calculations they will cost.

    Training statics: ``len(volume_scales) × n_frames`` of the training-data maker, each of
    the protocol's supercell; phonon displacements: phonopy's symmetry-reduced displacements
    of the phonon supercell; one relaxation of the unit cell if the maker relaxes; with a DFT
    property suite that counts its calculations (GPAW's), its relaxation and its EOS and
    elastic points.
    Nothing is computed beyond symmetry and supercell searches (seconds).

    Parameters
    ----------
    structure
        The material (validated).
    maker
        Its flow maker.

    Returns
    -------
    MaterialWorkload

    Raises
    ------
    mlip_finetune.data.supercells.SupercellError
        If the protocol's or the phonon supercell cannot be found.
    mlip_finetune.core.validation.StructureError
        If the symmetry analysis fails.
    """
    unit_cell = _primitive(structure)
    data_maker = maker.training_data_maker
    training = np.asarray(supercell_matrix_for_protocol(unit_cell, data_maker.protocol))
    phonon = _phonon_matrix(unit_cell, maker)
    n_unit = len(unit_cell)
    batches = [
        DFTBatch(
            Stage.DFT_STATICS,
            f"training statics ({data_maker.protocol} cell)",
            len(data_maker.volume_scales) * data_maker.n_frames,
            _n_atoms(training, n_unit),
        )
    ]
    if maker.relax_maker is not None:
        batches.append(DFTBatch(Stage.DFT_PHONONS, "relaxation (unit cell)", 1, n_unit))
    batches.append(
        DFTBatch(
            Stage.DFT_PHONONS,
            "phonon displacement statics",
            _n_displacements(unit_cell, phonon, maker.displacement),
            _n_atoms(phonon, n_unit),
        )
    )
    batches.extend(_property_batches(unit_cell, maker.dft_properties_maker))
    return MaterialWorkload(
        unit_cell=unit_cell,
        phonon_matrix=phonon,
        training_matrix=training.astype(int).tolist(),
        batches=tuple(batches),
    )


def _property_batches(unit_cell: Structure, properties_maker: object) -> list[DFTBatch]:
    """Return the DFT property suite's calculations on the unit cell, as the suite counts them.

    ``DFTPropertiesMaker.dft_calculations``; none for a suite that cannot say (atomate2's
    VASP flows) or without a suite.
    """
    count = getattr(properties_maker, "dft_calculations", None)
    if count is None:
        return []
    n_unit = len(unit_cell)
    return [
        DFTBatch(Stage.PROPERTIES, description, n, n_unit) for description, n in count(unit_cell)
    ]


def _n_atoms(matrix: object, n_unit: int) -> int:
    """Return the atoms of a supercell of an ``n_unit``-atom cell."""
    return round(abs(float(np.linalg.det(np.asarray(matrix, dtype=float))))) * n_unit


def check_dft_size(
    structure: Structure, workload: MaterialWorkload, maker: MaterialFlowMaker
) -> None:
    """Raise if a DFT calculation would exceed the maker's atoms per static.

    Parameters
    ----------
    structure
        The material.
    workload
        Its DFT calculations (:func:`dft_workload`).
    maker
        Its flow maker; ``max_dft_atoms`` None means no limit.

    Raises
    ------
    DFTSizeError
        Saying how many statics of how many atoms, the limit, and which presets fit.
    """
    limit = maker.max_dft_atoms
    if limit is None or workload.max_atoms <= limit:
        return
    preset = f"preset {maker.preset}" if maker.preset else "this maker"
    sent = ", ".join(b.text for b in workload.batches)
    raise DFTSizeError(
        f"{structure.composition.reduced_formula} ({len(workload.unit_cell)} atoms in its "
        f"primitive cell) is too big for {preset} (at most {limit} atoms per DFT static): it "
        f"would send to DFT {sent}. {_presets_that_fit(workload.unit_cell)}"
    )


def _presets_that_fit(unit_cell: Structure) -> str:
    """Return which presets accept the cell, e.g. ``"Use --preset paper (no limit)."``."""
    from mlip_finetune.evaluation.phonons import phonon_supercell_matrix
    from mlip_finetune.flows.presets import PRESETS

    fits = []
    by_limit = sorted(PRESETS.items(), key=lambda item: item[1].max_dft_atoms or np.inf)
    for preset, sizes in by_limit:
        if sizes.max_dft_atoms is None:
            fits.append(f"{preset.value} (no limit)")
            continue
        try:
            training = supercell_matrix_for_protocol(unit_cell, sizes.data["protocol"])
            phonon = phonon_supercell_matrix(
                unit_cell, sizes.min_length, max_atoms=sizes.max_dft_atoms
            )
        except (ValueError, AttributeError, RuntimeError):
            continue
        largest = max(_n_atoms(training, len(unit_cell)), _n_atoms(phonon, len(unit_cell)))
        if largest <= sizes.max_dft_atoms:
            fits.append(
                f"{preset.value} (at most {sizes.max_dft_atoms} atoms per static; {largest} here)"
            )
    return (
        f"Use --preset {' or '.join(fits)}, or a smaller cell." if fits else "Use a smaller cell."
    )


def jobs_by_stage(flow: Flow) -> dict[str, list[str]]:
    """Return a flow's job names grouped by their tag's stage, in pipeline order.

    Parameters
    ----------
    flow
        A built flow (nested flows included).

    Returns
    -------
    dict of str to list of str
        Stage value (:class:`~mlip_finetune.schemas.jobs.Stage`) → job names; untagged jobs
        under ``"other"``.
    """
    grouped: dict[Stage, list[str]] = {}
    for job, _ in flow.iterflow():
        tag = job_tag(job)
        grouped.setdefault(tag.stage if tag else Stage.OTHER, []).append(job.name)
    return {stage.value: grouped[stage] for stage in STAGE_ORDER if stage in grouped}
