"""Old import path of the fine-tuning data building blocks (re-exports only).

The functions live in :mod:`~mlip_finetune.data.supercells`,
:mod:`~mlip_finetune.data.perturbations`, :mod:`~mlip_finetune.data.trajectories` and
:mod:`~mlip_finetune.data.frames`.
"""

from mlip_finetune.data.frames import (
    FrameSelectionError,
    FrameT,
    is_validation_scale,
    progressive_training_subsets,
    select_energy_spaced_frames,
)
from mlip_finetune.data.perturbations import (
    D_MIN_FRACTION,
    MC_RATTLE_MAX_TRIES,
    MC_RATTLE_N_ITER,
    MC_RATTLE_WIDTH_FRACTION,
    RattleError,
    jitter_lattice,
    mc_rattle,
    scale_volume,
    strain_and_rattle,
)
from mlip_finetune.data.supercells import (
    SUPERCELL_LENGTHS,
    SupercellError,
    SupercellProtocol,
    primitive_standard,
    shortest_distance,
    supercell_matrix_for_protocol,
)
from mlip_finetune.data.trajectories import RelaxationTrajectory, relax_trajectory

__all__ = [
    "D_MIN_FRACTION",
    "MC_RATTLE_MAX_TRIES",
    "MC_RATTLE_N_ITER",
    "MC_RATTLE_WIDTH_FRACTION",
    "SUPERCELL_LENGTHS",
    "FrameSelectionError",
    "FrameT",
    "RattleError",
    "RelaxationTrajectory",
    "SupercellError",
    "SupercellProtocol",
    "is_validation_scale",
    "jitter_lattice",
    "mc_rattle",
    "primitive_standard",
    "progressive_training_subsets",
    "relax_trajectory",
    "scale_volume",
    "select_energy_spaced_frames",
    "shortest_distance",
    "strain_and_rattle",
    "supercell_matrix_for_protocol",
]
