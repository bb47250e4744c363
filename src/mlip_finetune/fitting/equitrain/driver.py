"""The program one equitrain fine-tuning runs in its subprocess.

``python -m mlip_finetune.fitting.equitrain.driver <equitrain_run.json>`` does what
equitrain's own scripts do, with the wrapper in between: ``equitrain-preprocess``, training
of the wrapped foundation (:func:`~mlip_finetune.fitting.equitrain.wrapper.build_finetune_wrapper`),
``equitrain-export``. It runs in a subprocess because equitrain sets torch's global dtype and
seeds (``equitrain/backends/torch_backend.py`` line 431, ``_train``), like mace. Launched
only by :func:`mlip_finetune.fitting.equitrain.run.run_equitrain_finetune`.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from mlip_finetune.fitting.equitrain.parse import DIVERGED_MARKER
from mlip_finetune.fitting.equitrain.wrapper import build_finetune_wrapper


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


def main(argv: list[str]) -> None:
    """Preprocess, train with the wrapper, export.

    Parameters
    ----------
    argv
        ``[spec.json]``: the instructions written by
        :func:`~mlip_finetune.fitting.equitrain.run.run_equitrain_finetune`.
    """
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
    main(sys.argv[1:])
