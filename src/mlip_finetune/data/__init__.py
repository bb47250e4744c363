"""Fine-tuning data: supercells, perturbations, foundation relaxations, frame selection.

Paper §4.2. Pure functions live in :mod:`~mlip_finetune.data.supercells`,
:mod:`~mlip_finetune.data.perturbations`, :mod:`~mlip_finetune.data.trajectories` and
:mod:`~mlip_finetune.data.frames`; the jobflow Maker in :mod:`mlip_finetune.data.jobs`.
"""

from mlip_finetune.data.frames import (
    FrameSelectionError,
    progressive_training_subsets,
    select_energy_spaced_frames,
)
from mlip_finetune.data.jobs import (
    FoundationModelMismatchError,
    TrainingDataMaker,
    UnsupportedElementError,
    generate_training_data,
)
from mlip_finetune.data.perturbations import RattleError, jitter_lattice, mc_rattle, scale_volume
from mlip_finetune.data.supercells import (
    SupercellError,
    SupercellProtocol,
    primitive_standard,
    supercell_matrix_for_protocol,
)
from mlip_finetune.data.trajectories import RelaxationTrajectory, relax_trajectory

__all__ = [
    "FoundationModelMismatchError",
    "FrameSelectionError",
    "RattleError",
    "RelaxationTrajectory",
    "SupercellError",
    "SupercellProtocol",
    "TrainingDataMaker",
    "UnsupportedElementError",
    "generate_training_data",
    "jitter_lattice",
    "mc_rattle",
    "primitive_standard",
    "progressive_training_subsets",
    "relax_trajectory",
    "scale_volume",
    "select_energy_spaced_frames",
    "supercell_matrix_for_protocol",
]
