"""Documents of the property evaluations: EOS, elastic tensor, Slack κ, stability (paper §4.5)."""

from __future__ import annotations

from pydantic import BaseModel, Field, computed_field


class StabilityConfusion(BaseModel):
    """Dynamical-stability confusion matrix of a model against a reference (paper Table 3).

    The stable class is the *positive* one and the unstable class the *negative* one, so the
    paper's "negative precision/recall" are precision and recall of the unstable class. The
    paper labels its rows by the *reference* class: "false stable" is a reference-stable
    material predicted unstable, "false unstable" a reference-unstable material predicted
    stable (only this reading reproduces Table 3's column sums, 44 stable + 9 unstable, and
    its percentages).
    """

    n_materials: int = Field(description="Number of materials compared.")
    true_stable: int = Field(description="Reference stable, predicted stable (TP).")
    false_stable: int = Field(
        description="Reference stable, predicted unstable (FN; the paper's 'false stable')."
    )
    false_unstable: int = Field(
        description="Reference unstable, predicted stable (FP; the paper's 'false unstable')."
    )
    true_unstable: int = Field(description="Reference unstable, predicted unstable (TN).")
    negative_precision: float | None = Field(
        description="true_unstable / (true_unstable + false_stable): share of predicted-"
        "unstable materials that are unstable in the reference; None if none is predicted "
        "unstable."
    )
    negative_recall: float | None = Field(
        description="true_unstable / (true_unstable + false_unstable): share of reference-"
        "unstable materials predicted unstable; None if the reference has none."
    )
    false_stable_materials: list[str] = Field(
        default_factory=list, description="Keys of the reference-stable, predicted-unstable."
    )
    false_unstable_materials: list[str] = Field(
        default_factory=list, description="Keys of the reference-unstable, predicted-stable."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tp(self) -> int:
        """True positives (stable is positive): reference and prediction stable."""
        return self.true_stable

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tn(self) -> int:
        """True negatives: reference and prediction unstable."""
        return self.true_unstable

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fp(self) -> int:
        """False positives: predicted stable, reference unstable."""
        return self.false_unstable

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fn(self) -> int:
        """False negatives: predicted unstable, reference stable."""
        return self.false_stable
