import math

import numpy as np
import pytest
from ase.io import read
from pymatgen.core import Lattice, Structure

from mlip_finetune.fitting.dataset import write_extxyz
from mlip_finetune.fitting.mace_backend import build_mace_train_args, parse_epoch_line
from mlip_finetune.fitting.strategies import FineTuneStrategy, MaceTrainSettings, default_settings
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import GPA_TO_EV_PER_A3


def _argdict(argv):
    out, key = {}, None
    for token in argv:
        if token.startswith("--"):
            key = token[2:]
            out[key] = True
        else:
            out[key] = token
    return out


def test_paper_defaults():
    transfer = default_settings(FineTuneStrategy.TRANSFER)
    assert (transfer.lr, transfer.weight_decay) == (0.01, 5e-3)
    assert (transfer.energy_weight, transfer.forces_weight, transfer.stress_weight) == (
        10.0,
        100.0,
        1000.0,
    )
    assert transfer.huber_delta == 0.01
    assert transfer.loss == "huber"
    assert transfer.optimizer == "adamw"
    assert transfer.scheduler == "ReduceLROnPlateau"
    assert transfer.max_num_epochs == 200
    scratch = default_settings(FineTuneStrategy.SCRATCH)
    assert (scratch.lr, scratch.weight_decay) == (0.01, 5e-7)


def test_transfer_args(tmp_path):
    argv = build_mace_train_args(
        default_settings(FineTuneStrategy.TRANSFER),
        strategy=FineTuneStrategy.TRANSFER,
        name="ft",
        train_file=tmp_path / "train.xyz",
        valid_file=tmp_path / "valid.xyz",
        work_dir=tmp_path,
        device="cpu",
        foundation_model="/models/found.model",
    )
    args = _argdict(argv)
    assert args["foundation_model"] == "/models/found.model"
    assert args["multiheads_finetuning"] == "False"
    assert args["loss"] == "huber"
    assert float(args["huber_delta"]) == 0.01
    assert float(args["energy_weight"]) == 10.0
    assert float(args["forces_weight"]) == 100.0
    assert float(args["stress_weight"]) == 1000.0
    assert float(args["lr"]) == 0.01
    assert float(args["weight_decay"]) == 5e-3
    assert args["optimizer"] == "adamw"
    assert args["scheduler"] == "ReduceLROnPlateau"
    assert args["E0s"] == "estimated"
    assert args["stress_key"] == "REF_stress"
    assert args["restart_latest"] is True
    # the architecture comes from the foundation, never from our defaults
    assert "num_channels" not in args


def test_scratch_args_and_mismatches(tmp_path):
    common = {
        "name": "s",
        "train_file": "t.xyz",
        "valid_file": "v.xyz",
        "work_dir": tmp_path,
        "device": "cpu",
    }
    args = _argdict(
        build_mace_train_args(
            MaceTrainSettings(num_channels=16, extra_args={"max_ell": "2"}),
            strategy=FineTuneStrategy.SCRATCH,
            **common,
        )
    )
    assert args["num_channels"] == "16"
    assert args["max_ell"] == "2"
    assert "foundation_model" not in args
    with pytest.raises(ValueError, match="no foundation"):
        build_mace_train_args(
            MaceTrainSettings(),
            strategy=FineTuneStrategy.SCRATCH,
            foundation_model="x.model",
            **common,
        )
    with pytest.raises(ValueError, match="needs a foundation"):
        build_mace_train_args(MaceTrainSettings(), strategy=FineTuneStrategy.TRANSFER, **common)


def test_parse_epoch_line():
    line = (
        "2026-11-22 04:09:03.040 INFO: Epoch 12: head: Default, loss=0.02808858, "
        "MAE_E_per_atom=  518.10 meV, MAE_F=  298.98 meV / A, MAE_stress=   22.67 meV / A^3"
    )
    rec = parse_epoch_line(line)
    assert rec.epoch == 12
    assert rec.loss == pytest.approx(0.02808858)
    assert rec.energy_mae == pytest.approx(518.10)
    assert rec.force_mae == pytest.approx(298.98)
    assert rec.stress_mae == pytest.approx(22.67)
    nan = parse_epoch_line(line.replace("0.02808858", "     nan"))
    assert math.isnan(nan.loss)
    assert parse_epoch_line("INFO: Initial: head: Default, loss=0.1") is None


def test_write_extxyz_roundtrip(tmp_path):
    structure = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    stress = [[1.0, 0.1, 0.0], [0.1, 2.0, 0.0], [0.0, 0.0, 3.0]]
    static = StaticDocument(
        label="x",
        structure=structure,
        energy=-10.5,
        forces=[[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]],
        stress=stress,
        engine="gpaw",
        settings={},
        kpoints=[1, 1, 1],
        wall_time_s=1.0,
        converged=True,
    )
    path = write_extxyz([static, static], tmp_path / "d.xyz")
    frames = read(path, index=":")
    assert len(frames) == 2
    assert frames[0].info["REF_energy"] == pytest.approx(-10.5)
    np.testing.assert_allclose(frames[0].arrays["REF_forces"], static.forces)
    np.testing.assert_allclose(
        np.reshape(frames[0].info["REF_stress"], (3, 3)), np.array(stress) * GPA_TO_EV_PER_A3
    )
    with pytest.raises(ValueError, match="No labelled"):
        write_extxyz([], tmp_path / "e.xyz")
