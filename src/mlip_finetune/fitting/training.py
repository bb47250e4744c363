"""Train one model with one strategy: energy references, replay set, backend, read-back.

:func:`train_model` is what every fine-tuning job (``finetune_job``, the data-efficiency
curve, surrogate distillation) calls. It turns DFT statics into training files, handles the
energy zero (:mod:`mlip_finetune.fitting.e0s`), builds or subsamples the multi-head replay set
(:mod:`mlip_finetune.fitting.replay`), dispatches to the strategy's backend
(:data:`mlip_finetune.fitting.strategies.BACKENDS`) and records what actually ran.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mlip_finetune.fitting.mace_backend import MaceTrainResult  # noqa: TC001
from mlip_finetune.fitting.strategies import BACKENDS, FineTuneStrategy, MaceTrainSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mlip_finetune.fitting.mace_backend import EpochRecord
    from mlip_finetune.schemas.dft import StaticDocument

logger = logging.getLogger(__name__)

_E0S_EXPLAINED = {
    "estimated": "the foundation's E0s, passed explicitly; DFT energies shifted onto the "
    "foundation's zero by a per-element least-squares fit on the training set "
    "(mlip_finetune.fitting.e0s.estimate_energy_shift)",
    "foundation": "the foundation model's own E0s, passed explicitly; DFT energies unshifted",
    "average": "least-squares average over the training set (mace --E0s average)",
}
#: Strategies that start from the foundation's weights (all but scratch).
FROM_FOUNDATION = frozenset(FineTuneStrategy) - {FineTuneStrategy.SCRATCH}


class ReplayInfo(BaseModel):
    """The replay set a multi-head model was trained with."""

    path: str = Field(description="Extended-XYZ file mace read (REF_* keys).")
    sha256: str
    n_structures: int
    source: str = Field(description="The user's file it was subsampled from, or 'built'.")


class TrainingOutcome(BaseModel):
    """What :func:`train_model` produced and how."""

    strategy: FineTuneStrategy
    backend: str = Field(description="'mace' or 'equitrain'.")
    model_path: str = Field(description="Plain single-head MACE model file handed on.")
    result: MaceTrainResult = Field(description="The backend's raw result.")
    settings: MaceTrainSettings = Field(description="Settings requested (E0s made explicit).")
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


def _replay_file(
    settings: MaceTrainSettings,
    elements: list[str],
    foundation_model_path: str,
    work_dir: Path,
    device: str,
) -> ReplayInfo:
    """Build or subsample the replay set into ``work_dir/replay.xyz``."""
    from ase.io import read

    from mlip_finetune.fitting.replay import build_replay_file, subsample_replay_file
    from mlip_finetune.utils import sha256_file

    path = work_dir / "replay.xyz"
    if settings.replay_file is not None:
        subsample_replay_file(settings.replay_file, path, settings.n_replay, seed=settings.seed)
        source = str(Path(settings.replay_file).resolve())
    else:
        build_replay_file(
            elements,
            foundation_model_path,
            path,
            n=settings.n_replay,
            seed=settings.seed,
            device=device,
        )
        source = "built: foundation-labelled prototypes (mlip_finetune.fitting.replay)"
    return ReplayInfo(
        path=str(path.resolve()),
        sha256=sha256_file(path),
        n_structures=len(read(path, index=":")),
        source=source,
    )


def _multihead_foundation(foundation_model_path: str, work_dir: Path) -> str:
    """Return a foundation file mace's multi-head mode can read.

    mace-torch 0.3.16 (``run_train.py``, E0s ``"foundation"`` of the replay head) squeezes an
    atomic-energy buffer of shape (1, n_elements) and then indexes it, which fails for a
    single-element foundation saved by mace itself (shape (1, 1) → 0-d). Such a file is
    copied with the buffer reshaped to (n_elements,), the layout mace builds itself for
    one head; weights and energies are unchanged. Other files are returned as they are.
    """
    import mace  # noqa: F401  (mace before e3nn, DESIGN.md)
    import torch

    model = torch.load(foundation_model_path, map_location="cpu", weights_only=False)
    buffer = model.atomic_energies_fn.atomic_energies
    if buffer.ndim != 2 or buffer.shape != (1, 1):  # noqa: PLR2004
        return foundation_model_path
    model.atomic_energies_fn.atomic_energies = buffer.reshape(-1).clone()
    path = work_dir / "foundation_for_multihead.model"
    torch.save(model, path)
    logger.info("multihead: single-element foundation E0 buffer reshaped for mace (%s)", path)
    return str(path)


def train_model(
    strategy: FineTuneStrategy | str,
    settings: MaceTrainSettings,
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
    from mlip_finetune.fitting.e0s import estimate_energy_shift, model_e0s, shift_energies
    from mlip_finetune.fitting.mace_backend import (
        build_mace_train_args,
        extract_head,
        foundation_architecture,
        read_mace_log,
        run_mace_train,
    )

    strategy = FineTuneStrategy(strategy)
    backend = BACKENDS[strategy]
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    name = name or f"finetuned_{strategy.value}"
    train, valid = list(train), list(valid)
    energy_shift: dict[int, float] = {}
    if strategy in FROM_FOUNDATION and settings.E0s in ("estimated", "foundation"):
        if settings.E0s == "estimated":
            energy_shift = estimate_energy_shift(foundation_model_path, train)
            train, valid = shift_energies(train, energy_shift), shift_energies(valid, energy_shift)
        e0s_source = _E0S_EXPLAINED[settings.E0s]
        settings = settings.model_copy(update={"E0s": repr(model_e0s(foundation_model_path))})
    elif strategy is FineTuneStrategy.MULTIHEAD and settings.E0s == "average":
        raise ValueError("Multi-head fine-tuning cannot use E0s='average' (mace refuses it).")
    else:
        e0s_source = _E0S_EXPLAINED.get(settings.E0s, f"given: {settings.E0s}")
    train_file = write_extxyz(train, work_dir / "train.xyz")
    valid_file = write_extxyz(valid, work_dir / "valid.xyz")
    logger.info(
        "train %s (%s): %d train / %d validation structures",
        strategy.value,
        backend,
        len(train),
        len(valid),
    )
    replay = None
    if backend == "equitrain":
        from mlip_finetune.fitting.equitrain_backend import run_equitrain_finetune

        result = run_equitrain_finetune(
            "delta" if strategy is FineTuneStrategy.LORA_FULL else "lora",
            settings,
            name=name,
            train_file=train_file,
            valid_file=valid_file,
            foundation_model=Path(foundation_model_path),
            work_dir=work_dir,
            device=device,
            e0s=model_e0s(foundation_model_path),
            lora_rank=settings.lora_rank if strategy is FineTuneStrategy.LORA else None,
            lora_alpha=settings.lora_alpha if strategy is FineTuneStrategy.LORA else None,
            label=strategy.value,
            on_epoch=on_epoch,
        )
        effective = {"args": result.args, "multihead": False}
        model_path = result.model_path
    else:
        mace_foundation = foundation_model_path
        if strategy is FineTuneStrategy.MULTIHEAD:
            elements = sorted({str(site.specie) for s in train for site in s.structure})
            replay = _replay_file(settings, elements, foundation_model_path, work_dir, device)
            mace_foundation = _multihead_foundation(foundation_model_path, work_dir)
        args = build_mace_train_args(
            settings,
            strategy=strategy,
            name=name,
            train_file=train_file,
            valid_file=valid_file,
            work_dir=work_dir,
            device=device,
            foundation_model=mace_foundation if strategy in FROM_FOUNDATION else None,
            # from scratch: the foundation's architecture, random weights (paper §4.3)
            architecture=(
                architecture or foundation_architecture(foundation_model_path)
                if strategy is FineTuneStrategy.SCRATCH
                else None
            ),
            replay_file=replay.path if replay else None,
        )
        result = run_mace_train(args, work_dir, label=strategy.value, on_epoch=on_epoch)
        effective = read_mace_log(result.log_path)
        model_path = result.model_path
        if strategy is FineTuneStrategy.MULTIHEAD:
            if not effective.get("multihead"):
                raise RuntimeError(
                    f"mace did not run multi-head fine-tuning (log {result.log_path}); "
                    "refusing to hand on a transfer-learned model as 'multihead'."
                )
            model_path = str(
                extract_head(model_path, "Default", work_dir / f"{name}_default_head.model")
            )
    return TrainingOutcome(
        strategy=strategy,
        backend=backend,
        model_path=str(Path(model_path).resolve()),
        result=result,
        settings=settings,
        effective=effective,
        e0s_source=e0s_source,
        energy_shift=energy_shift,
        replay=replay,
        train_statics=train,
        valid_statics=valid,
    )
