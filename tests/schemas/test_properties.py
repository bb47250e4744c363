from mlip_finetune.schemas.properties import StabilityConfusion


def test_confusion_counts_map_to_the_stable_positive_convention():
    # paper Table 3 convention: stable is positive, rows labelled by the reference class
    c = StabilityConfusion(
        n_materials=53,
        true_stable=40,
        false_stable=4,
        false_unstable=2,
        true_unstable=7,
        negative_precision=7 / 11,
        negative_recall=7 / 9,
    )
    assert (c.tp, c.fn, c.fp, c.tn) == (40, 4, 2, 7)
    assert c.tp + c.fn + c.fp + c.tn == c.n_materials
    dumped = c.model_dump()
    assert dumped["tp"] == 40
    assert dumped["tn"] == 7
