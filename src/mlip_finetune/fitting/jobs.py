"""The fine-tuning job: train one model per strategy on the DFT-labelled frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from jobflow import Job, Maker, job

from mlip_finetune.fitting.strategies import FineTuneStrategy, MaceTrainSettings, default_settings
from mlip_finetune.schemas.data import TrainingDataDocument
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.fitting import FineTuneDocument

logger = logging.getLogger(__name__)

_E0S_EXPLAINED = {
    "estimated": "the foundation's E0s, passed explicitly; DFT energies shifted onto the "
    "foundation's zero by a per-element least-squares fit on the training set "
    "(mlip_finetune.fitting.e0s.estimate_energy_shift)",
    "foundation": "the foundation model's own E0s, passed explicitly; DFT energies unshifted",
    "average": "least-squares average over the training set (mace --E0s average)",
}


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
    hyperparameters: MaceTrainSettings | None = None
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

        Returns
        -------
        jobflow.Job
            Output: :class:`~mlip_finetune.schemas.fitting.FineTuneDocument`.

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
        )
        training_job.name = f"{self.name} {strategy.value}"
        return training_job


def split_statics(training_data: object, statics: list) -> tuple[list, list]:
    """Split DFT statics into training and validation sets by their frames' split.

    Parameters
    ----------
    training_data
        TrainingDataDocument (object or dict) whose ``frames`` match ``statics`` in order.
    statics
        StaticDocuments of those frames.

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
    train = [s for f, s in zip(frames, statics, strict=True) if f.split == "train"]
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
    settings: MaceTrainSettings,
    device: str,
    foundation_name: str,
    foundation_sha256: str | None,
    foundation_is_standin: bool,
) -> FineTuneDocument:
    """Train one model and measure it and its foundation against DFT.

    Writes ``train.xyz``/``valid.xyz`` in the job directory, runs mace
    (:func:`~mlip_finetune.fitting.mace_backend.run_mace_train`), then evaluates the new
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
    from mlip_finetune.calculators import mace_calculator, resolve_device
    from mlip_finetune.evaluation.metrics import energy_offset_per_atom, validation_metrics
    from mlip_finetune.fitting.dataset import write_extxyz
    from mlip_finetune.fitting.e0s import estimate_energy_shift, model_e0s, shift_energies
    from mlip_finetune.fitting.mace_backend import (
        build_mace_train_args,
        foundation_architecture,
        run_mace_train,
    )
    from mlip_finetune.utils import package_versions, sha256_file

    statics = [StaticDocument.model_validate(s) for s in statics]
    train, valid = split_statics(training_data, statics)
    work_dir = Path.cwd()
    device = resolve_device(device)
    energy_shift: dict[int, float] = {}
    if strategy is FineTuneStrategy.TRANSFER and settings.E0s in ("estimated", "foundation"):
        if settings.E0s == "estimated":
            energy_shift = estimate_energy_shift(foundation_model_path, train)
            train, valid = shift_energies(train, energy_shift), shift_energies(valid, energy_shift)
        e0s_source = _E0S_EXPLAINED[settings.E0s]
        settings = settings.model_copy(update={"E0s": repr(model_e0s(foundation_model_path))})
    else:
        e0s_source = _E0S_EXPLAINED.get(settings.E0s, f"given: {settings.E0s}")
    name = f"finetuned_{strategy.value}"
    args = build_mace_train_args(
        settings,
        strategy=strategy,
        name=name,
        train_file=write_extxyz(train, work_dir / "train.xyz"),
        valid_file=write_extxyz(valid, work_dir / "valid.xyz"),
        work_dir=work_dir,
        device=device,
        foundation_model=foundation_model_path if strategy is FineTuneStrategy.TRANSFER else None,
        # from scratch: the foundation's architecture, random weights (paper §4.3)
        architecture=(
            foundation_architecture(foundation_model_path)
            if strategy is FineTuneStrategy.SCRATCH
            else None
        ),
    )
    logger.info(
        "finetune %s: %d train / %d validation structures", strategy.value, len(train), len(valid)
    )
    result = run_mace_train(
        args,
        work_dir,
        label=strategy.value,
        on_epoch=lambda r: logger.info(
            "finetune %s epoch %d/%d: loss %.4g, force MAE %.1f meV/Å, energy MAE %.2f meV/atom",
            strategy.value,
            r.epoch,
            settings.max_num_epochs,
            r.loss,
            r.force_mae,
            r.energy_mae,
        ),
    )

    def scored(model_path: str, statics_sets: tuple) -> list:
        calc = mace_calculator(model_path, device=device)
        offset = energy_offset_per_atom(calc, train)
        return [validation_metrics(calc, s, energy_offset_per_atom=offset) for s in statics_sets]

    valid_metrics, train_metrics = scored(result.model_path, (valid, train))
    (foundation_valid,) = scored(foundation_model_path, (valid,))
    return FineTuneDocument(
        strategy=strategy,
        model_path=result.model_path,
        model_sha256=sha256_file(result.model_path),
        foundation_name=foundation_name,
        foundation_path=foundation_model_path,
        foundation_sha256=foundation_sha256,
        foundation_is_standin=foundation_is_standin,
        hyperparameters=settings.model_dump(mode="json"),
        mace_args=result.args,
        multihead_active=result.multihead_active,
        e0s=model_e0s(result.model_path),
        dft_energy_shift=energy_shift,
        e0s_source=e0s_source,
        n_train_structures=len(train),
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
