"""Reading equitrain's log: per-epoch validation errors and the driver's divergence marker."""

from __future__ import annotations

import re

from mlip_finetune.schemas.fitting import EpochRecord
from mlip_finetune.units import EV_PER_A3_TO_GPA, EV_TO_MEV

#: Printed by the driver when the model predicts a non-finite value.
DIVERGED_MARKER = "mlip-finetune: non-finite prediction"

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
    the records hold meV/atom and meV/Å like mace's (resolution 0.01) and the stress in GPa.

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
            return EpochRecord(
                epoch=epoch,
                head="Default",
                loss=nan,
                energy_mae_mev_per_atom=nan,
                force_mae_mev_per_angstrom=nan,
            )
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
            energy_mae_mev_per_atom=values["energy"] * EV_TO_MEV,
            force_mae_mev_per_angstrom=values["forces"] * EV_TO_MEV,
            stress_mae_gpa=None if stress is None else stress * EV_PER_A3_TO_GPA,
        )
