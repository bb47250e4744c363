"""The VASP property suite: EOS, elastic tensor, Slack κ and phase transitions (paper §4.1, §4.6).

:func:`paper_properties_maker` (:class:`VaspPropertiesMaker`) chains one bulk relaxation into
atomate2's elastic and EOS flows with the paper's settings
(:mod:`mlip_finetune.dft.vasp.flows`) and, optionally, the phase-transition search
:func:`vasp_phase_transitions`, whose statics run through
:class:`~mlip_finetune.dft.vasp.calculator.VaspStaticCalculator`. Their outputs are converted
(:func:`properties_from_vasp`) with the analysis of the ML side into the same
:class:`~mlip_finetune.schemas.properties.ModelPropertiesDocument` the ML models get.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from atomate2.vasp.jobs.base import BaseVaspMaker
from jobflow import Flow, Maker, OnMissing, OutputReference, job

from mlip_finetune.dft.jobs import as_structure
from mlip_finetune.dft.vasp.calculator import VaspStaticCalculator
from mlip_finetune.dft.vasp.conversion import fmax_from_ediffg, static_document_from_task
from mlip_finetune.dft.vasp.flows import (
    paper_double_relax_maker,
    paper_elastic_maker,
    paper_eos_maker,
)
from mlip_finetune.dft.vasp.jobs import is_vasp_job, phase_transition_static_maker, tag_vasp_flow
from mlip_finetune.dft.vasp.sets import PAPER_PHONON_MIN_LENGTH
from mlip_finetune.evaluation.jobs.phase_transitions import phase_transitions_with_calculator
from mlip_finetune.evaluation.phonons import DEFAULT_DISPLACEMENT
from mlip_finetune.evaluation.properties import properties_from_points
from mlip_finetune.evaluation.property_settings import PropertySettings
from mlip_finetune.evaluation.thermal_conductivity import SLACK_TEMPERATURE_K
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job
from mlip_finetune.schemas.phase_transitions import PhaseTransitionDocument, PhaseTransitionSettings
from mlip_finetune.schemas.properties import ModelPropertiesDocument

if TYPE_CHECKING:
    from collections.abc import Sequence

    from atomate2.vasp.flows.core import DoubleRelaxMaker
    from atomate2.vasp.flows.elastic import ElasticMaker
    from atomate2.vasp.flows.eos import EosMaker
    from emmet.core.tasks import TaskDoc
    from jobflow import Job
    from pymatgen.core import Structure

    from mlip_finetune.schemas.dft import StaticDocument


def paper_properties_maker(*, spin_polarised: bool = False) -> VaspPropertiesMaker:
    """Return the VASP property suite (EOS, elastic tensor, Slack κ) with the paper's settings.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job.

    Returns
    -------
    VaspPropertiesMaker
        One bulk ``DoubleRelaxMaker`` (jobs ``"vasp properties relax 1"`` and ``"... 2"``,
        ISIF 3 to 0.5 meV/Å), then :func:`paper_elastic_maker` and :func:`paper_eos_maker`
        on the relaxed cell without their own bulk relaxations.
    """
    return VaspPropertiesMaker(
        relax_maker=paper_double_relax_maker(
            "vasp properties relax", spin_polarised=spin_polarised
        ),
        elastic_maker=paper_elastic_maker(spin_polarised=spin_polarised),
        eos_maker=paper_eos_maker(spin_polarised=spin_polarised),
    )


def _default_properties_relax() -> DoubleRelaxMaker:
    return paper_double_relax_maker("vasp properties relax")


@dataclass
class VaspPropertiesMaker(Maker):
    """DFT EOS, elastic tensor, Slack κ and phase transitions with VASP (paper §4.1, §4.6).

    The VASP counterpart of
    :class:`~mlip_finetune.evaluation.jobs.dft_properties.DFTPropertiesMaker`, a drop-in
    ``dft_properties_maker`` of the material flow. One bulk relaxation feeds atomate2's
    ``ElasticMaker`` and ``EosMaker`` (both with their own bulk relaxation switched off, so
    the cell is relaxed once); ``"vasp properties document"`` then converts their outputs
    with the analysis of the ML side
    (:func:`mlip_finetune.evaluation.properties.properties_from_points`, see
    :func:`properties_from_vasp`). The atomate2 documents (TaskDocs, ``ElasticDocument``,
    EOS fits) stay in the store. With ``phase_transitions`` the relaxed cell is also searched
    (:func:`vasp_phase_transitions`, one job).

    Parameters
    ----------
    name
        Flow name.
    relax_maker
        Bulk relaxation (cell and positions), a Maker whose output is a VASP ``TaskDoc``
        (default: :func:`paper_properties_maker`'s ``DoubleRelaxMaker``).
    elastic_maker
        atomate2 ``ElasticMaker`` (default :func:`paper_elastic_maker`); its
        ``bulk_relax_maker`` is not used.
    eos_maker
        atomate2 ``EosMaker`` (default :func:`paper_eos_maker`); its
        ``initial_relax_maker`` is not used.
    property_settings
        The suite's protocol, shared with the ML and GPAW suites
        (:class:`~mlip_finetune.evaluation.property_settings.PropertySettings`, default
        :meth:`~mlip_finetune.evaluation.property_settings.PropertySettings.dft`: no
        phase-transition search, 20 Å phonon supercells). Read here: ``slack_temperature``
        (K); ``phase_transitions`` (the DFT search, one job ``"vasp phase transitions"``;
        hundreds of supercell statics per unstable mode) with ``phase_transition_settings``;
        and the search's phonons, ``supercell_matrix``, ``min_length`` (Å), ``displacement``
        (Å) and ``fc_calculator``. The relaxation, strain and volume protocol is that of the
        atomate2 makers above (the paper's VASP settings), not the ASE fields.
    phase_transition_maker
        VASP static maker of the search (default :func:`phase_transition_static_maker`,
        ENCUT 400 eV, EDIFF 1e-7, paper §4.6).
    """

    name: str = "vasp properties"
    relax_maker: Maker = field(default_factory=_default_properties_relax)
    elastic_maker: ElasticMaker = field(default_factory=paper_elastic_maker)
    eos_maker: EosMaker = field(default_factory=paper_eos_maker)
    property_settings: PropertySettings = field(default_factory=PropertySettings.dft)
    phase_transition_maker: BaseVaspMaker = field(default_factory=phase_transition_static_maker)

    def make(self, structure: Structure | OutputReference) -> Flow:
        """Return the VASP property flow of one structure.

        Parameters
        ----------
        structure
            Unit cell (Å), or a reference to one.

        Returns
        -------
        Flow
            Named ``self.name``: the bulk relaxation, atomate2's elastic and EOS flows,
            optionally ``"vasp phase transitions"``, and ``"vasp properties document"``, whose
            :class:`~mlip_finetune.schemas.properties.ModelPropertiesDocument` (label
            ``"dft"``, engine ``"vasp"``) is the Flow's output. VASP jobs are tagged
            :attr:`JobKind.DFT`, the others :attr:`JobKind.LIGHT` (stage
            :attr:`Stage.OTHER`), also those atomate2 creates at run time
            (:func:`~mlip_finetune.dft.vasp.jobs.tag_vasp_flow`).

        Raises
        ------
        TypeError
            If the elastic or EOS relaxation maker is not an atomate2 VASP maker.
        """
        from dataclasses import replace

        for what, maker in (
            ("elastic_maker.elastic_relax_maker", self.elastic_maker.elastic_relax_maker),
            ("eos_maker.eos_relax_maker", self.eos_maker.eos_relax_maker),
        ):
            if not isinstance(maker, BaseVaspMaker):
                raise TypeError(f"{what} must be an atomate2 VASP maker, got {type(maker)}.")
        # tag_vasp_flow: relax_maker may be any Maker (the paper's makers tag their flows)
        relax = tag_vasp_flow(self.relax_maker.make(structure))
        relaxed = relax.output.structure
        # no prev_dir: the paper's INCARs write no WAVECAR or CHGCAR (LWAVE, LCHARG False)
        # that the strained cells could start from
        elastic = replace(self.elastic_maker, bulk_relax_maker=None).make(
            relaxed, equilibrium_stress=relax.output.output.stress
        )
        eos = replace(self.eos_maker, initial_relax_maker=None).make(relaxed)
        tag_vasp_flow(elastic)
        tag_vasp_flow(eos)
        # without its initial relaxation, the EOS flow's VASP jobs are its volume points
        eos_points = [j for j, _ in eos.iterflow() if is_vasp_job(j)]
        jobs = [relax, elastic, eos]
        settings = PropertySettings.model_validate(self.property_settings)
        phases = self._phase_transitions(relaxed, settings) if settings.phase_transitions else None
        if phases is not None:
            jobs.append(phases)
        assemble = vasp_properties_document(
            relax.output,
            [j.output for j in eos_points],
            elastic.output,
            elastic_fmax=fmax_from_ediffg(
                self.elastic_maker.elastic_relax_maker.input_set_generator.preset_incar
            ),
            slack_temperature=settings.slack_temperature,
            phase_transitions=None if phases is None else phases.output,
            phase_transition_settings=settings.search_settings,
        )
        # a failed VASP point must not lose the others: missing outputs arrive as None
        assemble.config.on_missing_references = OnMissing.NONE
        assemble.name = "vasp properties document"
        tag_job(assemble, JobKind.LIGHT, Stage.OTHER)
        return Flow([*jobs, assemble], output=assemble.output, name=self.name)

    def _phase_transitions(self, relaxed: OutputReference, settings: PropertySettings) -> Job:
        """Return the job ``"vasp phase transitions"`` of the relaxed cell (tagged DFT)."""
        phases = vasp_phase_transitions(
            relaxed,
            settings.search_settings,
            static_maker=self.phase_transition_maker,
            supercell_matrix=settings.supercell_matrix,
            min_length=settings.min_length,
            displacement=settings.displacement,
            fc_calculator=settings.fc_calculator,
        )
        phases.name = "vasp phase transitions"
        return tag_job(phases, JobKind.DFT, Stage.OTHER)


def properties_from_vasp(
    relax_task: TaskDoc | dict,
    eos_tasks: Sequence[TaskDoc | dict],
    elastic_document: Any,
    *,
    label: str = "dft",
    elastic_fmax: float | None = None,
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transitions: PhaseTransitionDocument | dict | None = None,
    phase_transition_settings: PhaseTransitionSettings | None = None,
) -> ModelPropertiesDocument:
    """Convert atomate2's VASP relaxation, EOS points and ``ElasticDocument`` to our document.

    The fits are redone with the ML side's analysis
    (:func:`mlip_finetune.evaluation.properties.properties_from_points`), so DFT and models are
    compared with identical code: Birch–Murnaghan on the EOS points' energies and volumes,
    and the elastic fit on the ``ElasticDocument``'s ``fitting_data`` (deformations and
    Cauchy stresses already expanded by symmetry and converted to GPa, tensile > 0, by
    atomate2) with its equilibrium stress. For the same stresses this reproduces atomate2's
    tensor (the tests check it).

    Parameters
    ----------
    relax_task
        TaskDoc of the bulk relaxation (its final structure is the equilibrium).
    eos_tasks
        TaskDocs of the EOS points (fixed-volume relaxations), any order; None for a
        failed point (the fit uses the others).
    elastic_document
        atomate2 ``ElasticDocument`` (or its dict) of the strained cells; None if atomate2's
        fit did not run.
    label
        Stored label.
    elastic_fmax
        Force threshold of the strained-cell relaxations (eV/Å), stored.
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transitions, phase_transition_settings
        Output of :func:`vasp_phase_transitions` (or None) and its settings.

    Returns
    -------
    ModelPropertiesDocument
        Engine ``"vasp"``; ``dft_settings`` hold the bulk relaxation's INCAR, mesh and
        POTCARs; volume strains are measured from the relaxed volume; the strained cells'
        wall times and convergence flags are not in atomate2's ``ElasticDocument`` and are
        recorded as 0 s and unknown. Failed points are recorded in ``failures``
        (``"eos_points"``, ``"elastic_points"``, ``"elastic"``), as are failed fits.

    Raises
    ------
    ValueError
        If a TaskDoc lacks energy, forces or stress (:func:`static_document_from_task`), or
        the ``ElasticDocument`` has no fitting data.
    """
    from atomate2.common.schemas.elastic import ElasticDocument as Atomate2ElasticDocument
    from emmet.core.tasks import TaskDoc

    def document(task: TaskDoc | dict, name: str) -> StaticDocument:
        task = task if isinstance(task, TaskDoc) else TaskDoc.model_validate(task)
        return static_document_from_task(task, task.input.structure, label=name)

    equilibrium = document(relax_task, "vasp properties relax")
    failures = {}
    done = [t for t in eos_tasks if t is not None]
    if len(done) < len(eos_tasks):
        failures["eos_points"] = f"{len(eos_tasks) - len(done)} of {len(eos_tasks)} failed"
    eos = sorted(
        (document(t, f"vasp eos {i + 1}/{len(done)}") for i, t in enumerate(done)),
        key=lambda d: d.structure.volume,
    )
    deformations, stresses, fitting_method = [], [], "finite_difference"
    fitting = None
    if elastic_document is None:
        failures["elastic"] = "atomate2's elastic fit did not run (failed deformations)"
    else:
        elastic = (
            elastic_document
            if isinstance(elastic_document, Atomate2ElasticDocument)
            else Atomate2ElasticDocument.model_validate(elastic_document)
        )
        fitting = elastic.fitting_data
        if fitting is None or not fitting.deformations or not fitting.cauchy_stresses:
            raise ValueError("The ElasticDocument has no fitting data (deformations, stresses).")
        deformations = [np.asarray(d, dtype=float) for d in fitting.deformations]
        stresses = [np.asarray(s, dtype=float) for s in fitting.cauchy_stresses]
        fitting_method = elastic.fitting_method or fitting_method
        if fitting.failed_uuids:
            failures["elastic_points"] = f"atomate2 deformations failed: {fitting.failed_uuids}"
    return properties_from_points(
        equilibrium,
        eos,
        deformations,
        stresses,
        label=label,
        relaxed=True,
        volume_strains=[d.structure.volume / equilibrium.structure.volume - 1 for d in eos],
        fmax=elastic_fmax,
        fitting_method=fitting_method,
        symprec=None,  # atomate2 stores the strains already expanded by symmetry
        slack_temperature=slack_temperature,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
        failures=failures,
    )


@job(output_schema=ModelPropertiesDocument)
def vasp_properties_document(
    relax_task: Any,
    eos_tasks: list,
    elastic_document: Any,
    *,
    elastic_fmax: float | None = None,
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transitions: Any = None,
    phase_transition_settings: PhaseTransitionSettings | None = None,
) -> ModelPropertiesDocument:
    """Job: :func:`properties_from_vasp` (label ``"dft"``); see it for parameters and errors."""
    return properties_from_vasp(
        relax_task,
        eos_tasks,
        elastic_document,
        elastic_fmax=elastic_fmax,
        slack_temperature=slack_temperature,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
    )


@job(output_schema=PhaseTransitionDocument)
def vasp_phase_transitions(
    structure: Structure,
    search_settings: PhaseTransitionSettings,
    *,
    static_maker: BaseVaspMaker | None = None,
    supercell_matrix: list[list[int]] | None = None,
    min_length: float = PAPER_PHONON_MIN_LENGTH,
    displacement: float = DEFAULT_DISPLACEMENT,
    fc_calculator: str = "symfc",
) -> PhaseTransitionDocument:
    """Phase-transition search with VASP energies (paper §4.6), in one job.

    :func:`~mlip_finetune.evaluation.jobs.phase_transitions.phase_transitions_with_calculator`
    with a :class:`VaspStaticCalculator`: the phonons of the relaxed cell, then every grid
    energy, every ionic step of the symmetry-kept relaxations and the reference energy, each
    one VASP static at the mode-following settings (ENCUT 400 eV, EDIFF 1e-7) in a
    sub-directory ``phase_transitions/vasp_*`` of the job's directory. The same cost as the
    GPAW search (:func:`~mlip_finetune.evaluation.jobs.phase_transitions.dft_phase_transitions`):
    hundreds of supercell statics per 3-D unstable mode, so one long job on a CPU node.

    Parameters
    ----------
    structure
        Relaxed unit cell (Å), e.g. the output structure of the bulk relaxation.
    search_settings
        Search parameters.
    static_maker
        Maker of the statics (default :func:`phase_transition_static_maker`).
    supercell_matrix, min_length, displacement, fc_calculator
        Phonons of the search (phonopy; ``None`` takes the cubic supercell of side
        ≥ ``min_length`` Å).

    Returns
    -------
    PhaseTransitionDocument
        Labelled ``"dft"``.

    Raises
    ------
    DFTCalculationError
        If a VASP static fails (custodian gives up or the SCF does not converge).
    """
    from pathlib import Path

    calculator = VaspStaticCalculator(static_maker, Path.cwd() / "phase_transitions")
    return phase_transitions_with_calculator(
        as_structure(structure),
        calculator,
        search_settings,
        supercell_matrix=supercell_matrix,
        min_length=min_length,
        displacement=displacement,
        fc_calculator=fc_calculator,
    )
