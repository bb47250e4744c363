"""Train one model with one strategy: energy references, data files, the strategy's steps.

:func:`train_model` is what every fine-tuning job (``finetune_job``, the data-efficiency
curve) calls. It turns DFT statics into training files, handles the energy zero
(:mod:`mlip_finetune.fitting.e0s`), then walks the strategy's
:class:`~mlip_finetune.fitting.strategies.StrategySpec`: preparation (e.g. multihead's replay
set), the backend run (:data:`BACKEND_RUNS`), the export of the model handed on, and records
what actually ran.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mlip_finetune.fitting.strategies import (
    STRATEGIES,
    BackendRun,
    FineTuneStrategy,
    StrategySpec,
    TrainingBackend,
    TrainingContext,
    TrainSettings,
)
from mlip_finetune.schemas.fitting import MaceTrainResult, ReplayInfo  # noqa: TC001

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mlip_finetune.schemas.dft import StaticDocument
    from mlip_finetune.schemas.fitting import EpochRecord

logger = logging.getLogger(__name__)

_E0S_EXPLAINED = {
    "estimated": "the foundation's E0s, passed explicitly; DFT energies shifted onto the "
    "foundation's zero by a per-element least-squares fit on the training set "
    "(mlip_finetune.fitting.e0s.estimate_energy_shift)",
    "foundation": "the foundation model's own E0s, passed explicitly; DFT energies unshifted",
    "average": "least-squares average over the training set (mace --E0s average)",
}
#: Strategies that start from the foundation's weights (all but scratch).
FROM_FOUNDATION = frozenset(s for s, spec in STRATEGIES.items() if spec.from_foundation)


class TrainingOutcome(BaseModel):
    """What :func:`train_model` produced and how."""

    strategy: FineTuneStrategy
    backend: str = Field(description="'mace' or 'equitrain'.")
    model_path: str = Field(description="Plain single-head MACE model file handed on.")
    result: MaceTrainResult = Field(description="The backend's raw result.")
    settings: TrainSettings = Field(description="Settings requested (E0s made explicit).")
    effective: dict = Field(
        description="Settings read back from what ran (mace's log, equitrain's arguments)."
    )
    e0s_source: str
    energy_shift: dict[int, float] = Field(
        default_factory=dict, description="δ_Z subtracted from DFT energies (eV/atom)."
    )
    replay: ReplayInfo | None = None
    train_statics: list = Field(description="Training statics as trained on (shifted).")
    valid_statics: list = Field(description="Validation statics (shifted like the training).")


def _run_mace(context: TrainingContext, _spec: StrategySpec) -> BackendRun:
    """Train with mace-torch's ``run_train`` and read the settings back from its log."""
    from mlip_finetune.fitting.mace.args import build_mace_train_args
    from mlip_finetune.fitting.mace.log import read_mace_log
    from mlip_finetune.fitting.mace.run import run_mace_train

    args = build_mace_train_args(
        context.settings,
        strategy=context.strategy,
        name=context.name,
        train_file=context.train_file,
        valid_file=context.valid_file,
        work_dir=context.work_dir,
        device=context.device,
        foundation_model=context.backend_foundation,
        architecture=context.architecture,
        replay_file=context.replay.path if context.replay else None,
    )
    result = run_mace_train(
        args, context.work_dir, label=context.strategy.value, on_epoch=context.on_epoch
    )
    return BackendRun(result, read_mace_log(result.log_path))


def _run_equitrain(context: TrainingContext, spec: StrategySpec) -> BackendRun:
    """Train with equitrain's wrapper named by the strategy's backend options."""
    from mlip_finetune.fitting.e0s import model_e0s
    from mlip_finetune.fitting.equitrain.run import run_equitrain_finetune

    options = dict(spec.backend_options(context.settings) if spec.backend_options else {})
    result = run_equitrain_finetune(
        options.pop("mode"),
        context.settings,
        name=context.name,
        train_file=context.train_file,
        valid_file=context.valid_file,
        foundation_model=Path(context.foundation_model_path),
        work_dir=context.work_dir,
        device=context.device,
        e0s=model_e0s(context.foundation_model_path),
        label=context.strategy.value,
        on_epoch=context.on_epoch,
        **options,
    )
    return BackendRun(result, {"args": result.args, "multihead": False})


#: How each backend trains (the strategy-specific parts come from its StrategySpec).
BACKEND_RUNS: Mapping[TrainingBackend, Callable[[TrainingContext, StrategySpec], BackendRun]] = {
    TrainingBackend.MACE: _run_mace,
    TrainingBackend.EQUITRAIN: _run_equitrain,
}


