"""VASP reference calculations with the paper's settings, through atomate2.

- :mod:`~mlip_finetune.dft.vasp.sets`: INCAR presets (paper §4.1, §4.6), the Γ-centred
  k-point mesh and atomate2 input-set generators.
- :mod:`~mlip_finetune.dft.vasp.jobs`: atomate2 VASP makers with those sets and
  :class:`VaspDocumentMaker`, the drop-in VASP counterpart of
  :class:`~mlip_finetune.dft.jobs.DFTStaticMaker` (output: our
  :class:`~mlip_finetune.schemas.dft.StaticDocument`); job tags.
- :mod:`~mlip_finetune.dft.vasp.flows`: atomate2's phonon, elastic and EOS flows with the
  paper's settings.
- :mod:`~mlip_finetune.dft.vasp.conversion`: atomate2's ``TaskDoc`` → ``StaticDocument``.
- :mod:`~mlip_finetune.dft.vasp.calculator`: :class:`VaspStaticCalculator`, one VASP static
  per ASE call.

The VASP property suite (``VaspPropertiesMaker``, ``paper_properties_maker``) uses the
evaluation layer and lives in :mod:`mlip_finetune.evaluation.vasp_properties`.
"""

from __future__ import annotations

from mlip_finetune.dft.vasp.calculator import VaspStaticCalculator
from mlip_finetune.dft.vasp.conversion import (
    SITE_MATCH_TOLERANCE,
    fmax_from_ediffg,
    site_order,
    static_document_from_task,
    vasp_static_document,
    vasp_stress_to_gpa,
)
from mlip_finetune.dft.vasp.flows import (
    paper_double_relax_maker,
    paper_elastic_maker,
    paper_eos_maker,
    paper_phonon_maker,
    paper_relax_maker,
)
from mlip_finetune.dft.vasp.jobs import (
    VaspDocumentMaker,
    VaspRelaxMaker,
    VaspStaticMaker,
    is_vasp_job,
    phase_transition_static_maker,
    tag_vasp_flow,
)
from mlip_finetune.dft.vasp.sets import (
    PAPER_EDIFF,
    PAPER_ELASTIC_FMAX,
    PAPER_ENCUT,
    PAPER_EOS_N_VOLUMES,
    PAPER_EOS_VOLUME_RANGE,
    PAPER_KSPACING,
    PAPER_PHONON_MIN_LENGTH,
    PAPER_POTCAR_FUNCTIONAL,
    PAPER_RELAX_FMAX,
    PHASE_TRANSITION_EDIFF,
    PHASE_TRANSITION_ENCUT,
    PaperRelaxSetGenerator,
    PaperStaticSetGenerator,
    gamma_mesh,
    kspacing_from_inverse_length,
    paper_relax_incar,
    paper_static_incar,
    phase_transition_static_incar,
)

__all__ = [
    "PAPER_EDIFF",
    "PAPER_ELASTIC_FMAX",
    "PAPER_ENCUT",
    "PAPER_EOS_N_VOLUMES",
    "PAPER_EOS_VOLUME_RANGE",
    "PAPER_KSPACING",
    "PAPER_PHONON_MIN_LENGTH",
    "PAPER_POTCAR_FUNCTIONAL",
    "PAPER_RELAX_FMAX",
    "PHASE_TRANSITION_EDIFF",
    "PHASE_TRANSITION_ENCUT",
    "SITE_MATCH_TOLERANCE",
    "PaperRelaxSetGenerator",
    "PaperStaticSetGenerator",
    "VaspDocumentMaker",
    "VaspRelaxMaker",
    "VaspStaticCalculator",
    "VaspStaticMaker",
    "fmax_from_ediffg",
    "gamma_mesh",
    "is_vasp_job",
    "kspacing_from_inverse_length",
    "paper_double_relax_maker",
    "paper_elastic_maker",
    "paper_eos_maker",
    "paper_phonon_maker",
    "paper_relax_incar",
    "paper_relax_maker",
    "paper_static_incar",
    "phase_transition_static_incar",
    "phase_transition_static_maker",
    "site_order",
    "static_document_from_task",
    "tag_vasp_flow",
    "vasp_static_document",
    "vasp_stress_to_gpa",
]
