"""equitrain's log lines become EpochRecords (meV/atom, meV/Å, GPa); the divergence marker."""

import math

import pytest

from mlip_finetune.fitting.equitrain.parse import DIVERGED_MARKER, EquitrainEpochParser
from mlip_finetune.units import EV_PER_A3_TO_GPA


def test_parser_units_and_divergence_marker():
    parser = EquitrainEpochParser(first_epoch=0)
    assert parser(f"{DIVERGED_MARKER}: energy").epoch == 0
    parser = EquitrainEpochParser(first_epoch=0)
    assert parser("... - Epoch [   1] --   val [huber]: 0.01308, energy: 0.00058") is None
    record = parser(
        "... - Epoch [   1] --   val [mae]  : 3.07883, energy: 0.06098, forces: 0.00635, "
        "stress: 0.00183"
    )
    assert (record.epoch, record.loss) == (1, 0.01308)
    assert (record.energy_mae_mev_per_atom, record.force_mae_mev_per_angstrom) == (
        pytest.approx(60.98),
        pytest.approx(6.35),
    )
    # equitrain logs eV/Å³; the record holds GPa like every other stress of the package
    assert record.stress_mae_gpa == pytest.approx(0.00183 * EV_PER_A3_TO_GPA)
    assert record.stress_mae_gpa == pytest.approx(0.2932, abs=1e-4)
    assert parser("... - Epoch [   2] -- train [mae]  : 1.0, energy: 0.1, forces: 0.1") is None
    assert math.isnan(parser(f"{DIVERGED_MARKER}: forces").loss)
    assert parser(f"{DIVERGED_MARKER}: forces").epoch == 2


def test_parser_without_loss_line_or_stress():
    parser = EquitrainEpochParser(first_epoch=5, loss_type="mse")
    assert parser(f"{DIVERGED_MARKER}: stress").epoch == 5  # before any epoch line
    record = parser("Epoch [   6] --   val [mae]  : 0.5, energy: 0.001, forces: 0.002")
    assert (record.epoch, record.loss, record.stress_mae_gpa) == (6, 0.5, None)
    assert record.head == "Default"
    assert parser("Epoch [   7] --   val [rmse] : 0.5, energy: 0.001") is None
    assert parser("unrelated line") is None
