"""Stability classification, Table 3 confusion matrix and Table 4 set metrics."""

from __future__ import annotations

import pytest

from mlip_finetune.evaluation.stability import (
    is_dynamically_unstable,
    set_precision_recall_f1,
    stability_confusion,
)
from mlip_finetune.schemas.properties import StabilityConfusion


def test_is_dynamically_unstable_threshold():
    assert is_dynamically_unstable(-0.5) is True
    assert is_dynamically_unstable(-2e-4) is True
    # Exactly at and just above the paper's -1e-4 THz cutoff: stable.
    assert is_dynamically_unstable(-1e-4) is False
    assert is_dynamically_unstable(-5e-5) is False
    assert is_dynamically_unstable(3.0) is False
    assert is_dynamically_unstable(-0.05, threshold=-0.1) is False
    with pytest.raises(ValueError, match="NaN"):
        is_dynamically_unstable(float("nan"))
    with pytest.raises(ValueError, match="threshold"):
        is_dynamically_unstable(1.0, threshold=0.1)


def _labels(n_true_stable, n_false_stable, n_false_unstable, n_true_unstable):
    """Build reference/predicted dicts from the paper's four row counts."""
    reference, predicted = {}, {}
    rows = [
        ("ts", n_true_stable, False, False),
        ("fs", n_false_stable, False, True),  # reference stable, predicted unstable
        ("fu", n_false_unstable, True, False),  # reference unstable, predicted stable
        ("tu", n_true_unstable, True, True),
    ]
    for prefix, n, ref, pred in rows:
        for i in range(n):
            reference[f"{prefix}{i}"] = ref
            predicted[f"{prefix}{i}"] = pred
    return reference, predicted


@pytest.mark.parametrize(
    ("column", "precision_pct", "recall_pct"),
    [
        # Table 3 of the paper: (true stable, false stable, false unstable, true unstable).
        ((42, 2, 2, 7), 78, 78),  # MP-0b3
        ((43, 1, 6, 3), 75, 33),  # scratch
        ((43, 1, 3, 6), 86, 67),  # transfer
        ((42, 2, 1, 8), 80, 89),  # multihead
        ((44, 0, 1, 8), 100, 89),  # equitrain
    ],
)
def test_confusion_reproduces_paper_table3(column, precision_pct, recall_pct):
    reference, predicted = _labels(*column)
    # The paper's DFT reference: 44 stable, 9 unstable materials.
    assert sum(not v for v in reference.values()) == 44
    assert sum(reference.values()) == 9
    doc = stability_confusion(reference, predicted)
    assert (doc.true_stable, doc.false_stable, doc.false_unstable, doc.true_unstable) == column
    assert round(100 * doc.negative_precision) == precision_pct
    assert round(100 * doc.negative_recall) == recall_pct


def test_confusion_hand_made():
    reference = {"a": False, "b": False, "c": True, "d": True, "e": True}
    predicted = {"a": False, "b": True, "c": True, "d": False, "e": True}
    doc = stability_confusion(reference, predicted)
    assert doc.n_materials == 5
    # Positive = stable: TP a; FN b (stable called unstable); FP d; TN c, e.
    assert (doc.tp, doc.fn, doc.fp, doc.tn) == (1, 1, 1, 2)
    assert doc.false_stable_materials == ["b"]
    assert doc.false_unstable_materials == ["d"]
    assert doc.negative_precision == pytest.approx(2 / 3)
    assert doc.negative_recall == pytest.approx(2 / 3)
    dumped = doc.model_dump()
    assert dumped["tn"] == 2
    assert StabilityConfusion.model_validate(dumped) == doc


def test_confusion_undefined_ratios_are_none():
    # No unstable material anywhere: negative precision and recall are 0/0.
    doc = stability_confusion({"a": False, "b": False}, {"a": False, "b": False})
    assert doc.true_stable == 2
    assert doc.negative_precision is None
    assert doc.negative_recall is None
    # Model calls one unstable, reference has none: precision 0, recall undefined.
    doc = stability_confusion({"a": False, "b": False}, {"a": True, "b": False})
    assert doc.negative_precision == 0.0
    assert doc.negative_recall is None


def test_confusion_bad_input():
    with pytest.raises(ValueError, match="missing from predicted: \\['b'\\]"):
        stability_confusion({"a": True, "b": False}, {"a": True})
    with pytest.raises(ValueError, match="not in reference: \\['z'\\]"):
        stability_confusion({"a": True}, {"a": True, "z": False})
    with pytest.raises(ValueError, match="no materials"):
        stability_confusion({}, {})
    with pytest.raises(TypeError, match="bool"):
        stability_confusion({"a": 1}, {"a": True})


def test_set_precision_recall_f1_hand_made():
    reference = {("Pnma", 8), ("P4/nmm", 4), ("Cm", 2)}
    predicted = {("Pnma", 8), ("Cm", 2), ("P1", 16), ("Cmcm", 4)}
    precision, recall, f1 = set_precision_recall_f1(reference, predicted)
    assert precision == pytest.approx(2 / 4)
    assert recall == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))  # = 4/7
    assert f1 == pytest.approx(4 / 7)
    assert set_precision_recall_f1({1, 2}, {1, 2}) == (1.0, 1.0, 1.0)
    assert set_precision_recall_f1({1, 2}, {3}) == (0.0, 0.0, 0.0)


def test_set_precision_recall_f1_empty_sets():
    assert set_precision_recall_f1(set(), set()) == (1.0, 1.0, 1.0)
    assert set_precision_recall_f1({"Pnma"}, set()) == (0.0, 0.0, 0.0)
    assert set_precision_recall_f1(set(), {"Pnma"}) == (0.0, 0.0, 0.0)
    assert set_precision_recall_f1(frozenset({1}), {1}) == (1.0, 1.0, 1.0)
    with pytest.raises(TypeError, match="sets"):
        set_precision_recall_f1([1, 1], {1})