def _energy_zero(
    spec: StrategySpec,
    settings: TrainSettings,
    statics: tuple[list[StaticDocument], list[StaticDocument]],
    foundation_model_path: str,
) -> tuple[TrainSettings, list, list, dict[int, float], str]:
    """Put the DFT energies on the foundation's zero and make the E0s explicit.

    Returns the settings (E0s explicit), training and validation statics (shifted), the
    per-element shift (eV/atom) and how the E0s were obtained.
    """
    from mlip_finetune.fitting.e0s import estimate_energy_shift, model_e0s, shift_energies

    train, valid = statics
    energy_shift: dict[int, float] = {}
    if spec.from_foundation and settings.E0s in ("estimated", "foundation"):
        if settings.E0s == "estimated":
            energy_shift = estimate_energy_shift(foundation_model_path, train)
            train, valid = shift_energies(train, energy_shift), shift_energies(valid, energy_shift)
        e0s_source = _E0S_EXPLAINED[settings.E0s]
        settings = settings.model_copy(update={"E0s": repr(model_e0s(foundation_model_path))})
    elif not spec.average_e0s and settings.E0s == "average":
        raise ValueError("Multi-head fine-tuning cannot use E0s='average' (mace refuses it).")
    else:
        e0s_source = _E0S_EXPLAINED.get(settings.E0s, f"given: {settings.E0s}")
    return settings, train, valid, energy_shift, e0s_source


def train_model(
    strategy: FineTuneStrategy | str,
    settings: TrainSettings,
    *,
    train: Sequence[StaticDocument],
    valid: Sequence[StaticDocument],
    foundation_model_path: str,
    work_dir: str | Path,
    device: str = "cpu",
    name: str | None = None,
    architecture: dict[str, str] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainingOutcome:
    """Train one model on DFT statics with one strategy (paper §3.1, §4.3, §4.4).

    Parameters
    ----------
    strategy
        A :class:`FineTuneStrategy` (or its value).
    settings
        Hyper-parameters (:func:`~mlip_finetune.fitting.strategies.default_settings`).
    train, valid
        DFT statics (eV, eV/Å, GPa).
    foundation_model_path
        Foundation MACE model file: the starting weights, the E0s and, for ``scratch``, the
        architecture (random weights).
    work_dir
        Directory for data files, checkpoints, logs and the model (created).
    device
        ``"cpu"`` or ``"cuda"`` (already resolved).
    name
        Model name (file ``<name>.model``); default ``finetuned_<strategy>``.
    architecture
        ``scratch`` only: mace architecture arguments (e.g. a smaller student's); None
        copies the foundation's
        (:func:`~mlip_finetune.fitting.mace_backend.foundation_architecture`).
    on_epoch
        Called with each epoch's validation errors.

    Returns
    -------
    TrainingOutcome
        The plain single-head model (for ``multihead``, the material's ``Default`` head
        extracted from the two-head model mace saves), settings requested and read back.

    Raises
    ------
    mlip_finetune.fitting.mace_backend.TrainingDivergedError
        On a NaN/inf loss, naming the strategy and epoch.
    mlip_finetune.fitting.mace_backend.TrainingError
        If the backend fails.
    mlip_finetune.fitting.replay.ReplayFileError
        If the user's replay file is unusable.
    """
    from mlip_finetune.fitting.dataset import write_extxyz

    strategy = FineTuneStrategy(strategy)
    spec = STRATEGIES[strategy]
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    settings, train, valid, energy_shift, e0s_source = _energy_zero(
        spec, settings, (list(train), list(valid)), foundation_model_path
    )
    if 0 < len(train) < settings.batch_size:
        # mace drops the last incomplete training batch: a batch larger than the training set
        # would leave no batch at all (mace fails with "torch.cat(): expected a non-empty list")
        logger.warning(
            "%s: batch size %d > %d training structures; training with batches of %d",
            strategy.value,
            settings.batch_size,
            len(train),
            len(train),
        )
        settings = settings.model_copy(update={"batch_size": len(train)})
    context = TrainingContext(
        strategy=strategy,
        settings=settings,
        name=name or f"finetuned_{strategy.value}",
        train=train,
        train_file=write_extxyz(train, work_dir / "train.xyz"),
        valid_file=write_extxyz(valid, work_dir / "valid.xyz"),
        work_dir=work_dir,
        device=device,
        foundation_model_path=foundation_model_path,
        requested_architecture=architecture,
        on_epoch=on_epoch,
        backend_foundation=foundation_model_path if spec.from_foundation else None,
    )
    logger.info(
        "train %s (%s): %d train / %d validation structures",
        strategy.value,
        spec.backend.value,
        len(train),
        len(valid),
    )
    if spec.prepare is not None:
        spec.prepare(context)
    run = BACKEND_RUNS[spec.backend](context, spec)
    model_path = spec.export(context, run) if spec.export else run.result.model_path
    return TrainingOutcome(
        strategy=strategy,
        backend=spec.backend.value,
        model_path=str(Path(model_path).resolve()),
        result=run.result,
        settings=settings,
        effective=run.effective,
        e0s_source=e0s_source,
        energy_shift=energy_shift,
        replay=context.replay,
        train_statics=train,
        valid_statics=valid,
    )
