"""equitrain fine-tuning (paper §4.4): full-rank additive delta ("Equitrain") and low-rank LoRA.

- :mod:`~mlip_finetune.fitting.equitrain.args`: equitrain's three argument lists;
- :mod:`~mlip_finetune.fitting.equitrain.run`: :func:`run_equitrain_finetune`, the one place
  that launches equitrain; :mod:`~mlip_finetune.fitting.equitrain.driver`, the subprocess;
- :mod:`~mlip_finetune.fitting.equitrain.wrapper`: :class:`EquitrainMode` and its registry,
  :func:`build_finetune_wrapper`; :mod:`~mlip_finetune.fitting.equitrain.delta` and
  :mod:`~mlip_finetune.fitting.equitrain.lora`: the two modes;
- :mod:`~mlip_finetune.fitting.equitrain.parse`: equitrain's log.

equitrain's delta and LoRA wrappers exist only in its Python API (DESIGN.md, known traps), so
one call of :func:`~mlip_finetune.fitting.equitrain.run.run_equitrain_finetune` launches a
small driver program (``python -m mlip_finetune.fitting.equitrain.driver <spec.json>``) that
does what equitrain's own scripts do, with the wrapper in between:

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
  :class:`~mlip_finetune.fitting.errors.TrainingDivergedError`.
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

from mlip_finetune.fitting.equitrain.args import (
    build_equitrain_export_args,
    build_equitrain_preprocess_args,
    build_equitrain_train_args,
)
from mlip_finetune.fitting.equitrain.parse import DIVERGED_MARKER, EquitrainEpochParser
from mlip_finetune.fitting.equitrain.run import (
    CHECKPOINT_DIR,
    DATA_DIR,
    LOG_NAME,
    SPEC_NAME,
    last_checkpoint,
    run_equitrain_finetune,
)
from mlip_finetune.fitting.equitrain.wrapper import MODES, EquitrainMode, build_finetune_wrapper

__all__ = [
    "CHECKPOINT_DIR",
    "DATA_DIR",
    "DIVERGED_MARKER",
    "LOG_NAME",
    "MODES",
    "SPEC_NAME",
    "EquitrainEpochParser",
    "EquitrainMode",
    "build_equitrain_export_args",
    "build_equitrain_preprocess_args",
    "build_equitrain_train_args",
    "build_finetune_wrapper",
    "last_checkpoint",
    "run_equitrain_finetune",
]
