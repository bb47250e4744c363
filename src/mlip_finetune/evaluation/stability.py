"""Dynamical-stability classification and set metrics (paper §3.5, Table 3, Table 4, SI 7.6).

Pure functions, no jobflow, no calculator: they compare classifications and sets that other
stages produced (phonon documents, phase-transition searches).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlip_finetune.evaluation.phonons import IMAGINARY_THRESHOLD_THZ
from mlip_finetune.schemas.properties import StabilityConfusion

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping


def set_precision_recall_f1(reference: set, predicted: set) -> tuple[float, float, float]:
    """Precision, recall and F1 of a predicted set against a reference set (paper Table 4).

    With true positives ``TP = |reference ∩ predicted|`` (SI 7.6: a predicted element found in
    the reference), false positives the predicted elements absent from the reference and
    false negatives the reference elements not predicted:

    - precision ``= |reference ∩ predicted| / |predicted|``
    - recall ``= |reference ∩ predicted| / |reference|``
    - F1 ``= 2·precision·recall / (precision + recall)``

    Empty sets (the ratios would be 0/0), defined explicitly:

    - both sets empty: ``(1.0, 1.0, 1.0)``; the prediction agrees exactly with the reference
      (no new phase expected, none predicted);
    - ``predicted`` empty, ``reference`` not: precision ``0.0``, recall ``0.0``, F1 ``0.0``
      (nothing of the reference was found);
    - ``reference`` empty, ``predicted`` not: precision ``0.0``, recall ``0.0``, F1 ``0.0``
      (every prediction is a false positive);
    - F1 is ``0.0`` whenever precision + recall is 0.

    Parameters
    ----------
    reference
        Reference elements (e.g. DFT phases as ``(space_group, n_atoms)`` tuples); any
        hashable elements compared with ``==``.
    predicted
        Predicted elements, same kind.

    Returns
    -------
    tuple of float
        ``(precision, recall, f1)``, each in [0, 1].

    Raises
    ------
    TypeError
        If either argument is not a set (a list would silently count duplicates).
    """
    if not isinstance(reference, (set, frozenset)) or not isinstance(predicted, (set, frozenset)):
        raise TypeError(
            "reference and predicted must be sets, got "
            f"{type(reference).__name__} and {type(predicted).__name__}"
        )
    if not reference and not predicted:
        return 1.0, 1.0, 1.0
    hits = len(reference & predicted)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(reference) if reference else 0.0
    total = precision + recall
    f1 = 2.0 * precision * recall / total if total > 0 else 0.0
    return precision, recall, f1


def is_dynamically_unstable(
    min_frequency_thz: float, threshold: float = IMAGINARY_THRESHOLD_THZ
) -> bool:
    """Whether a structure is dynamically unstable (paper §3.5, §4.6).

    Parameters
    ----------
    min_frequency_thz
        Smallest phonon frequency (THz) at the points that count, imaginary modes negative
        (phonopy convention). The paper uses the commensurate q-points of the supercell
        without the three acoustic modes at Γ, as
        :attr:`~mlip_finetune.schemas.evaluation.PhononDocument.has_imaginary_modes` does.
    threshold
        Cutoff frequency (THz); the paper's is -1e-4 THz.

    Returns
    -------
    bool
        ``True`` (unstable) if ``min_frequency_thz < threshold``, else ``False`` (stable).

    Raises
    ------
    ValueError
        If ``min_frequency_thz`` is NaN or the threshold is positive (a positive cutoff
        would call real frequencies imaginary).
    """
    if math.isnan(min_frequency_thz):
        raise ValueError("min_frequency_thz is NaN")
    if threshold > 0:
        raise ValueError(f"threshold must be <= 0 THz, got {threshold}")
    return bool(min_frequency_thz < threshold)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def stability_confusion(
    reference: Mapping[Hashable, bool], predicted: Mapping[Hashable, bool]
) -> StabilityConfusion:
    """Confusion matrix and negative precision/recall of stability labels (paper Table 3).

    Stable is the positive class, unstable the negative class; "negative precision/recall"
    are precision and recall "with respect to imaginary modes" (Table 3 caption):

    - negative precision ``= true_unstable / (true_unstable + false_stable)``, the share of
      materials the model calls unstable that are unstable in the reference;
    - negative recall ``= true_unstable / (true_unstable + false_unstable)``, the share of
      reference-unstable materials the model calls unstable.

    The paper's row names follow the reference class: "false stable" = reference stable,
    predicted unstable; "false unstable" = reference unstable, predicted stable. Table 3's
    columns (e.g. MP-0b3: 42, 2, 2, 7 → 78 %, 78 %; Equitrain: 44, 0, 1, 8 → 100 %, 89 %)
    only add up to the 44 stable / 9 unstable DFT materials and to the printed percentages
    with this reading.

    Parameters
    ----------
    reference
        Material key → ``True`` if unstable in the reference (DFT).
    predicted
        Material key → ``True`` if unstable according to the model. Same keys as
        ``reference``.

    Returns
    -------
    StabilityConfusion
        Counts, negative precision/recall (``None`` when a denominator is 0) and the keys of
        the misclassified materials (sorted by ``str``).

    Raises
    ------
    ValueError
        If the key sets differ (the missing/extra keys are named) or are empty.
    TypeError
        If a label is not a bool.
    """
    missing = set(reference) - set(predicted)
    extra = set(predicted) - set(reference)
    if missing or extra:
        raise ValueError(
            "reference and predicted must cover the same materials; "
            f"missing from predicted: {sorted(map(str, missing))}, "
            f"not in reference: {sorted(map(str, extra))}"
        )
    if not reference:
        raise ValueError("no materials to compare")
    for name, labels in (("reference", reference), ("predicted", predicted)):
        bad = [key for key, value in labels.items() if not isinstance(value, bool)]
        if bad:
            raise TypeError(f"{name} labels must be bool (True = unstable); not for {bad}")

    counts = {"true_stable": 0, "false_stable": 0, "false_unstable": 0, "true_unstable": 0}
    false_stable, false_unstable = [], []
    for key, ref_unstable in reference.items():
        pred_unstable = predicted[key]
        if ref_unstable and pred_unstable:
            counts["true_unstable"] += 1
        elif not ref_unstable and not pred_unstable:
            counts["true_stable"] += 1
        elif not ref_unstable:
            counts["false_stable"] += 1
            false_stable.append(str(key))
        else:
            counts["false_unstable"] += 1
            false_unstable.append(str(key))
    tn = counts["true_unstable"]
    return StabilityConfusion(
        n_materials=len(reference),
        **counts,
        negative_precision=_ratio(tn, tn + counts["false_stable"]),
        negative_recall=_ratio(tn, tn + counts["false_unstable"]),
        false_stable_materials=sorted(false_stable),
        false_unstable_materials=sorted(false_unstable),
    )
