"""Data-efficiency curves: each strategy trained on growing training sets (paper §3.2, SI 7.3).

The training set grows from the outermost frames of every training trajectory inwards
(§4.2): subset ``k`` holds the frames with ``frame_index <= k``, so with 4 frames per
trajectory and 4 training trajectories the sizes are 4, 8, 12 and 16 structures. Every model
is validated against DFT on the same, complete validation set. The curve is drawn by the
report layer (:func:`mlip_finetune.report.plots.plot_data_efficiency`), not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Flow, Maker, job

from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.fitting.strategies import FineTuneStrategy
from mlip_finetune.schemas.fitting import (
    DataEfficiencyDocument,
    DataEfficiencyPoint,
    FineTuneDocument,
)
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job


@dataclass
class DataEfficiencyMaker(Maker):
    """Train every strategy on every training subset and collect the curve.

    Parameters
    ----------
    name
        Flow name.
    finetune_makers
        One :class:`FineTuneMaker` per strategy (their hyper-parameters are used as is).
    frame_indices
        Subsets to train on: ``k`` keeps frames with ``frame_index <= k``. The default
        ``(0, 1, 2, 3)`` covers the paper's 4 frames per trajectory.
    plot_path
        Where the report layer draws the curve, recorded as the document's ``plot_path``;
        None leaves the place to the report.
    """

    name: str = "data efficiency"
    finetune_makers: list[FineTuneMaker] = field(
        default_factory=lambda: [FineTuneMaker(strategy=FineTuneStrategy.TRANSFER)]
    )
    frame_indices: tuple[int, ...] = (0, 1, 2, 3)
    plot_path: str | None = None

    def make(
        self,
        training_data: object,
        statics: list,
        foundation_model_path: str,
        include: list | None = None,
        **provenance: object,
    ) -> Flow:
        """Return the Flow of training jobs and the collecting job.

        Parameters
        ----------
        training_data, statics, foundation_model_path
            As for :meth:`FineTuneMaker.make`.
        include
            Outputs of fine-tuning jobs trained elsewhere (e.g. the material flow's models on
            the full training set) to add to the curve instead of training them twice.
        **provenance
            ``foundation_name``, ``foundation_sha256``, ``foundation_is_standin``.

        Returns
        -------
        jobflow.Flow
            ``len(finetune_makers) × len(frame_indices)`` jobs named
            ``"finetune <strategy> frames<=k"`` and ``"data efficiency curve"`` (tagged stage
            data efficiency: GPU and light); output:
            :class:`~mlip_finetune.schemas.fitting.DataEfficiencyDocument`.

        Raises
        ------
        ValueError
            If no strategy or no frame index is given, or an index is negative.
        """
        if not self.finetune_makers or not self.frame_indices:
            raise ValueError("A data-efficiency curve needs strategies and frame indices.")
        if min(self.frame_indices) < 0:
            raise ValueError(f"Frame indices must be >= 0, got {self.frame_indices}.")
        jobs = [
            maker.make(
                training_data,
                statics,
                foundation_model_path,
                max_frame_index=k,
                **provenance,
            )
            for maker in self.finetune_makers
            for k in sorted(set(self.frame_indices))
        ]
        curve = data_efficiency_curve(
            [j.output for j in jobs] + list(include or []), plot_path=self.plot_path
        )
        curve.name = "data efficiency curve"
        tag_job(curve, JobKind.LIGHT, Stage.DATA_EFFICIENCY)
        return Flow([*jobs, curve], output=curve.output, name=self.name)


@job(output_schema=DataEfficiencyDocument)
def data_efficiency_curve(finetunes: list, plot_path: str | None = None) -> DataEfficiencyDocument:
    """Collect fine-tuning documents into a curve.

    Parameters
    ----------
    finetunes
        :class:`~mlip_finetune.schemas.fitting.FineTuneDocument` of every (strategy, subset).
    plot_path
        Where the report layer draws the curve (the document's ``plot_path``); None leaves
        the place to the report.

    Returns
    -------
    DataEfficiencyDocument
        Points sorted by strategy and size; the foundation's validation errors from the
        largest training set's document (its energy offset uses the most frames).

    Raises
    ------
    ValueError
        If ``finetunes`` is empty.
    """
    docs = [FineTuneDocument.model_validate(f) for f in finetunes]
    if not docs:
        raise ValueError("No fine-tuning documents to collect.")
    order = list(FineTuneStrategy)
    points = sorted(
        (
            DataEfficiencyPoint(
                strategy=d.strategy,
                max_frame_index=d.max_frame_index,
                n_train_structures=d.n_train_structures,
                n_train_atoms=d.n_train_atoms,
                validation=d.validation,
                wall_time_s=d.wall_time_s,
                model_path=d.model_path,
            )
            for d in docs
        ),
        key=lambda p: (order.index(p.strategy), p.n_train_structures),
    )
    largest = max(docs, key=lambda d: d.n_train_structures)
    return DataEfficiencyDocument(
        points=points,
        foundation_validation=largest.foundation_validation,
        plot_path=str(Path(plot_path).resolve()) if plot_path else None,
    )
