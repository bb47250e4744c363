"""The property-error job: every model against the reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobflow import job

from mlip_finetune.evaluation.metrics import compare_properties
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_metadata

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlip_finetune.schemas.evaluation import PhononDocument
    from mlip_finetune.schemas.properties import ModelPropertiesDocument, PropertyErrors


@job(metadata=tag_metadata(JobKind.LIGHT, Stage.PROPERTIES))
def property_errors(
    model_docs: Sequence[ModelPropertiesDocument],
    reference_doc: ModelPropertiesDocument,
    model_phonons: Sequence[PhononDocument] | None = None,
    reference_phonons: PhononDocument | None = None,
) -> list[PropertyErrors]:
    """Compare every model's properties with the reference.

    One :func:`~mlip_finetune.evaluation.metrics.compare_properties` per model.

    Parameters
    ----------
    model_docs
        One document per model.
    reference_doc
        Reference (DFT) document.
    model_phonons
        Phonon documents of the models, same order (optional, for dynamical stability).
    reference_phonons
        Phonon document of the reference.

    Returns
    -------
    list of PropertyErrors
        One per model, same order.

    Raises
    ------
    ValueError
        If ``model_phonons`` has a different length than ``model_docs``.
    """
    if model_phonons is not None and len(model_phonons) != len(model_docs):
        raise ValueError(f"{len(model_phonons)} phonon documents for {len(model_docs)} models")
    phonons = model_phonons if model_phonons is not None else [None] * len(model_docs)
    return [
        compare_properties(
            doc, reference_doc, model_phonons=ph, reference_phonons=reference_phonons
        )
        for doc, ph in zip(model_docs, phonons, strict=True)
    ]
