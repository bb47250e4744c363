"""Phase keys: space-group information, and a model's phases against a reference's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlip_finetune.evaluation.stability import set_precision_recall_f1
from mlip_finetune.schemas.phase_transitions import PhaseTransitionDocument

if TYPE_CHECKING:
    from pymatgen.core import Structure


def space_group_info(structure: Structure, symprec: float) -> tuple[str, int, int]:
    """Space group and primitive-cell size with spglib (via pymatgen's SpacegroupAnalyzer).

    Parameters
    ----------
    structure
        Any structure (Å).
    symprec
        spglib distance tolerance (Å); the paper uses 0.1 Å (§4.6).

    Returns
    -------
    tuple
        ``(symbol, number, n_primitive_atoms)``; ``(number, n_primitive_atoms)`` is the phase
        key compared between models (SI 7.6).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
    return (
        analyzer.get_space_group_symbol(),
        analyzer.get_space_group_number(),
        len(analyzer.find_primitive()),
    )


def compare_phase_sets(
    reference_doc: PhaseTransitionDocument | dict,
    model_doc: PhaseTransitionDocument | dict,
) -> tuple[float, float, float]:
    """Precision, recall and F1 of a model's new phases against a reference (Table 4).

    SI 7.6: both sets already exclude the initial phase; a model phase is a true positive when
    a reference phase has the same space group and number of atoms in the primitive cell,
    i.e. the same phase key. The counting and the empty-set conventions are those of
    :func:`~mlip_finetune.evaluation.stability.set_precision_recall_f1`.

    Parameters
    ----------
    reference_doc
        Reference (DFT) document, or its dict.
    model_doc
        Model document for the same initial phase, or its dict.

    Returns
    -------
    tuple of float
        ``(precision, recall, f1)``, each in [0, 1].

    Raises
    ------
    ValueError
        If the two documents start from different phases (space group or primitive size).
    """
    reference = PhaseTransitionDocument.model_validate(reference_doc)
    model = PhaseTransitionDocument.model_validate(model_doc)
    initial_ref = (reference.initial_space_group_number, reference.initial_n_primitive_atoms)
    initial_model = (model.initial_space_group_number, model.initial_n_primitive_atoms)
    if initial_ref != initial_model:
        raise ValueError(
            f"documents start from different phases: reference {initial_ref}, model "
            f"{initial_model} (space-group number, primitive atoms)"
        )
    return set_precision_recall_f1(
        {tuple(key) for key in reference.phase_keys}, {tuple(key) for key in model.phase_keys}
    )
