"""Jobflow jobs of the evaluation (paper §3.3–3.5, §4.5–4.6).

- :mod:`~mlip_finetune.evaluation.jobs.phonons`: :class:`MLPhononMaker` (relax with a MACE
  model file, then every displaced supercell in the same job) and
  :func:`phonons_from_statics` (phonons from DFT statics of the displaced supercells).
- :mod:`~mlip_finetune.evaluation.jobs.properties`: :class:`MLPropertiesMaker`, EOS, elastic
  tensor, Slack κ and phase transitions of one MACE model in one job
  (:func:`~mlip_finetune.evaluation.properties.properties_from_calculator`).
- :mod:`~mlip_finetune.evaluation.jobs.dft_properties`: :class:`DFTPropertiesMaker`, the same
  properties with DFT, one fixed-cell relaxation job per EOS volume and strained cell,
  assembled by :func:`dft_properties_from_statics`.
- :mod:`~mlip_finetune.evaluation.jobs.phase_transitions`: :func:`dft_phase_transitions` and
  :func:`phase_transitions_with_calculator` (a code run per ASE call).
- :mod:`~mlip_finetune.evaluation.jobs.errors`: :func:`property_errors`, every model against
  the reference (:func:`~mlip_finetune.evaluation.metrics.compare_properties`).

Every job is tagged with its kind and stage (:mod:`mlip_finetune.schemas.jobs`).
"""

from __future__ import annotations

from mlip_finetune.dft.calculator import ALL_CHANGES, DFTEngineCalculator
from mlip_finetune.evaluation.jobs.dft_properties import (
    DFTPropertiesMaker,
    assemble_dft_properties,
    dft_properties_from_statics,
    dft_property_point_jobs,
    dft_property_points,
)
from mlip_finetune.evaluation.jobs.errors import property_errors
from mlip_finetune.evaluation.jobs.phase_transitions import (
    dft_phase_transitions,
    phase_transitions_with_calculator,
)
from mlip_finetune.evaluation.jobs.phonons import (
    PHONON_ARRAYS,
    POSITION_TOLERANCE,
    MLPhononMaker,
    phonons_from_statics,
)
from mlip_finetune.evaluation.jobs.properties import MLPropertiesMaker
from mlip_finetune.evaluation.properties import properties_from_calculator, properties_from_points
from mlip_finetune.evaluation.property_settings import PropertySettings

__all__ = [
    "ALL_CHANGES",
    "PHONON_ARRAYS",
    "POSITION_TOLERANCE",
    "DFTEngineCalculator",
    "DFTPropertiesMaker",
    "MLPhononMaker",
    "MLPropertiesMaker",
    "PropertySettings",
    "assemble_dft_properties",
    "dft_phase_transitions",
    "dft_properties_from_statics",
    "dft_property_point_jobs",
    "dft_property_points",
    "phase_transitions_with_calculator",
    "phonons_from_statics",
    "properties_from_calculator",
    "properties_from_points",
    "property_errors",
]
