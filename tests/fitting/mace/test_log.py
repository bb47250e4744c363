"""Reading mace's log: per-epoch errors (stress in GPa) and the settings mace really used."""

import math

import pytest

from mlip_finetune.fitting.mace.log import parse_epoch_line, read_mace_log
from mlip_finetune.units import EV_PER_A3_TO_GPA


def test_parse_epoch_line():
    line = (
        "2026-11-22 04:09:03.040 INFO: Epoch 12: head: Default, loss=0.02808858, "
        "MAE_E_per_atom=  518.10 meV, MAE_F=  298.98 meV / A, MAE_stress=   22.67 meV / A^3"
    )
    rec = parse_epoch_line(line)
    assert rec.epoch == 12
    assert rec.loss == pytest.approx(0.02808858)
    assert rec.energy_mae_mev_per_atom == pytest.approx(518.10)
    assert rec.force_mae_mev_per_angstrom == pytest.approx(298.98)
    # mace logs meV/Å³; the record holds GPa like every other stress of the package
    assert rec.stress_mae_gpa == pytest.approx(22.67e-3 * EV_PER_A3_TO_GPA)
    assert rec.stress_mae_gpa == pytest.approx(3.632, abs=1e-3)
    nan = parse_epoch_line(line.replace("0.02808858", "     nan"))
    assert math.isnan(nan.loss)
    assert parse_epoch_line("INFO: Initial: head: Default, loss=0.1") is None


def test_parse_epoch_line_without_stress():
    line = "INFO: Epoch 3: head: pt_head, loss=0.5, MAE_E_per_atom=  1.00 meV, MAE_F=  2.00 meV / A"
    rec = parse_epoch_line(line)
    assert (rec.epoch, rec.head, rec.stress_mae_gpa) == (3, "pt_head", None)


def test_read_mace_log(tmp_path):
    log = tmp_path / "mace_train.log"
    log.write_text(
        "2026 INFO: Using heads: ['Default', 'pt_head']\n"
        "2026 INFO: Using multiheads finetuning mode\n"
        "2026 INFO: Learning rate: 0.0001, weight decay: 5e-07\n"
        "2026 INFO: UniversalLoss(energy_weight=1.000, forces_weight=10.000)\n"
        "2026 INFO: Freezing parameters of node_embedding\n"
    )
    found = read_mace_log(log)
    assert found == {
        "multihead": True,
        "frozen": ["Freezing parameters of node_embedding"],
        "heads": ["Default", "pt_head"],
        "lr": 1e-4,
        "weight_decay": 5e-7,
        "loss": "UniversalLoss(energy_weight=1.000, forces_weight=10.000)",
    }
    log.write_text("nothing mace would say\n")
    assert read_mace_log(log) == {"multihead": False, "frozen": []}
