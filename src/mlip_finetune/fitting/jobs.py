"""The fine-tuning job: train one model per strategy on the DFT-labelled frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from jobflow import Job, Maker, job

from mlip_finetune.fitting.strategies import FineTuneStrategy, TrainSettings, default_settings
from mlip_finetune.schemas.data import TrainingDataDocument
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.fitting import FineTuneDocument
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job

logger = logging.getLogger(__name__)


@dataclass
class FineTuneMaker(Maker):
    """Fine-tune a foundation MACE model on DFT statics (paper §3.1, §4.3).

    Parameters
    ----------
    name
        Job name; the strategy is appended (``"finetune transfer"``).
    strategy
        Which strategy (:class:`FineTuneStrategy`).
    hyperparameters
        mace settings; None takes the paper's defaults for the strategy
        (:func:`mlip_finetune.fitting.strategies.default_settings`).
    device
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    """

    name: str = "finetune"
    strategy: FineTuneStrategy = FineTuneStrategy.TRANSFER
    hyperparameters: TrainSettings | None = None
    device: str = "auto"

    def make(
        self,
        training_data: object,
        statics: list,
        foundation_model_path: str,
        *,
        foundation_name: str = "foundation",
        foundation_sha256: str | None = None,
        foundation_is_standin: bool = False,
        max_frame_index: int | None = None,
    ) -> Job:
        """Return the training job.

        Parameters
        ----------
        training_data
            :class:`~mlip_finetune.schemas.data.TrainingDataDocument` (or a reference to it):
            its frames' ``split`` decides train vs validation.
        statics
            DFT statics of those frames, in the same order.
        foundation_model_path
            Foundation MACE model file.
        foundation_name, foundation_sha256, foundation_is_standin
            Provenance copied into the document.
        max_frame_index
            Train on the frames with ``frame_index <= max_frame_index`` only, the outermost
            first (paper §4.2, the data-efficiency curve); None trains on all. The validation
            set is always complete.

        Returns
        -------
        jobflow.Job
            Output: :class:`~mlip_finetune.schemas.fitting.FineTuneDocument`. Tagged GPU,
            stage ``finetune <strategy>``; with ``max_frame_index``, stage data efficiency.

        Raises
        ------
        ValueError
            On a strategy string that is not a :class:`FineTuneStrategy`.
        """
        strategy = FineTuneStrategy(self.strategy)
        settings = self.hyperparameters or default_settings(strategy)
        training_job = finetune_job(
            training_data,
            statics,
            foundation_model_path=foundation_model_path,
            strategy=strategy,
            settings=settings,
            device=self.device,
            foundation_name=foundation_name,
            foundation_sha256=foundation_sha256,
            foundation_is_standin=foundation_is_standin,
            max_frame_index=max_frame_index,
        )
        training_job.name = f"{self.name} {strategy.value}"
        if max_frame_index is None:
            return tag_job(training_job, JobKind.GPU, Stage.FINETUNE, detail=strategy.value)
        training_job.name += f" frames<={max_frame_index}"
        return tag_job(training_job, JobKind.GPU, Stage.DATA_EFFICIENCY)


def split_statics(
    training_data: object, statics: list, max_frame_index: int | None = None
) -> tuple[list, list]:
    """Split DFT statics into training and validation sets by their frames' split.

    Parameters
    ----------
    training_data
        TrainingDataDocument (object or dict) whose ``frames`` match ``statics`` in order.
    statics
        StaticDocuments of those frames.
    max_frame_index
        Keep only training frames with ``frame_index <= max_frame_index``
        (:func:`mlip_finetune.data.utils.progressive_training_subsets`); None keeps all.

    Returns
    -------
    tuple of list
        ``(train, validation)`` statics.

    Raises
    ------
    ValueError
        If the numbers of frames and statics differ, or either set is empty.
    """
    frames = TrainingDataDocument.model_validate(training_data).frames
    if len(frames) != len(statics):
        raise ValueError(f"{len(frames)} frames but {len(statics)} DFT statics.")
    train = [
        s
        for f, s in zip(frames, statics, strict=True)
        if f.split == "train" and (max_frame_index is None or f.frame_index <= max_frame_index)
    ]
    valid = [s for f, s in zip(frames, statics, strict=True) if f.split != "train"]
    if not train or not valid:
        raise ValueError(f"Need training and validation frames, got {len(train)}/{len(valid)}.")
    return train, valid


@job(output_schema=FineTuneDocument)
def finetune_job(
    training_data: object,
    statics: list,
    *,
    foundation_model_path: str,
    strategy: FineTuneStrategy,
    settings: TrainSettings,
    device: str,
    foundation_name: str,
    foundation_sha256: str | None,
    foundation_is_standin: bool,
    max_frame_index: int | None = None,
) -> FineTuneDocument:
    """Train one model and measure it and its foundation against DFT.

    Trains in the job directory with :func:`~mlip_finetune.fitting.training.train_model`
    (the strategy's backend: mace-torch or equitrain), then evaluates the new
    model and the foundation on the validation statics with
    :func:`~mlip_finetune.evaluation.metrics.validation_metrics`. Energy errors are computed
    after removing each model's mean per-atom offset to DFT on the training frames (DFT codes
    have different energy zeros).

    Returns
    -------
    FineTuneDocument
        Model path and sha256, hyper-parameters as run, metrics.

    Raises
    ------
    mlip_finetune.fitting.mace_backend.TrainingDivergedError
        On a NaN/inf loss, naming the strategy and epoch.
    """
    from mlip_finetune.core.calculators import mace_calculator, resolve_device
    from mlip_finetune.core.provenance import package_versions, sha256_file
    from mlip_finetune.evaluation.metrics import energy_offset_per_atom, validation_metrics
    from mlip_finetune.fitting.e0s import model_e0s
    from mlip_finetune.fitting.training import train_model

    # jobflow-remote passes arguments through JSON: the Enum and settings arrive as plain data
    strategy = FineTuneStrategy(strategy)
    settings = TrainSettings.model_validate(settings)
    statics = [StaticDocument.model_validate(s) for s in statics]
    train, valid = split_statics(training_data, statics, max_frame_index)
    device = resolve_device(device)
    outcome = train_model(
        strategy,
        settings,
        train=train,
        valid=valid,
        foundation_model_path=foundation_model_path,
        work_dir=Path.cwd(),
        device=device,
        on_epoch=lambda r: logger.info(
            "finetune %s epoch %d/%d (%s): loss %.4g, force MAE %.1f meV/Å, "
            "energy MAE %.2f meV/atom",
            strategy.value,
            r.epoch,
            settings.max_num_epochs,
            r.head,
            r.loss,
            r.force_mae_mev_per_angstrom,
            r.energy_mae_mev_per_atom,
        ),
    )
    train, valid, result = outcome.train_statics, outcome.valid_statics, outcome.result

    def scored(model_path: str, statics_sets: tuple) -> list:
        calc = mace_calculator(model_path, device=device)
        offset = energy_offset_per_atom(calc, train)
        return [validation_metrics(calc, s, energy_offset_per_atom=offset) for s in statics_sets]

    valid_metrics, train_metrics = scored(outcome.model_path, (valid, train))
    (foundation_valid,) = scored(foundation_model_path, (valid,))
    return FineTuneDocument(
        strategy=strategy,
        backend=outcome.backend,
        model_path=outcome.model_path,
        model_sha256=sha256_file(outcome.model_path),
        foundation_name=foundation_name,
        foundation_path=foundation_model_path,
        foundation_sha256=foundation_sha256,
        foundation_is_standin=foundation_is_standin,
        hyperparameters=outcome.settings.model_dump(mode="json"),
        effective_hyperparameters=outcome.effective,
        train_args=result.args,
        multihead_active=result.multihead_active,
        replay=outcome.replay,
        e0s=model_e0s(outcome.model_path),
        dft_energy_shift=outcome.energy_shift,
        e0s_source=outcome.e0s_source,
        n_train_structures=len(train),
        max_frame_index=max_frame_index,
        n_train_atoms=sum(len(s.structure) for s in train),
        n_valid_structures=len(valid),
        epochs=result.epochs,
        validation=valid_metrics,
        training=train_metrics,
        foundation_validation=foundation_valid,
        wall_time_s=result.wall_time_s,
        device=device,
        versions=package_versions(),
    )
