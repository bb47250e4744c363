"""DFT property flow: EOS, elastic tensor, Slack κ (and phase transitions) with DFT.

:class:`DFTPropertiesMaker` builds an equilibrium job, the run-time fan-out
:func:`dft_property_points` (one fixed-cell relaxation per EOS volume and strained cell,
:func:`dft_property_point_jobs`), optionally :func:`~mlip_finetune.evaluation.jobs.
phase_transitions.dft_phase_transitions`, and :func:`assemble_dft_properties`, which runs the
analysis of the ML side (:func:`~mlip_finetune.evaluation.properties.properties_from_points`)
through :func:`dft_properties_from_statics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from jobflow import Flow, Maker, Response, job

from mlip_finetune.dft.jobs import RelaxMaker, StaticMaker
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.elastic import (
    DEFAULT_STRAIN_MAGNITUDES,
    DEFAULT_SYMPREC,
    FittingMethod,
    elastic_deformations,
)
from mlip_finetune.evaluation.eos import DEFAULT_VOLUME_STRAINS, eos_structures
from mlip_finetune.evaluation.jobs.phase_transitions import dft_phase_transitions
from mlip_finetune.evaluation.properties import properties_from_points, relax_flags
from mlip_finetune.evaluation.property_settings import PropertySettings, check_property_grid
from mlip_finetune.evaluation.thermal_conductivity import SLACK_TEMPERATURE_K
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job, tag_metadata
from mlip_finetune.schemas.properties import ModelPropertiesDocument

if TYPE_CHECKING:
    from collections.abc import Sequence

    from jobflow import Job, OutputReference
    from pymatgen.core import Structure

    from mlip_finetune.schemas.phase_transitions import (
        PhaseTransitionDocument,
        PhaseTransitionSettings,
    )


@dataclass
class DFTPropertiesMaker(Maker):
    """EOS, elastic tensor, Slack κ (and optionally phase transitions) with DFT.

    The flow: an equilibrium job (``"dft properties relax"``, cell and positions, or a
    static ``"dft properties static"`` when ``relax`` is False), a run-time fan-out of
    fixed-cell relaxations ``"dft eos i/N"`` (one per EOS volume) and ``"dft elastic i/N"``
    (one per symmetry-inequivalent strain), optionally ``"dft phase transitions"``
    (:func:`~mlip_finetune.evaluation.jobs.phase_transitions.dft_phase_transitions`, one
    job), and ``"dft properties"`` assembling a
    :class:`~mlip_finetune.schemas.properties.ModelPropertiesDocument` labelled ``"dft"``.
    Same protocol and analysis as :class:`~mlip_finetune.evaluation.jobs.MLPropertiesMaker`.
    Every job is tagged (kind DFT for the DFT calculations, light for the fan-out and the
    assembly; stage properties).

    Parameters
    ----------
    name
        Flow name.
    settings
        DFT settings: the same object as the rest of the material flow.
    property_settings
        The protocol (:class:`~mlip_finetune.evaluation.property_settings.PropertySettings`,
        default :meth:`~mlip_finetune.evaluation.property_settings.PropertySettings.dft`): ``fmax``
        of every DFT relaxation (the paper's 1 meV/Å for elastic constants, §4.1),
        ``max_steps`` ionic steps (200), EOS volumes, elastic strains and fit, Slack
        temperature, and the phase-transition search (default off: thousands of statics
        for 3-D modes) with its phonons. ``relax_cell_shape`` is not used (the points are
        fixed-cell relaxations).
    """

    name: str = "dft properties"
    settings: DFTSettings = field(default_factory=DFTSettings.local)
    property_settings: PropertySettings = field(default_factory=PropertySettings.dft)

    @property
    def fixed_cell_relax_maker(self) -> RelaxMaker:
        """Maker of the EOS and elastic points: positions only, this Maker's thresholds."""
        props = PropertySettings.model_validate(self.property_settings)
        return RelaxMaker(
            name="dft fixed-cell relax",
            settings=self.settings,
            fmax=props.fmax,
            relax_cell=False,
            max_steps=props.max_steps,
            optimizer=props.optimizer,
        )

    def dft_calculations(self, unit_cell: Structure) -> list[tuple[str, int]]:
        """Return the DFT calculations this suite will run on a unit cell, without running any.

        One cell relaxation (a static without ``relax``), then one fixed-cell relaxation per
        EOS volume and per symmetry-inequivalent strain (:func:`elastic_deformations` on the
        given cell, whose symmetry the relaxation keeps). The phase-transition search is not
        counted: its statics depend on the soft modes found at run time.

        Parameters
        ----------
        unit_cell
            The unit cell the suite will start from (Å).

        Returns
        -------
        list of (str, int)
            ``[("property relaxation (unit cell)", 1), ("EOS and elastic fixed-cell
            relaxations", n)]``, each on the unit cell's atoms.
        """
        props = PropertySettings.model_validate(self.property_settings)
        deformations, _ = elastic_deformations(
            unit_cell,
            strain_magnitudes=props.strain_magnitudes,
            sym_reduce=props.sym_reduce,
            symprec=props.symprec,
        )
        first = "property relaxation" if props.relax else "property static"
        first += " (unit cell)"
        n_points = len(props.volume_strains) + len(deformations)
        return [(first, 1), ("EOS and elastic fixed-cell relaxations", n_points)]

    def make(
        self,
        structure: Structure | OutputReference,
        phonon_statics: Sequence[StaticDocument] | OutputReference | None = None,
    ) -> Flow:
        """Return the DFT property flow for one structure.

        Parameters
        ----------
        structure
            Unit cell (Å), or a reference to one.
        phonon_statics
            Optional DFT statics of the displaced supercells of the *equilibrium*
            structure (same supercell matrix and displacement), reused by the phase-transition
            search instead of recomputing them; only valid with ``relax=False`` and the
            structure those statics were made from.

        Returns
        -------
        Flow
            Named ``self.name``; its output is the assembling job's
            :class:`~mlip_finetune.schemas.properties.ModelPropertiesDocument`.

        Raises
        ------
        UnknownEngineError
            If the DFT engine is not registered.
        ValueError
            If the EOS grid is unusable, thresholds are not positive, or ``phonon_statics``
            are given together with ``relax=True``.
        """
        from mlip_finetune.dft.engines import get_engine

        props = PropertySettings.model_validate(self.property_settings)
        get_engine(self.settings.engine)
        check_property_grid(props.volume_strains, props.fmax, props.max_steps)
        if phonon_statics is not None and props.relax:
            raise ValueError(
                "phonon_statics belong to a fixed structure; use them with relax=False"
            )
        first = self._equilibrium_job(structure, props)
        points = dft_property_points(
            first.output,
            self.fixed_cell_relax_maker,
            volume_strains=list(props.volume_strains),
            strain_magnitudes=list(props.strain_magnitudes),
            sym_reduce=props.sym_reduce,
            symprec=props.symprec,
        )
        points.name = "dft property points"
        jobs = [first, points]
        phases = None
        if props.phase_transitions:
            phases = dft_phase_transitions(
                first.output,
                self.settings,
                props.phase_transition_settings,
                supercell_matrix=props.supercell_matrix,
                min_length=props.min_length,
                displacement=props.displacement,
                fc_calculator=props.fc_calculator,
                phonon_statics=phonon_statics,
            )
            phases.name = "dft phase transitions"
            jobs.append(phases)
        assemble = assemble_dft_properties(
            first.output,
            points.output,
            label="dft",
            relaxed=props.relax,
            fmax=props.fmax,
            fitting_method=props.fitting_method,
            sym_reduce=props.sym_reduce,
            symprec=props.symprec,
            slack_temperature=props.slack_temperature,
            phase_transitions=None if phases is None else phases.output,
            phase_transition_settings=props.search_settings,
        )
        assemble.name = "dft properties"
        jobs.append(assemble)
        return Flow(jobs, output=assemble.output, name=self.name)

    def _equilibrium_job(
        self, structure: Structure | OutputReference, props: PropertySettings
    ) -> Job:
        """Return the DFT relaxation (``relax``) or static of the structure, tagged DFT."""
        if props.relax:
            first = RelaxMaker(
                name="dft properties relax",
                settings=self.settings,
                fmax=props.fmax,
                relax_cell=True,
                max_steps=props.max_steps,
                optimizer=props.optimizer,
            ).make(structure, label="dft properties relax")
        else:
            first = StaticMaker(name="dft properties static", settings=self.settings).make(
                structure, label="dft properties static"
            )
        return tag_job(first, JobKind.DFT, Stage.PROPERTIES)


def dft_property_point_jobs(
    structure: Structure,
    relax_maker: RelaxMaker,
    *,
    volume_strains: Sequence[float] = DEFAULT_VOLUME_STRAINS,
    strain_magnitudes: Sequence[float] = DEFAULT_STRAIN_MAGNITUDES,
    sym_reduce: bool = True,
    symprec: float = DEFAULT_SYMPREC,
) -> tuple[list[Job], list[Job], list[list[list[float]]]]:
    """Fixed-cell DFT relaxations of the EOS volumes and the strained cells, as jobs.

    Parameters
    ----------
    structure
        Equilibrium structure (Å).
    relax_maker
        Maker of each relaxation (``relax_cell=False``: positions only, the paper's and
        atomate2's protocol for both EOS and elastic constants). Every point is computed on
        the k-mesh of ``structure`` (:meth:`~mlip_finetune.dft.settings.DFTSettings.
        with_mesh_of`), not on its own rounding of the kspacing rule.
    volume_strains
        EOS volumes V/V_eq − 1 (:func:`~mlip_finetune.evaluation.eos.eos_structures`).
    strain_magnitudes, sym_reduce, symprec
        Deformations (:func:`~mlip_finetune.evaluation.elastic.elastic_deformations`).

    Returns
    -------
    eos_jobs : list of Job
        Named ``"dft eos i/N"`` (1-based), outputs StaticDocuments of the relaxed cells;
        tagged DFT, properties.
    elastic_jobs : list of Job
        Named ``"dft elastic i/N"``, tagged likewise.
    deformations : list
        Deformation gradients F (3×3) of the elastic jobs, same order.

    Raises
    ------
    ValueError
        If ``relax_maker`` relaxes the cell, or the strains are invalid.
    """
    if relax_maker.relax_cell:
        raise ValueError("EOS and elastic points need fixed-cell relaxations (relax_cell=False)")
    # One k-mesh for the whole family: the kspacing rule rounds each strained cell on its
    # own, and a mesh that jumps between two volumes puts a step in E(V) (Si at the test
    # preset: 4x4x4 at -1 %, 5x5x5 from -3 %; a 0.1 eV step and a negative B0).
    relax_maker = replace(
        relax_maker,
        settings=DFTSettings.model_validate(relax_maker.settings).with_mesh_of(structure.lattice),
    )
    eos_jobs = []
    n_eos = len(volume_strains)
    for i, (strain, scaled) in enumerate(
        zip(volume_strains, eos_structures(structure, volume_strains), strict=True), start=1
    ):
        name = f"dft eos {i}/{n_eos}"
        eos_job = relax_maker.make(
            scaled,
            label=name,
            metadata={"property": "eos", "index": i - 1, "volume_strain": float(strain)},
        )
        eos_job.name = name
        eos_jobs.append(tag_job(eos_job, JobKind.DFT, Stage.PROPERTIES))
    deformations, deformed = elastic_deformations(
        structure, strain_magnitudes=strain_magnitudes, sym_reduce=sym_reduce, symprec=symprec
    )
    elastic_jobs = []
    for i, (deformation, strained) in enumerate(zip(deformations, deformed, strict=True), start=1):
        name = f"dft elastic {i}/{len(deformed)}"
        elastic_job = relax_maker.make(
            strained,
            label=name,
            metadata={
                "property": "elastic",
                "index": i - 1,
                "deformation": np.asarray(deformation, dtype=float).tolist(),
            },
        )
        elastic_job.name = name
        elastic_jobs.append(tag_job(elastic_job, JobKind.DFT, Stage.PROPERTIES))
    return eos_jobs, elastic_jobs, [np.asarray(d, dtype=float).tolist() for d in deformations]


@job(metadata=tag_metadata(JobKind.LIGHT, Stage.PROPERTIES))
def dft_property_points(
    equilibrium: StaticDocument,
    relax_maker: RelaxMaker,
    *,
    volume_strains: Sequence[float] = DEFAULT_VOLUME_STRAINS,
    strain_magnitudes: Sequence[float] = DEFAULT_STRAIN_MAGNITUDES,
    sym_reduce: bool = True,
    symprec: float = DEFAULT_SYMPREC,
) -> Response:
    """Replace this job by the DFT EOS and elastic relaxations of the equilibrium structure.

    The fan-out happens at run time (atomate2's elastic workflow does the same) because the
    deformations depend on the symmetry of the DFT-relaxed structure.

    Parameters
    ----------
    equilibrium
        StaticDocument of the equilibrium structure (DFT relaxation or static).
    relax_maker
        Fixed-cell relaxation maker (see :func:`dft_property_point_jobs`).
    volume_strains, strain_magnitudes, sym_reduce, symprec
        See :func:`dft_property_point_jobs`.

    Returns
    -------
    Response
        ``replace``: the relaxation jobs; the output resolves to a dict with ``structure``,
        ``volume_strains``, ``eos`` (StaticDocuments), ``deformations`` and ``elastic``
        (StaticDocuments).
    """
    structure = StaticDocument.model_validate(equilibrium).structure
    eos_jobs, elastic_jobs, deformations = dft_property_point_jobs(
        structure,
        relax_maker,
        volume_strains=volume_strains,
        strain_magnitudes=strain_magnitudes,
        sym_reduce=sym_reduce,
        symprec=symprec,
    )
    output = {
        "structure": structure,
        "volume_strains": [float(s) for s in volume_strains],
        "eos": [j.output for j in eos_jobs],
        "deformations": deformations,
        "elastic": [j.output for j in elastic_jobs],
    }
    return Response(replace=Flow([*eos_jobs, *elastic_jobs], output=output, name="dft points"))


def dft_properties_from_statics(
    equilibrium: StaticDocument,
    eos_statics: Sequence[StaticDocument],
    deformations: Sequence[Sequence[Sequence[float]]],
    elastic_statics: Sequence[StaticDocument],
    *,
    label: str = "dft",
    relaxed: bool = True,
    volume_strains: Sequence[float] | None = None,
    fmax: float | None = None,
    fitting_method: FittingMethod = "finite_difference",
    sym_reduce: bool = True,
    symprec: float = DEFAULT_SYMPREC,
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transitions: PhaseTransitionDocument | None = None,
    phase_transition_settings: PhaseTransitionSettings | None = None,
) -> ModelPropertiesDocument:
    """Assemble EOS, elastic tensor and Slack κ from relaxed statics (DFT or any code).

    The same analysis as the ML path: :func:`~mlip_finetune.evaluation.eos.
    eos_document_from_energies` on the volumes and total energies of ``eos_statics``,
    :func:`~mlip_finetune.evaluation.elastic.elastic_document_from_stresses` on the stresses
    of ``elastic_statics`` (GPa, tensile > 0, the StaticDocument convention) with the
    equilibrium stress of ``equilibrium``, then Slack.

    Parameters
    ----------
    equilibrium
        Static (or relaxation) of the equilibrium structure; its stress is the elastic fit's
        equilibrium stress.
    eos_statics
        Fixed-volume relaxations of the scaled structures, one per EOS point.
    deformations
        Deformation gradients F (3×3), one per elastic static.
    elastic_statics
        Fixed-cell relaxations of the strained structures, same order.
    label
        Stored label.
    relaxed
        Whether ``equilibrium`` is a relaxation.
    volume_strains
        Relative volumes of the EOS points, stored.
    fmax
        Force threshold of the relaxations (eV/Å), stored.
    fitting_method, sym_reduce, symprec
        Elastic fit; ``symprec`` expands symmetry-reduced strains when ``sym_reduce``.
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transitions, phase_transition_settings
        A phase-transition search to include, and its settings.

    Returns
    -------
    ModelPropertiesDocument
        ``wall_times`` are sums of the statics' wall times (s); a failed fit is recorded
        in ``failures``.
    """
    elastic_statics = [StaticDocument.model_validate(d) for d in elastic_statics]
    return properties_from_points(
        equilibrium,
        eos_statics,
        deformations,
        [np.asarray(d.stress, dtype=float) for d in elastic_statics],
        label=label,
        relaxed=relaxed,
        volume_strains=volume_strains,
        fmax=fmax,
        fitting_method=fitting_method,
        symprec=symprec if sym_reduce else None,
        elastic_converged=relax_flags(elastic_statics),
        elastic_wall_time_s=float(sum(d.wall_time_s for d in elastic_statics)),
        slack_temperature=slack_temperature,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
    )


@job(
    output_schema=ModelPropertiesDocument,
    metadata=tag_metadata(JobKind.LIGHT, Stage.PROPERTIES),
)
def assemble_dft_properties(
    equilibrium: StaticDocument,
    points: dict,
    *,
    label: str = "dft",
    relaxed: bool = True,
    fmax: float | None = None,
    fitting_method: FittingMethod = "finite_difference",
    sym_reduce: bool = True,
    symprec: float = DEFAULT_SYMPREC,
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transitions: PhaseTransitionDocument | None = None,
    phase_transition_settings: PhaseTransitionSettings | None = None,
) -> ModelPropertiesDocument:
    """Job wrapper of :func:`dft_properties_from_statics` for the output of the fan-out.

    Parameters
    ----------
    equilibrium
        StaticDocument of the equilibrium structure.
    points
        Output of :func:`dft_property_points`: ``volume_strains``, ``eos``,
        ``deformations``, ``elastic``.
    label, relaxed, fmax, fitting_method, sym_reduce, symprec, slack_temperature
        See :func:`dft_properties_from_statics`.
    phase_transitions, phase_transition_settings
        Output of :func:`dft_phase_transitions` (or None) and its settings.

    Returns
    -------
    ModelPropertiesDocument
        Labelled ``label`` (``"dft"``).
    """
    return dft_properties_from_statics(
        equilibrium,
        points["eos"],
        points["deformations"],
        points["elastic"],
        label=label,
        relaxed=relaxed,
        volume_strains=points.get("volume_strains"),
        fmax=fmax,
        fitting_method=fitting_method,
        sym_reduce=sym_reduce,
        symprec=symprec,
        slack_temperature=slack_temperature,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
    )
