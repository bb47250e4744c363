"""Fine-tuning data: supercells, perturbations, foundation relaxations, frame selection.

Paper §4.2. Pure functions live in :mod:`mlip_finetune.data.utils`, the jobflow Maker in
:mod:`mlip_finetune.data.jobs`.
"""

from mlip_finetune.data.jobs import (
    FoundationModelMismatchError,
    TrainingDataMaker,
    UnsupportedElementError,
    generate_training_data,
)
from mlip_finetune.data.utils import (
    FrameSelectionError,
    RattleError,
    RelaxationTrajectory,
    SupercellError,
    SupercellProtocol,
    jitter_lattice,
    mc_rattle,
    primitive_standard,
    progressive_training_subsets,
    relax_trajectory,
    scale_volume,
    select_energy_spaced_frames,
    supercell_matrix_for_protocol,
)

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
