"""equitrain fine-tuning (paper §4.4): full-rank additive delta ("Equitrain") and low-rank LoRA.

equitrain's delta and LoRA wrappers exist only in its Python API (DESIGN.md, known traps), so
one call of :func:`run_equitrain_finetune` launches this module as a small driver program
(``python -m mlip_finetune.fitting.equitrain_backend <spec.json>``) that does what equitrain's
own scripts do, with the wrapper in between:

1. ``equitrain-preprocess``: the extended-XYZ files become equitrain's HDF5 files (keys
   ``REF_energy``/``REF_forces``/``REF_stress``; ASE turns the 3×3 stress into the 6-component
   Voigt stress equitrain stores, ``equitrain/data/format_hdf5/dataset.py`` line 227).
2. training (``equitrain.train``) of the foundation MACE wrapped in equitrain's
   ``MaceWrapper`` and then ``DeltaFineTuneWrapper`` (ω = ω0 + Δω, Δω = 0 at the start, base
   frozen) or ``LoRAFineTuneWrapper`` (ΔW = α/r·B·A);
3. ``equitrain-export``: the merged plain MACE model (ω0 + Δω written into the base weights)
   to ``work_dir/<name>.model``.

The driver runs in a subprocess because equitrain sets torch's global dtype and seeds
(``equitrain/backends/torch_backend.py`` line 431, ``_train``), like mace.

Facts about equitrain 1.0.0 this module relies on (read from its source):

- Weight decay reaches the delta only: ``create_optimizer`` builds its parameter groups from
  ``named_parameters()`` with ``requires_grad`` (``backends/torch_optimizer.py`` line 27,
  ``add_weight_decay``), and the wrappers freeze every base parameter, so AdamW's decoupled
  decay (the L²-SP penalty λ‖Δω‖²) acts on Δω (or on A, B) alone.
- Checkpoints are written only when the validation loss improves
  (``backends/torch_backend.py`` line 387, ``if update_val_result:``). A
  restarted run resumes from the newest (= best) one with ``--load-last-checkpoint`` (model,
  optimizer, scheduler and RNG states); epochs after the last improvement are trained again.
  Only that checkpoint is kept (``--keep-best-checkpoints 1``). A checkpoint folder without
  the ``args.json`` equitrain writes last (``backends/torch_checkpoint.py``,
  ``save_checkpoint``) was cut short by the kill and is deleted before resuming. The exported
  model is the best one by validation loss, as with mace.
- Non-finite losses are silently dropped from the logged averages
  (``equitrain/loss_metrics.py`` line 18, ``AverageMeter.update``;
  ``backends/torch_evaluate.py`` line 115, ``if loss.main.isfinite():``): a diverged run
  logs a validation loss of 0.0 and saves it as the best checkpoint. Workaround: the driver
  puts a forward hook on the wrapper that stops the process at the first non-finite energy,
  force or stress, after printing a marker line that the parent turns into
  :class:`~mlip_finetune.fitting.mace_backend.TrainingDivergedError`.
- LoRA adapts only parameters named ``*.weight`` with two or more dimensions
  (``finetune/lora_torch.py`` line 35, ``_is_lora_param``). In MACE these are the radial MLPs
  (``interactions.*.conv_tp_weights.layer*.weight``): e3nn's ``o3.Linear`` keeps its weights
  as one flat vector and the symmetric contractions name theirs ``weights_*``, so both stay
  at the foundation's values. Its rank is set per matrix by a fraction of min(d_out, d_in)
  and a floor ``min_rank``; a fixed rank r is asked for as ``min_rank=r`` with a vanishing
  fraction, so every adapted matrix gets exactly rank r (even where r > min(d_out, d_in)).
- The loss is equitrain's: Huber(δ) on the energy error divided by the number of atoms (mace
  takes the Huber of the per-atom energy error: the same in the linear regime, 1/N times it
  in the quadratic one), on force components and on the 3×3 stress, weighted by
  (w_E, w_F, w_S). AdamW without AMSGrad (mace defaults to AMSGrad); gradients clipped by value
  at 10 (mace: by norm). The scheduler watches the validation loss, as mace's does.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlip_finetune.fitting.dataset import ENERGY_KEY, FORCES_KEY, STRESS_KEY
from mlip_finetune.fitting.mace_backend import (
    EpochRecord,
    MaceTrainResult,
    TrainingError,
    run_training_process,
)
from mlip_finetune.units import EV_TO_MEV

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from mlip_finetune.fitting.strategies import MaceTrainSettings

logger = logging.getLogger(__name__)

EquitrainMode = Literal["delta", "lora"]

#: Log of the driver process (appended to by a resumed run).
LOG_NAME = "equitrain_train.log"
#: Subfolders of ``work_dir``: HDF5 data, checkpoints.
DATA_DIR = "equitrain_data"
CHECKPOINT_DIR = "equitrain_checkpoints"
#: The driver's instructions: mode, E0s and the three equitrain argument lists.
SPEC_NAME = "equitrain_run.json"

#: Printed by the driver when the model predicts a non-finite value.
DIVERGED_MARKER = "mlip-finetune: non-finite prediction"
#: equitrain's LoRA rank = max(min_rank, ceil(fraction·min(d_out, d_in))): with this fraction
#: the ceiling is 1 and min_rank alone sets the rank.
_LORA_RANK_FRACTION = 1e-9

_VAL_RE = re.compile(
    r"Epoch \[\s*(?P<epoch>\d+)\] --\s+val \[(?P<kind>[\w-]+)\]\s*: (?P<total>[^,\s]+)(?P<rest>.*)"
)
_VALUE_RE = re.compile(r"(\w+): ([^,\s]+)")


class EquitrainEpochParser:
    """Turn equitrain's per-epoch validation log lines into :class:`EpochRecord` objects.

    equitrain (run with ``-v``) logs, per epoch, the validation value of the loss it minimises
    (``Epoch [   3] --   val [huber]: 0.01510, energy: ..., forces: ..., stress: ...``) and
    then one line per monitored metric (``val [mae]  : ...``). The parser keeps the loss and
    emits a record at the MAE line. Epoch ``first_epoch`` is the evaluation before
    training (the foundation, or the checkpoint a resumed run starts from).

    Units: equitrain's MAEs are in eV/atom (energy error divided by the number of atoms), eV/Å
    (force components) and eV/Å³ (the nine stress components), printed with five decimals;
    the records hold meV/atom, meV/Å and meV/Å³ like mace's (resolution 0.01).

    Parameters
    ----------
    first_epoch
        Epoch number of the evaluation before training (0, or the resumed-from epoch).
    loss_type
        equitrain's ``--loss-type``, whose line gives :attr:`EpochRecord.loss`.
    """

    def __init__(self, first_epoch: int = 0, loss_type: str = "huber") -> None:
        self.first_epoch = first_epoch
        self.loss_type = loss_type
        self._last_epoch: int | None = None
        self._loss: dict[int, float] = {}

    def __call__(self, line: str) -> EpochRecord | None:
        """Parse one log line.

        Parameters
        ----------
        line
            One line of the driver's output.

        Returns
        -------
        EpochRecord or None
            A record at each ``val [mae]`` line; a record with NaN loss at the driver's
            divergence marker (epoch = the one in progress); None otherwise.
        """
        if DIVERGED_MARKER in line:
            epoch = self.first_epoch if self._last_epoch is None else self._last_epoch + 1
            nan = float("nan")
            return EpochRecord(epoch=epoch, head="Default", loss=nan, energy_mae=nan, force_mae=nan)
        match = _VAL_RE.search(line)
        if match is None:
            return None
        epoch = int(match.group("epoch"))
        self._last_epoch = epoch
        total = float(match.group("total"))
        if match.group("kind") == self.loss_type:
            self._loss[epoch] = total
            return None
        if match.group("kind") != "mae":
            return None
        values = {key: float(value) for key, value in _VALUE_RE.findall(match.group("rest"))}
        stress = values.get("stress")
        return EpochRecord(
            epoch=epoch,
            head="Default",
            loss=self._loss.pop(epoch, total),
            energy_mae=values["energy"] * EV_TO_MEV,
            force_mae=values["forces"] * EV_TO_MEV,
            stress_mae=None if stress is None else stress * EV_TO_MEV,
        )


def last_checkpoint(checkpoint_dir: str | Path) -> tuple[Path, int] | None:
    """Find the newest equitrain checkpoint of a run.

    Uses equitrain's own lookup (``equitrain.backends.torch_checkpoint._find_last_checkpoint``,
    the one behind ``--load-last-checkpoint``), so the resume decision and equitrain agree.

    Parameters
    ----------
    checkpoint_dir
        equitrain's ``--output-dir``.

    Returns
    -------
    tuple of (pathlib.Path, int) or None
        The checkpoint folder and its epoch; None when there is none.
    """
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    from equitrain.backends.torch_checkpoint import _find_last_checkpoint

    path, epoch = _find_last_checkpoint(checkpoint_dir, "val")
    return None if path is None else (Path(path), int(epoch))


def _drop_incomplete_checkpoints(checkpoint_dir: Path) -> None:
    """Delete checkpoint folders a kill interrupted (equitrain writes ``args.json`` last)."""
    for path in checkpoint_dir.glob("best_val_epochs@*"):
        if path.is_dir() and not (path / "args.json").is_file():
            logger.warning("Deleting incomplete equitrain checkpoint %s", path)
            shutil.rmtree(path)


def build_equitrain_preprocess_args(
    *,
    train_file: str | Path,
    valid_file: str | Path,
    output_dir: str | Path,
    e0s: dict[int, float],
    r_max: float,
    seed: int,
    dtype: str,
) -> list[str]:
    """Build the argument list of ``equitrain-preprocess``.

    Parameters
    ----------
    train_file, valid_file
        Extended-XYZ files with ``REF_energy`` (eV), ``REF_forces`` (eV/Å), ``REF_stress``
        (eV/Å³, 3×3), as written by :func:`mlip_finetune.fitting.dataset.write_extxyz`.
    output_dir
        Receives ``train.h5``, ``valid.h5`` and ``statistics.json``.
    e0s
        ``{Z: E0}`` isolated-atom energies (eV), recorded in ``statistics.json``.
    r_max
        Graph cutoff for the statistics (Å): the foundation's.
    seed, dtype
        As in training.

    Returns
    -------
    list of str
        ``["--train-file", ..., "--compute-statistics", ...]``.
    """
    e0s_literal = repr({int(z): float(e) for z, e in sorted(e0s.items())})
    return [
        "--train-file",
        str(train_file),
        "--valid-file",
        str(valid_file),
        "--output-dir",
        str(output_dir),
        "--energy-key",
        ENERGY_KEY,
        "--forces-key",
        FORCES_KEY,
        "--stress-key",
        STRESS_KEY,
        "--compute-statistics",
        "--atomic-numbers",
        repr(sorted(int(z) for z in e0s)),
        "--atomic-energies",
        e0s_literal,
        "--r-max",
        str(float(r_max)),
        "--seed",
        str(seed),
        "--dtype",
        dtype,
        "-v",
    ]


def build_equitrain_train_args(
    settings: MaceTrainSettings,
    *,
    train_file: str | Path,
    valid_file: str | Path,
    foundation_model: str | Path,
    output_dir: str | Path,
    device: str = "cpu",
    resume_from_epoch: int | None = None,
) -> list[str]:
    """Build the argument list of equitrain's training (``equitrain`` script's parser).

    Used fields of ``settings``: ``optimizer``, ``lr``, ``weight_decay``, ``scheduler``
    (only ReduceLROnPlateau), ``lr_factor``, ``scheduler_patience``, ``max_num_epochs``,
    ``batch_size`` (also for validation: equitrain has one batch size), ``loss`` (only
    Huber), ``huber_delta``, the three weights, ``seed``, ``default_dtype``, ``ema``. Not
    used: ``patience`` (equitrain has no early stopping), ``valid_batch_size``,
    ``eval_interval`` (it validates every epoch), ``E0s`` (given explicitly to
    :func:`run_equitrain_finetune`), ``extra_args`` (mace's) and the architecture fields.

    Parameters
    ----------
    settings
        Hyper-parameters (paper §4.3: AdamW, Huber δ = 0.01, weights (10, 100, 1000),
        ReduceLROnPlateau; §4.3 gives (lr, wd) = (0.01, 10) for Equitrain).
    train_file, valid_file
        equitrain HDF5 files.
    foundation_model
        Foundation MACE model file (``--model``; the wrapper replaces it in the driver).
    output_dir
        Checkpoint folder.
    device
        ``"cpu"`` or ``"cuda..."``; only memory pinning depends on it here (the device itself
        is chosen by accelerate, see :func:`run_equitrain_finetune`).
    resume_from_epoch
        Epoch of the checkpoint to resume from: adds ``--load-last-checkpoint`` and trains
        the remaining ``max_num_epochs - resume_from_epoch`` epochs (at least 0).

    Returns
    -------
    list of str
        Arguments accepted by ``equitrain.get_args_parser_train()``.

    Raises
    ------
    ValueError
        For a loss other than Huber or a scheduler other than ReduceLROnPlateau.
    """
    if settings.loss != "huber":
        raise ValueError(
            f"The equitrain backend trains with the paper's Huber loss only, got "
            f"loss={settings.loss!r}."
        )
    if settings.scheduler != "ReduceLROnPlateau":
        raise ValueError(
            f"The equitrain backend supports the ReduceLROnPlateau scheduler only, got "
            f"{settings.scheduler!r}."
        )
    epochs = settings.max_num_epochs
    if resume_from_epoch is not None:
        epochs = max(0, settings.max_num_epochs - resume_from_epoch)
    args = {
        "train-file": train_file,
        "valid-file": valid_file,
        "output-dir": output_dir,
        "model": foundation_model,
        "model-wrapper": "mace",
        "dtype": settings.default_dtype,
        "seed": settings.seed,
        "batch-size": settings.batch_size,
        "num-workers": 0,
        "pin-memory": device.startswith("cuda"),
        "epochs": epochs,
        "opt": settings.optimizer,
        "lr": settings.lr,
        "weight-decay": settings.weight_decay,
        "gradient-clipping": 10.0,
        "scheduler": "plateau",
        "scheduler_monitor": "val",
        "plateau-factor": settings.lr_factor,
        "plateau-patience": settings.scheduler_patience,
        "loss-type": "huber",
        "huber-delta": settings.huber_delta,
        "energy-weight": settings.energy_weight,
        "forces-weight": settings.forces_weight,
        "stress-weight": settings.stress_weight,
        "loss-monitor": "mae",
        "keep-best-checkpoints": 1,
    }
    argv = []
    for key, value in args.items():
        argv += [f"--{key}", str(value)]
    if settings.ema:
        argv += ["--ema", "--ema-decay", "0.99"]  # mace's default decay
    if resume_from_epoch is not None:
        argv.append("--load-last-checkpoint")
    argv.append("-v")  # equitrain logs its epoch lines at verbosity 1
    return argv


def build_equitrain_export_args(
    *, foundation_model: str | Path, checkpoint_dir: str | Path, model_path: str | Path
) -> list[str]:
    """Build the argument list of ``equitrain-export``.

    The wrapper (delta or LoRA, with its rank settings) is rebuilt from the
    ``fine_tune_export`` entry equitrain writes into the checkpoint's ``args.json``, the newest
    (= best) checkpoint is loaded, and the merged plain MACE model is saved.

    Parameters
    ----------
    foundation_model
        Foundation MACE model file.
    checkpoint_dir
        equitrain's checkpoint folder.
    model_path
        Output model file.

    Returns
    -------
    list of str
        Arguments accepted by ``equitrain.get_args_parser_export()``.
    """
    return [
        "--model",
        str(foundation_model),
        "--model-wrapper",
        "mace",
        "--output-dir",
        str(checkpoint_dir),
        "--load-last-checkpoint",
        "--fine-tune-wrapper",
        "auto",
        "--model-export",
        str(model_path),
        "-v",
    ]


def build_finetune_wrapper(
    foundation_model: str | Path | torch.nn.Module,
    mode: EquitrainMode,
    *,
    lora_rank: int | None = None,
    lora_alpha: float | None = None,
    e0s: dict[int, float] | None = None,
    dtype: str | None = None,
    compute_forces: bool = True,
    compute_stress: bool = True,
) -> torch.nn.Module:
    """Wrap a foundation MACE model in equitrain's delta or LoRA fine-tuning wrapper.

    Parameters
    ----------
    foundation_model
        MACE model file or a loaded MACE model (modified in place: E0s, dtype).
    mode
        ``"delta"``: ``DeltaFineTuneWrapper``, one zero-initialised Δω per base parameter.
        ``"lora"``: ``LoRAFineTuneWrapper``, ΔW = (α/r)·B·A on every ``*.weight`` matrix
        (for MACE: the radial MLPs), B = 0 and A ~ N(0, 1/d_in) at the start.
    lora_rank, lora_alpha
        LoRA rank r of every adapted matrix (equitrain's ``min_rank``) and α (None: scale 1).
    e0s
        ``{Z: E0}`` (eV) written into the model's atomic-energy buffer (not a parameter, so
        the base parameters stay the foundation's); None keeps the foundation's.
    dtype
        ``"float64"``/``"float32"``: cast the model; None keeps its dtype.
    compute_forces, compute_stress
        Whether the wrapper returns forces (eV/Å) and stress (eV/Å³, shape (batch, 3, 3)).

    Returns
    -------
    torch.nn.Module
        An equitrain ``AbstractWrapper`` whose ``forward`` takes a PyG batch and returns
        ``{"energy", "forces", "stress"}``; only the delta (or A, B) require gradients.

    Raises
    ------
    ValueError
        For an unknown mode or a LoRA without rank.
    """
    import mace  # noqa: F401  (mace before e3nn)
    import torch
    from equitrain.backends.torch_wrappers import MaceWrapper

    _check_mode(mode, lora_rank)
    model = foundation_model
    if not isinstance(model, torch.nn.Module):
        model = torch.load(model, map_location="cpu", weights_only=False)
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    if e0s is not None:
        buffer = model.atomic_energies_fn.atomic_energies
        zs = [int(z) for z in model.atomic_numbers]
        current = buffer.reshape(-1, len(zs))[0].tolist()
        values = [float(e0s.get(z, e)) for z, e in zip(zs, current, strict=True)]
        with torch.no_grad():
            buffer.copy_(torch.tensor(values, dtype=buffer.dtype).expand_as(buffer))
    flags = _WeightFlags(1.0 if compute_forces else 0.0, 1.0 if compute_stress else 0.0)
    base = MaceWrapper(flags, model)
    if mode == "delta":
        from equitrain.finetune.delta_torch import DeltaFineTuneWrapper

        return DeltaFineTuneWrapper(base)
    from equitrain.finetune.lora_torch import LoRAFineTuneWrapper

    return LoRAFineTuneWrapper(
        base, rank_fraction=_LORA_RANK_FRACTION, min_rank=int(lora_rank), alpha=lora_alpha
    )


class _WeightFlags:
    """The two attributes equitrain's ``MaceWrapper`` reads from its arguments."""

    def __init__(self, forces_weight: float, stress_weight: float) -> None:
        self.forces_weight = forces_weight
        self.stress_weight = stress_weight


def _check_mode(mode: str, lora_rank: int | None) -> None:
    if mode not in ("delta", "lora"):
        raise ValueError(f"Unknown equitrain mode {mode!r}; use 'delta' or 'lora'.")
    if mode == "lora" and (lora_rank is None or lora_rank < 1):
        raise ValueError(f"LoRA needs a rank >= 1, got lora_rank={lora_rank!r}.")
    if mode == "delta" and lora_rank is not None:
        raise ValueError("The full-rank delta takes no lora_rank (it is LoRA's only).")


def _device_env(device: str) -> dict[str, str]:
    """Environment that makes accelerate (inside equitrain) use ``device``."""
    if device == "cpu":
        return {"ACCELERATE_USE_CPU": "true"}
    if device == "cuda":
        return {}
    if device.startswith("cuda:"):
        return {"CUDA_VISIBLE_DEVICES": device.split(":", 1)[1]}
    raise ValueError(f"Unsupported device {device!r}; use 'cpu', 'cuda' or 'cuda:N'.")


def run_equitrain_finetune(
    mode: EquitrainMode,
    settings: MaceTrainSettings,
    *,
    name: str,
    train_file: str | Path,
    valid_file: str | Path,
    foundation_model: str | Path,
    work_dir: str | Path,
    device: str,
    e0s: dict[int, float],
    lora_rank: int | None = None,
    lora_alpha: float | None = None,
    label: str = "lora_full",
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> MaceTrainResult:
    """Fine-tune a foundation MACE with equitrain's delta (paper "Equitrain") or LoRA wrapper.

    Paper §4.4: the foundation weights ω0 stay frozen and an additive update is trained,
    ω = ω0 + Δω, with AdamW's weight decay acting on Δω only (an L²-SP penalty λ‖Δω‖²);
    ``"delta"`` is the full-rank form the paper uses, ``"lora"`` the low-rank ΔW = (α/r)·B·A.
    Runs preprocess → train → export in one subprocess (see the module docstring). Calling it
    again with the same ``work_dir`` after the process was killed resumes from equitrain's
    newest checkpoint; a finished run is re-evaluated and exported again.

    Parameters
    ----------
    mode
        ``"delta"`` or ``"lora"``.
    settings
        Hyper-parameters, see :func:`build_equitrain_train_args` for the fields used.
    name
        Model name: the merged model is written to ``work_dir/<name>.model``.
    train_file, valid_file
        Extended-XYZ files from :func:`mlip_finetune.fitting.dataset.write_extxyz`, energies
        on the foundation's energy zero.
    foundation_model
        Foundation MACE model file.
    work_dir
        Holds ``equitrain_data/`` (HDF5), ``equitrain_checkpoints/``, the log
        ``equitrain_train.log``, the driver's ``equitrain_run.json`` and the model.
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    e0s
        ``{Z: E0}`` isolated-atom energies (eV) of the model; normally the foundation's
        (:func:`mlip_finetune.fitting.e0s.model_e0s`).
    lora_rank, lora_alpha
        ``"lora"`` only: rank r of every adapted matrix and α (None: scale 1).
    label
        Name in progress and error messages (the strategy).
    on_epoch
        Called with each :class:`EpochRecord` as training proceeds. Epoch 0 (or the
        resumed-from epoch) is the evaluation before training; energy MAE in meV/atom, force
        MAE in meV/Å, stress MAE in meV/Å³ (over the nine components), loss = equitrain's
        weighted Huber validation loss.

    Returns
    -------
    MaceTrainResult
        ``model_path`` (plain MACE model, loadable by ``mace.calculators.MACECalculator``),
        ``log_path``, ``epochs`` of this call, ``args`` = the exact argument list of
        equitrain's training (preprocess and export lists are in ``equitrain_run.json``),
        ``wall_time_s``, ``multihead_active=False``.

    Raises
    ------
    FileNotFoundError
        If the foundation model or a data file does not exist.
    ValueError
        For an unknown mode, a LoRA without rank, a rank with the delta, or settings
        equitrain cannot run (loss, scheduler).
    TrainingDivergedError
        At the first non-finite prediction (the process is stopped), naming label and epoch.
    TrainingError
        If the process fails or writes no model; the message ends with the log's last lines.
    """
    from mlip_finetune.calculators import resolve_device
    from mlip_finetune.fitting.mace_backend import foundation_architecture

    _check_mode(mode, lora_rank)
    foundation_model = Path(foundation_model).expanduser().resolve()
    if not foundation_model.is_file():
        raise FileNotFoundError(
            f"Foundation model file not found: {foundation_model}. equitrain fine-tuning "
            "starts from an existing MACE model file."
        )
    for path in (train_file, valid_file):
        if not Path(path).is_file():
            raise FileNotFoundError(f"Training data file not found: {path}")
    device = resolve_device(device)
    env = _device_env(device)
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    data_dir, checkpoint_dir = work_dir / DATA_DIR, work_dir / CHECKPOINT_DIR
    model_path, log_path = work_dir / f"{name}.model", work_dir / LOG_NAME
    # equitrain skips conversion when an HDF5 file exists: always rebuild from the given data.
    shutil.rmtree(data_dir, ignore_errors=True)
    model_path.unlink(missing_ok=True)
    _drop_incomplete_checkpoints(checkpoint_dir)
    resume = last_checkpoint(checkpoint_dir)
    resume_epoch = None if resume is None else resume[1]
    train_args = build_equitrain_train_args(
        settings,
        train_file=data_dir / "train.h5",
        valid_file=data_dir / "valid.h5",
        foundation_model=foundation_model,
        output_dir=checkpoint_dir,
        device=device,
        resume_from_epoch=resume_epoch,
    )
    spec = {
        "mode": mode,
        "lora_rank": lora_rank,
        "lora_alpha": lora_alpha,
        "e0s": {str(z): float(e) for z, e in e0s.items()},
        "preprocess": build_equitrain_preprocess_args(
            train_file=Path(train_file).resolve(),
            valid_file=Path(valid_file).resolve(),
            output_dir=data_dir,
            e0s=e0s,
            r_max=float(foundation_architecture(foundation_model)["r_max"]),
            seed=settings.seed,
            dtype=settings.default_dtype,
        ),
        "train": train_args,
        "export": build_equitrain_export_args(
            foundation_model=foundation_model,
            checkpoint_dir=checkpoint_dir,
            model_path=model_path,
        ),
    }
    spec_path = work_dir / SPEC_NAME
    spec_path.write_text(json.dumps(spec, indent=2))
    start = 0 if resume_epoch is None else resume_epoch
    with log_path.open("a") as log:
        log.write(
            f"=== mlip-finetune: equitrain {mode} '{label}' on {device}, "
            + ("new run" if resume is None else f"resuming from {resume[0].name}")
            + f", epochs {start + 1}..{settings.max_num_epochs} ===\n"
        )
    logger.info("equitrain %s '%s': log %s", mode, label, log_path)
    run = run_training_process(
        [sys.executable, "-m", "mlip_finetune.fitting.equitrain_backend", str(spec_path)],
        cwd=work_dir,
        log_path=log_path,
        label=label,
        parse_line=EquitrainEpochParser(first_epoch=start),
        on_epoch=on_epoch,
        env=env,
        append_log=True,
    )
    if run.returncode != 0 or not model_path.is_file():
        raise TrainingError(
            f"equitrain training '{label}' failed (exit code {run.returncode}, model file "
            f"{'present' if model_path.is_file() else 'missing'}). Last log lines:\n"
            + "\n".join(run.tail)
        )
    return MaceTrainResult(
        model_path=str(model_path),
        log_path=str(log_path),
        epochs=run.epochs,
        args=train_args,
        wall_time_s=run.wall_time_s,
        multihead_active=False,
    )


def _stop_on_non_finite(_module: object, _inputs: object, output: object) -> None:
    """Forward hook: stop at the first non-finite prediction (equitrain would hide it)."""
    import torch

    if not isinstance(output, dict):
        return
    for key in ("energy", "forces", "stress"):
        value = output.get(key)
        if value is not None and not bool(torch.isfinite(value).all()):
            print(f"{DIVERGED_MARKER}: {key}", flush=True)  # noqa: T201  (read by the parent)
            raise FloatingPointError(f"non-finite {key} predicted")


def _main(argv: list[str]) -> None:
    """Driver: preprocess, train with the wrapper, export; ``argv = [spec.json]``."""
    import mace  # noqa: F401  (mace before e3nn)
    from equitrain import (
        get_args_parser_export,
        get_args_parser_preprocess,
        get_args_parser_train,
        preprocess,
        train,
    )
    from equitrain.scripts.equitrain_export import export

    spec = json.loads(Path(argv[0]).read_text())
    print("equitrain-preprocess", *spec["preprocess"], flush=True)  # noqa: T201
    preprocess(get_args_parser_preprocess().parse_args(spec["preprocess"]))
    print("equitrain train", *spec["train"], flush=True)  # noqa: T201
    args = get_args_parser_train().parse_args(spec["train"])
    wrapper = build_finetune_wrapper(
        args.model,
        spec["mode"],
        lora_rank=spec["lora_rank"],
        lora_alpha=spec["lora_alpha"],
        e0s={int(z): e for z, e in spec["e0s"].items()},
        dtype=args.dtype,
        compute_forces=args.forces_weight > 0,
        compute_stress=args.stress_weight > 0,
    )
    wrapper.register_forward_hook(_stop_on_non_finite)
    args.model = wrapper
    train(args)
    print("equitrain-export", *spec["export"], flush=True)  # noqa: T201
    logging.getLogger("EqLog").handlers.clear()  # preprocess's handler would double each line
    export(get_args_parser_export().parse_args(spec["export"]))


if __name__ == "__main__":
    _main(sys.argv[1:])
