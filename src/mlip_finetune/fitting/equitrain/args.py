"""equitrain's three command lines: ``equitrain-preprocess``, training, ``equitrain-export``.

Pure functions, no training;
:func:`mlip_finetune.fitting.equitrain.run.run_equitrain_finetune` writes their results into
the driver's instructions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlip_finetune.fitting.dataset import ENERGY_KEY, FORCES_KEY, STRESS_KEY

if TYPE_CHECKING:
    from pathlib import Path

    from mlip_finetune.schemas.fitting import TrainSettings


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
    settings: TrainSettings,
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
    :func:`~mlip_finetune.fitting.equitrain.run.run_equitrain_finetune`), ``extra_args``
    (mace's) and the architecture fields.

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
        is chosen by accelerate, see
        :func:`~mlip_finetune.fitting.equitrain.run.run_equitrain_finetune`).
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
