"""Real (tiny) equitrain delta and LoRA fine-tunings of a random MACE, shared by this package.

Each training runs once for all test modules here (package-scoped fixtures).
"""

import math

import pytest

from mlip_finetune.fitting.dataset import write_extxyz
from mlip_finetune.fitting.equitrain.run import last_checkpoint, run_equitrain_finetune
from mlip_finetune.schemas.fitting import TrainSettings
from tests.fitting.test_training import _labelled

E0S = {14: -5.4}

# Huge decay, chosen so that lr·wd = 0.5: AdamW then halves Δω at every step.
BIG_DECAY = 1000.0


def settings(**update):
    """Small, fast training settings with the huge decay unless overridden."""
    base = {"lr": 5e-4, "weight_decay": BIG_DECAY, "max_num_epochs": 4, "batch_size": 2}
    return TrainSettings(**(base | update))


def finetune(data, work_dir, mode="delta", train_settings=None, **kwargs):
    """One run_equitrain_finetune call on the shared data."""
    return run_equitrain_finetune(
        mode,
        train_settings or settings(),
        name="ft",
        train_file=data["train"],
        valid_file=data["valid"],
        foundation_model=data["foundation"],
        work_dir=work_dir,
        device="cpu",
        e0s=kwargs.pop("e0s", E0S),
        **kwargs,
    )


def checkpoint_state(work_dir):
    """The model state of a run's newest checkpoint."""
    from safetensors.torch import load_file

    path, _ = last_checkpoint(work_dir / "equitrain_checkpoints")
    return load_file(path / "model.safetensors")


def foundation_parameters(path):
    """The named parameters of a MACE model file."""
    import mace  # noqa: F401
    import torch

    return dict(torch.load(path, weights_only=False).named_parameters())


def delta_norm(state):
    """‖Δω‖ of a delta checkpoint."""
    return math.sqrt(sum(float((v**2).sum()) for k, v in state.items() if k.startswith("_delta")))


@pytest.fixture(scope="package")
def data(tmp_path_factory, random_mace_si):
    path = tmp_path_factory.mktemp("equitrain_data")
    docs = _labelled(str(random_mace_si), 6)
    return {
        "foundation": random_mace_si,
        "train": write_extxyz(docs[:4], path / "train.xyz"),
        "valid": write_extxyz(docs[4:], path / "valid.xyz"),
        "valid_docs": docs[4:],
    }


@pytest.fixture(scope="package")
def decayed(data, tmp_path_factory):
    """Full-rank delta with a huge weight decay, 4 epochs in one go."""
    work_dir = tmp_path_factory.mktemp("delta_decayed")
    return work_dir, finetune(data, work_dir)


@pytest.fixture(scope="package")
def resumed(data, tmp_path_factory):
    """Full-rank delta without weight decay: 2 epochs, then the same call with 4 epochs."""
    work_dir = tmp_path_factory.mktemp("delta_free")
    first = finetune(data, work_dir, train_settings=settings(weight_decay=0.0, max_num_epochs=2))
    checkpoint_epoch = last_checkpoint(work_dir / "equitrain_checkpoints")[1]
    # a kill while equitrain saved epoch 3 would leave a folder without args.json
    (work_dir / "equitrain_checkpoints" / "best_val_epochs@3_e@0.001").mkdir()
    second = finetune(data, work_dir, train_settings=settings(weight_decay=0.0, max_num_epochs=4))
    return work_dir, first, checkpoint_epoch, second


@pytest.fixture(scope="package")
def lora(data, tmp_path_factory):
    """Rank-2 LoRA, α = 4, with E0s other than the foundation's."""
    work_dir = tmp_path_factory.mktemp("lora")
    train_settings = settings(weight_decay=10.0, max_num_epochs=2)
    result = finetune(
        data,
        work_dir,
        "lora",
        train_settings,
        lora_rank=2,
        lora_alpha=4.0,
        e0s={14: -5.3},
        label="lora",
    )
    return work_dir, result
