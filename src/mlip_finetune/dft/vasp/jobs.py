"""atomate2 VASP makers with the paper's input sets, and their drop-in document maker.

:class:`VaspStaticMaker` and :class:`VaspRelaxMaker` are atomate2 makers (output: atomate2's
``TaskDoc``) with the input sets of :mod:`mlip_finetune.dft.vasp.sets`;
:class:`VaspDocumentMaker` wraps either in a two-job Flow whose output is our
:class:`~mlip_finetune.schemas.dft.StaticDocument`, so the rest of the flow sees VASP exactly
as it sees GPAW. The atomate2 job's TaskDoc stays in the store.

Job tags (:mod:`mlip_finetune.schemas.jobs`): VASP jobs are :attr:`JobKind.DFT`, everything
else around them :attr:`JobKind.LIGHT`; all at :attr:`Stage.OTHER`, where status tables
list every VASP job. :func:`tag_vasp_flow` tags atomate2's own flows, including the VASP
jobs they create at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from typing import TYPE_CHECKING, Any, ClassVar

from atomate2.vasp.jobs.base import BaseVaspMaker
from atomate2.vasp.jobs.core import RelaxMaker, StaticMaker
from jobflow import Flow, Maker, OutputReference

from mlip_finetune.dft.engines import DFTCode
from mlip_finetune.dft.vasp.conversion import vasp_static_document
from mlip_finetune.dft.vasp.sets import (
    PaperRelaxSetGenerator,
    PaperStaticSetGenerator,
    phase_transition_static_incar,
)
from mlip_finetune.schemas.jobs import METADATA_KEY, JobKind, JobTag, Stage, tag_job

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from jobflow import Job
    from pymatgen.core import Structure


def is_vasp_job(job: Job | Flow) -> bool:
    """Whether a job runs VASP: it was made by an atomate2 VASP maker.

    The ``callback_filter`` of :func:`tag_vasp_flow`'s dynamic metadata update (a module-level
    function, so jobflow-remote can serialise it with the job).

    Parameters
    ----------
    job
        A jobflow Job or Flow (a Flow is never a VASP job).

    Returns
    -------
    bool
        True for jobs whose ``maker`` is a ``BaseVaspMaker``.
    """
    return isinstance(getattr(job, "maker", None), BaseVaspMaker)


def _metadata_update(tag: JobTag, callback_filter: Callable | None) -> dict[str, Any]:
    """One entry of a jobflow job's ``metadata_updates`` that sets this package's tag."""
    return {
        "update": {METADATA_KEY: tag.model_dump(mode="json")},
        "name_filter": None,
        "function_filter": None,
        "dict_mod": False,
        "callback_filter": callback_filter,
    }


def tag_vasp_flow(flow: Job | Flow, stage: Stage = Stage.OTHER) -> Job | Flow:
    """Tag an atomate2 VASP flow's jobs, including the jobs it creates at run time.

    Every job gets (:attr:`JobKind.LIGHT`, ``stage``), then every VASP job
    (:func:`is_vasp_job`) (:attr:`JobKind.DFT`, ``stage``), both as jobflow *dynamic*
    metadata updates (``Job.update_metadata(..., dynamic=True)``, once per job): jobflow
    replays them on the jobs a job creates at run time, e.g. atomate2's
    ``"vasp elastic relax i/N"`` or ``"vasp phonon static i/N"`` (and on jobflow's
    ``store_inputs`` helpers, light).
    Use it only on flows whose run-time jobs are atomate2's: the replayed update would
    overwrite the tags our own fan-outs give their statics.

    Parameters
    ----------
    flow
        atomate2 Flow (or Job), modified in place.
    stage
        Stage of every job's tag.

    Returns
    -------
    Job or Flow
        The same object.
    """
    updates = [
        _metadata_update(JobTag(kind=JobKind.LIGHT, stage=stage), None),
        _metadata_update(JobTag(kind=JobKind.DFT, stage=stage), is_vasp_job),
    ]
    jobs = [j for j, _ in flow.iterflow()] if isinstance(flow, Flow) else [flow]
    for each in jobs:
        for update in updates:
            if update not in each.metadata_updates:  # nested makers tag their flows too
                each.update_metadata(**update, dynamic=True)
    return flow


@dataclass
class VaspStaticMaker(StaticMaker):
    """atomate2 VASP static with the paper's settings; output: atomate2's ``TaskDoc``.

    Parameters
    ----------
    name
        Job name.
    input_set_generator
        :class:`PaperStaticSetGenerator` with :func:`paper_static_incar`.
    **kwargs
        Every other field of atomate2's ``StaticMaker`` (``run_vasp_kwargs`` for custodian
        handlers and the VASP command, ``task_document_kwargs``, ...).
    """

    name: str = "vasp static"
    input_set_generator: PaperStaticSetGenerator = field(default_factory=PaperStaticSetGenerator)


@dataclass
class VaspRelaxMaker(RelaxMaker):
    """atomate2 VASP relaxation with the paper's settings; output: atomate2's ``TaskDoc``.

    Parameters
    ----------
    name
        Job name.
    input_set_generator
        :class:`PaperRelaxSetGenerator` with :func:`paper_relax_incar`.
    **kwargs
        Every other field of atomate2's ``RelaxMaker``.
    """

    name: str = "vasp relax"
    input_set_generator: PaperRelaxSetGenerator = field(default_factory=PaperRelaxSetGenerator)


def phase_transition_static_maker(*, spin_polarised: bool | None = None) -> VaspStaticMaker:
    """Return the VASP static maker of the mode-following statics (paper §4.6).

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation; None decides per structure.

    Returns
    -------
    VaspStaticMaker
        Named ``"vasp static phase transition"``, :func:`phase_transition_static_incar`.
    """
    generator = PaperStaticSetGenerator(
        preset_incar=phase_transition_static_incar(spin_polarised=spin_polarised)
    )
    return VaspStaticMaker(name="vasp static phase transition", input_set_generator=generator)


@dataclass
class VaspDocumentMaker(Maker):
    """Make a Flow [atomate2 VASP job, conversion] whose output is a :class:`StaticDocument`.

    The drop-in VASP counterpart of :class:`mlip_finetune.dft.jobs.DFTStaticMaker` (or, with
    a :class:`VaspRelaxMaker`, of :class:`~mlip_finetune.dft.jobs.DFTRelaxMaker`). The VASP
    job keeps atomate2's ``TaskDoc`` as its output in the store; the conversion job is cheap.

    Parameters
    ----------
    name
        Name of the Flow and of the VASP job.
    vasp_maker
        atomate2 VASP maker: :class:`VaspStaticMaker` (default) or :class:`VaspRelaxMaker`.
    manager_config
        jobflow ``JobConfig.manager_config`` of the VASP job (e.g. ``{"worker": "cpu"}`` for
        jobflow-remote); applies also to VASP jobs created at run time by a fan-out.
    stage
        Pipeline stage of both jobs' tags (status tables list VASP jobs under ``other``).
    """

    name: str = "vasp static"
    vasp_maker: BaseVaspMaker = field(default_factory=VaspStaticMaker)
    manager_config: dict = field(default_factory=dict)
    stage: Stage = Stage.OTHER

    #: Job name of the phonon-displacement statics made with these settings.
    phonon_static_name: ClassVar[str] = "vasp phonon static"

    def __post_init__(self) -> None:
        """Restore the stage's type after serialisation (jsanitize stores its value)."""
        self.stage = Stage(self.stage)

    def settings_record(self) -> dict[str, Any]:
        """Return the engine-neutral record of the VASP settings stored in reports.

        Returns
        -------
        dict
            ``engine`` ("vasp"), the input set's INCAR preset (``incar``), its
            ``user_incar_settings``, ``kspacing`` (Å⁻¹, VASP convention, None for a set
            without one) and ``potcar_functional``.
        """
        generator = self.vasp_maker.input_set_generator
        return {
            "engine": DFTCode.VASP.value,
            "incar": dict(getattr(generator, "preset_incar", {}) or {}),
            "user_incar_settings": dict(generator.user_incar_settings or {}),
            "kspacing": getattr(generator, "kspacing", None),
            "potcar_functional": generator.user_potcar_functional,
        }

    def phonon_static_maker(self) -> VaspDocumentMaker:
        """Return this maker for the phonon displacements (same input set).

        Returns
        -------
        VaspDocumentMaker
            Named :attr:`phonon_static_name`; the stage stays ``self.stage``.
        """
        return dataclass_replace(self, name=self.phonon_static_name)

    def make(
        self,
        structure: Structure | OutputReference,
        label: str = "",
        metadata: dict | None = None,
        prev_dir: str | Path | None = None,
    ) -> Flow:
        """Return the Flow that runs VASP on one structure and converts its output.

        Parameters
        ----------
        structure
            Structure (Å) or a reference to one.
        label
            Free-text label of the output document.
        metadata
            Metadata passed through to the output document.
        prev_dir
            Previous VASP directory to start from (atomate2's ``prev_dir``).

        Returns
        -------
        Flow
            Named ``self.name``: the VASP job (named ``self.name``, tagged
            :attr:`JobKind.DFT`, output ``TaskDoc``) and ``"<name> document"`` (tagged
            :attr:`JobKind.LIGHT`), both at ``self.stage``; the Flow's output is the
            :class:`StaticDocument`.

        Raises
        ------
        TypeError
            If ``vasp_maker`` is not an atomate2 VASP maker.
        """
        if not isinstance(self.vasp_maker, BaseVaspMaker):
            raise TypeError(
                f"vasp_maker must be an atomate2 VASP maker, got {type(self.vasp_maker)}."
            )
        vasp_job = self.vasp_maker.make(structure, prev_dir=prev_dir)
        vasp_job.name = self.name
        tag_job(vasp_job, JobKind.DFT, self.stage)
        if self.manager_config:
            vasp_job.config.manager_config = dict(self.manager_config)
        convert = vasp_static_document(
            vasp_job.output, structure, label=label, metadata=dict(metadata or {})
        )
        convert.name = f"{self.name} document"
        tag_job(convert, JobKind.LIGHT, self.stage)
        return Flow([vasp_job, convert], output=convert.output, name=self.name)
