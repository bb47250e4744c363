"""Reading mace's training log: per-epoch validation errors and the settings mace used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mlip_finetune.schemas.fitting import EpochRecord
from mlip_finetune.units import EV_PER_A3_TO_GPA, EV_TO_MEV

_EPOCH_RE = re.compile(
    r"Epoch (?P<epoch>\d+): head: (?P<head>\S+), loss=\s*(?P<loss>\S+),"
    r" MAE_E_per_atom=\s*(?P<mae_e>\S+) meV, MAE_F=\s*(?P<mae_f>\S+) meV / A"
    r"(?:, MAE_stress=\s*(?P<mae_s>\S+) meV / A\^3)?"
)
_LR_RE = re.compile(r"Learning rate: (?P<lr>\S+), weight decay: (?P<wd>\S+)")
_LOSS_RE = re.compile(r"INFO: (?P<loss>\w+Loss\(.*\))\s*$")
_HEADS_RE = re.compile(r"Using heads: (?P<heads>\[.*\])")
_FREEZE_RE = re.compile(r"INFO: (?P<what>Freezing .*)$")
#: mace's log line when it really runs multi-head fine-tuning.
MULTIHEAD_MARKER = "Using multiheads finetuning mode"


def parse_epoch_line(line: str) -> EpochRecord | None:
    """Parse one of mace's per-epoch validation log lines.

    Parameters
    ----------
    line
        A line of mace's log (``error_table=PerAtomMAEstressvirials``).

    Returns
    -------
    EpochRecord or None
        None when the line is not an epoch summary. mace logs the stress MAE in meV/Å³;
        the record holds it in GPa (:attr:`EpochRecord.stress_mae_gpa`).
    """
    match = _EPOCH_RE.search(line)
    if match is None:
        return None
    mae_s = match.group("mae_s")
    return EpochRecord(
        epoch=int(match.group("epoch")),
        head=match.group("head"),
        loss=float(match.group("loss")),
        energy_mae_mev_per_atom=float(match.group("mae_e")),
        force_mae_mev_per_angstrom=float(match.group("mae_f")),
        stress_mae_gpa=None if mae_s is None else float(mae_s) / EV_TO_MEV * EV_PER_A3_TO_GPA,
    )


def read_mace_log(log_path: str | Path) -> dict:
    """Read the settings mace actually used from its training log.

    mace changes some requested settings on its own (DESIGN.md traps: multi-head mode
    switched off without a replay file, lr forced to 1e-4, the loss replaced by its
    ``UniversalLoss`` in multi-head mode). The fine-tuning document records these values,
    not the requested ones.

    Parameters
    ----------
    log_path
        ``mace_train.log`` written by :func:`mlip_finetune.fitting.mace.run.run_mace_train`.

    Returns
    -------
    dict
        ``lr`` and ``weight_decay`` (float), ``loss`` (mace's repr of the loss, str),
        ``heads`` (list of str), ``multihead`` (bool), ``frozen`` (list of mace's
        "Freezing …" messages); a key is absent when its line is not in the log.
    """
    found: dict = {"multihead": False, "frozen": []}
    for line in Path(log_path).read_text().splitlines():
        if (match := _LR_RE.search(line)) is not None:
            found["lr"] = float(match.group("lr"))
            found["weight_decay"] = float(match.group("wd"))
        elif (match := _LOSS_RE.search(line)) is not None:
            found["loss"] = match.group("loss")
        elif (match := _HEADS_RE.search(line)) is not None:
            found["heads"] = list(ast.literal_eval(match.group("heads")))
        elif (match := _FREEZE_RE.search(line)) is not None:
            found["frozen"].append(match.group("what"))
        elif MULTIHEAD_MARKER in line:
            found["multihead"] = True
    return found
