"""jobflow Makers for reference DFT: statics, a fan-out over many frames, relaxations.

Every job runs its engine in the job's working directory (``Path.cwd()``; jobflow's
``run_locally(..., create_folders=True)`` and jobflow-remote give each job its own) and
returns a :class:`~mlip_finetune.schemas.dft.StaticDocument` with stresses in GPa. Every
job is tagged with its kind and stage (:func:`~mlip_finetune.schemas.jobs.tag_job`).

:class:`DFTStaticMaker` and :class:`DFTRelaxMaker` are also importable as ``StaticMaker``
and ``RelaxMaker`` (their former names, which shadowed atomate2's makers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from jobflow import Flow, Job, Maker, OutputReference, Response, job

from mlip_finetune.dft.engines import get_engine
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job
from mlip_finetune.units import EV_PER_A3_TO_GPA

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Structure

    from mlip_finetune.dft.engines import StaticResult

logger = logging.getLogger(__name__)


def as_structure(structure: Any) -> Structure:
    """Return a pymatgen ``Structure`` from a Structure, its dict or ASE ``Atoms``.

    Parameters
    ----------
    structure
        ``Structure``, ``Structure.as_dict()`` output (as resolved from a jobflow reference)
        or ``ase.Atoms``.

    Returns
    -------
    Structure
        The structure itself, or a new one built from the input.

    Raises
    ------
    TypeError
        If the input is none of the accepted types.
    """
    from ase import Atoms
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    if isinstance(structure, Structure):
        return structure
    if isinstance(structure, dict):
        return Structure.from_dict(structure)
    if isinstance(structure, Atoms):
        return AseAtomsAdaptor.get_structure(structure)
    raise TypeError(f"Expected a pymatgen Structure, its dict or ase.Atoms, got {type(structure)}.")


def static_document(
    result: StaticResult,
    settings: DFTSettings,
    engine: str,
    label: str,
    metadata: dict[str, Any],
) -> StaticDocument:
    """Convert an engine result into a :class:`StaticDocument` (stress eV/Å³ → GPa).

    The document's ``energy``, the training energy, is the force-consistent free energy
    (``result.free_energy``): forces and stress are derivatives of the free energy of the
    smeared occupations, not of the σ → 0 extrapolation, so only the free energy is
    consistent with them (for metals they differ; for gapped systems they are equal).
    Both are recorded (``free_energy_ev``, ``energy_sigma0_ev``).

    Parameters
    ----------
    result
        Engine result in ASE units.
    settings
        Settings the calculation ran with; stored as ``settings.model_dump()``, with ``ecut``
        the cutoff the engine used for this structure (eV, ``result.ecut``).
    engine
        Engine name.
    label
        Free-text label of the document.
    metadata
        Metadata stored with the document.

    Returns
    -------
    StaticDocument
        Free energy as ``energy`` (eV), forces (eV/Å), stress (GPa, ASE sign convention),
        k-mesh, wall time (s), both energies (eV) and the final magnetic moments (μ_B).
    """
    return StaticDocument(
        label=label,
        structure=result.structure,
        energy=result.free_energy,
        free_energy_ev=result.free_energy,
        energy_sigma0_ev=result.energy,
        spin_polarised=result.spin_polarised,
        magnetic_moment_total_mub=result.magnetic_moment,
        magnetic_moments_mub=result.magnetic_moments,
        forces=result.forces.tolist(),
        stress=(result.stress * EV_PER_A3_TO_GPA).tolist(),
        engine=engine,
        settings=(
            settings if result.ecut is None else settings.model_copy(update={"ecut": result.ecut})
        ).model_dump(),
        kpoints=list(result.kpoints),
        wall_time_s=result.wall_time,
        converged=result.converged,
        metadata=metadata,
    )


@job(output_schema=StaticDocument)
def dft_static(
    structure: Structure, settings: DFTSettings, label: str = "", metadata: dict | None = None
) -> StaticDocument:
    """Run one DFT static in the current working directory.

    Parameters
    ----------
    structure
        Structure (Å); a Structure dict or ``ase.Atoms`` is converted.
    settings
        DFT settings, including the engine name.
    label
        Free-text label of the document.
    metadata
        Metadata passed through to the document.

    Returns
    -------
    StaticDocument
        Energy (eV), forces (eV/Å), stress (GPa).

    Raises
    ------
    DFTCalculationError
        If the engine fails or does not converge.
    """
    engine = get_engine(settings.engine)
    result = engine.run_static(as_structure(structure), settings, Path.cwd())
    return static_document(result, settings, engine.name, label, dict(metadata or {}))


@job(output_schema=StaticDocument)
def dft_relax(
    structure: Structure,
    *,
    settings: DFTSettings,
    fmax: float,
    relax_cell: bool,
    max_steps: int,
    optimizer: Literal["BFGS", "FIRE"],
    label: str = "dft relax",
    metadata: dict | None = None,
) -> StaticDocument:
    """Relax one structure with DFT in the current working directory.

    Parameters
    ----------
    structure
        Starting structure (Å); a Structure dict or ``ase.Atoms`` is converted.
    settings
        DFT settings, including the engine name.
    fmax
        Force threshold (eV/Å).
    relax_cell
        Relax cell shape and volume as well.
    max_steps
        Maximum number of ionic steps.
    optimizer
        ASE optimiser name.
    label
        Free-text label of the document.
    metadata
        Metadata passed through; ``n_steps``, ``relax_converged``, ``fmax`` (eV/Å) and
        ``relax_cell`` are added.

    Returns
    -------
    StaticDocument
        Energy (eV), forces (eV/Å) and stress (GPa) of the relaxed structure, which is in
        ``.structure``.

    Raises
    ------
    DFTCalculationError
        If the engine fails or an SCF cycle does not converge.
    """
    engine = get_engine(settings.engine)
    result = engine.relax(
        as_structure(structure),
        settings,
        Path.cwd(),
        fmax=fmax,
        relax_cell=relax_cell,
        max_steps=max_steps,
        optimizer=optimizer,
    )
    if not result.relax_converged:
        logger.warning(
            "DFT relaxation in %s stopped after %d steps above fmax=%g eV/Å.",
            result.directory,
            result.n_steps,
            fmax,
        )
    metadata = {
        **(metadata or {}),
        "n_steps": result.n_steps,
        "relax_converged": result.relax_converged,
        "fmax": fmax,
        "relax_cell": relax_cell,
    }
    return static_document(result, settings, engine.name, label, metadata)


@dataclass
class DFTStaticMaker(Maker):
    """Make a job that computes energy, forces and stress of one structure with DFT.

    Parameters
    ----------
    name
        Job name.
    settings
        DFT settings (engine, level of theory, numerics); the same object should label
        the training data and compute the reference properties.
    stage
        Pipeline stage of the job's tag (kind :attr:`JobKind.DFT`): the training statics
        by default; :meth:`phonon_static_maker` gives the phonon displacements'.
    """

    name: str = "dft static"
    settings: DFTSettings = field(default_factory=DFTSettings.local)
    stage: Stage = Stage.DFT_STATICS

    #: Job name of the phonon-displacement statics made with these settings.
    phonon_static_name: ClassVar[str] = "dft phonon displacement"

    def __post_init__(self) -> None:
        """Restore the stage's type after serialisation (jsanitize stores its value)."""
        self.stage = Stage(self.stage)

    def settings_record(self) -> dict[str, Any]:
        """Return the engine-neutral record of the DFT settings stored in reports.

        Returns
        -------
        dict
            ``settings.model_dump(mode="json")``.
        """
        return self.settings.model_dump(mode="json")

    def phonon_static_maker(self) -> DFTStaticMaker:
        """Return this maker for the phonon displacements (same settings and engine).

        Returns
        -------
        DFTStaticMaker
            Named :attr:`phonon_static_name`, stage :attr:`Stage.DFT_PHONONS`.
        """
        return dataclass_replace(self, name=self.phonon_static_name, stage=Stage.DFT_PHONONS)

    def make(
        self, structure: Structure | OutputReference, label: str = "", metadata: dict | None = None
    ) -> Job:
        """Return a job that runs one DFT static.

        Parameters
        ----------
        structure
            Structure (Å) or a reference to one.
        label
            Free-text label of the output document.
        metadata
            Metadata passed through to the output document.

        Returns
        -------
        Job
            Named ``self.name``, tagged (:attr:`JobKind.DFT`, ``self.stage``); its output is
            a :class:`StaticDocument`.

        Raises
        ------
        UnknownEngineError
            If ``settings.engine`` is not a registered engine (at build time).
        """
        get_engine(self.settings.engine)
        static_job = dft_static(
            structure, settings=self.settings, label=label, metadata=dict(metadata or {})
        )
        static_job.name = self.name
        return tag_job(static_job, JobKind.DFT, self.stage)


@job
def fan_out_statics(
    structures: Sequence[Structure],
    static_maker: Maker,
    labels: Sequence[str] | None = None,
    metadata: dict | None = None,
    flow_name: str = "dft statics",
) -> Response:
    """Replace this job by one DFT static per structure (run-time fan-out).

    Parameters
    ----------
    structures
        Structures (Å), resolved at run time.
    static_maker
        Maker of each static (:class:`DFTStaticMaker`, or any Maker whose ``make(structure,
        label=, metadata=)`` returns a Job or Flow with a StaticDocument output, e.g.
        :class:`mlip_finetune.dft.vasp.VaspDocumentMaker`); job ``i`` of ``n`` is named
        ``f"{static_maker.name} {i}/{n}"`` (1-based) and keeps the tag its maker gives it.
    labels
        One label per structure; default ``"dft static i/n"``.
    metadata
        Metadata of every static; ``index`` (0-based position) and ``n_structures`` are
        added.
    flow_name
        Name of the replacement flow.

    Returns
    -------
    Response
        ``replace`` holds a Flow whose output is the list of the statics' outputs.

    Raises
    ------
    ValueError
        If the number of labels differs from the number of structures.
    """
    structures = [as_structure(structure) for structure in structures]
    n = len(structures)
    if labels is not None and len(labels) != n:
        raise ValueError(f"Got {len(labels)} labels for {n} structures.")
    jobs = []
    for i, structure in enumerate(structures, start=1):
        step = f"{static_maker.name} {i}/{n}"
        static_job = static_maker.make(
            structure,
            label=labels[i - 1] if labels is not None else step,
            metadata={**(metadata or {}), "index": i - 1, "n_structures": n},
        )
        # append_name also renames the jobs inside a Flow-returning maker (e.g. VASP's
        # static + conversion), not only the Flow.
        static_job.append_name(f" {i}/{n}")
        jobs.append(static_job)
    return Response(replace=Flow(jobs, output=[j.output for j in jobs], name=flow_name))


@dataclass
class ReferenceStaticsMaker(Maker):
    """Make a job that labels many structures with DFT, one static job per structure.

    The fan-out happens at run time, so ``structures`` may be the output of an earlier
    job. The job's output resolves to the list of :class:`StaticDocument`, in input order.

    Parameters
    ----------
    name
        Job name.
    static_maker
        Maker of each static: :class:`DFTStaticMaker` (open DFT engine) or
        :class:`mlip_finetune.dft.vasp.VaspDocumentMaker` (VASP through atomate2); it tags
        the statics the fan-out creates at run time.
    stage
        Pipeline stage of the fan-out job's tag (kind :attr:`JobKind.LIGHT`).
    """

    name: str = "dft statics"
    static_maker: Maker = field(default_factory=DFTStaticMaker)
    stage: Stage = Stage.DFT_STATICS

    def __post_init__(self) -> None:
        """Restore the stage's type after serialisation (jsanitize stores its value)."""
        self.stage = Stage(self.stage)

    def make(
        self,
        structures: Sequence[Structure] | OutputReference,
        labels: Sequence[str] | None = None,
        metadata: dict | None = None,
    ) -> Job:
        """Return a job that fans out into one DFT static per structure.

        Parameters
        ----------
        structures
            Structures (Å), or a reference to a list of them.
        labels
            One label per structure; default ``"dft static i/n"``.
        metadata
            Metadata of every static (``index`` and ``n_structures`` are added).

        Returns
        -------
        Job
            Named ``self.name`` and tagged (:attr:`JobKind.LIGHT`, ``self.stage``); replaced
            at run time by statics named ``"dft static i/n"`` (1-based), tagged by the
            static maker; its output resolves to a list of :class:`StaticDocument`.

        Raises
        ------
        UnknownEngineError
            If the static maker's engine is not registered (at build time).
        ValueError
            If ``labels`` and a concrete ``structures`` list differ in length.
        """
        if isinstance(self.static_maker, DFTStaticMaker | DFTRelaxMaker):
            get_engine(self.static_maker.settings.engine)  # VASP runs through atomate2
        if (
            labels is not None
            and not isinstance(structures, OutputReference)
            and len(labels) != len(structures)
        ):
            raise ValueError(f"Got {len(labels)} labels for {len(structures)} structures.")
        fan_out = fan_out_statics(
            structures,
            static_maker=self.static_maker,
            labels=None if labels is None else list(labels),
            metadata=dict(metadata or {}),
            flow_name=self.name,
        )
        fan_out.name = self.name
        return tag_job(fan_out, JobKind.LIGHT, self.stage)


@dataclass
class DFTRelaxMaker(Maker):
    """Make a job that relaxes positions (and cell) with DFT in one engine process.

    Parameters
    ----------
    name
        Job name.
    settings
        DFT settings.
    fmax
        Force threshold (eV/Å); the paper used 5e-4 eV/Å (§4.1).
    relax_cell
        Relax cell shape and volume (ASE ``FrechetCellFilter``, zero pressure).
    max_steps
        Maximum number of ionic steps; a relaxation that hits it is logged and recorded
        (``relax_converged=False``), not raised.
    optimizer
        ASE optimiser: ``"BFGS"`` or ``"FIRE"``.
    stage
        Pipeline stage of the job's tag (kind :attr:`JobKind.DFT`): the reference phonons'
        relaxation by default.
    """

    name: str = "dft relax"
    settings: DFTSettings = field(default_factory=DFTSettings.local)
    fmax: float = 1e-3
    relax_cell: bool = True
    max_steps: int = 200
    optimizer: Literal["BFGS", "FIRE"] = "BFGS"
    stage: Stage = Stage.DFT_PHONONS

    def __post_init__(self) -> None:
        """Restore the stage's type after serialisation (jsanitize stores its value)."""
        self.stage = Stage(self.stage)

    def make(
        self,
        structure: Structure | OutputReference,
        label: str = "dft relax",
        metadata: dict | None = None,
    ) -> Job:
        """Return a job that relaxes one structure with DFT.

        Parameters
        ----------
        structure
            Starting structure (Å) or a reference to one.
        label
            Label of the output document.
        metadata
            Metadata passed through (``n_steps``, ``relax_converged``, ``fmax``,
            ``relax_cell`` are added).

        Returns
        -------
        Job
            Named ``self.name``, tagged (:attr:`JobKind.DFT`, ``self.stage``); its output is a
            :class:`StaticDocument` of the relaxed structure.

        Raises
        ------
        UnknownEngineError
            If ``settings.engine`` is not registered (at build time).
        ValueError
            If ``fmax`` or ``max_steps`` is not positive, or the optimiser is unknown.
        """
        get_engine(self.settings.engine)
        if self.fmax <= 0 or self.max_steps <= 0:
            raise ValueError(
                f"fmax and max_steps must be positive, got {self.fmax} and {self.max_steps}."
            )
        if self.optimizer not in ("BFGS", "FIRE"):
            raise ValueError(f"Unknown optimizer {self.optimizer!r}; use 'BFGS' or 'FIRE'.")
        relax_job = dft_relax(
            structure,
            settings=self.settings,
            fmax=self.fmax,
            relax_cell=self.relax_cell,
            max_steps=self.max_steps,
            optimizer=self.optimizer,
            label=label,
            metadata=dict(metadata or {}),
        )
        relax_job.name = self.name
        return tag_job(relax_job, JobKind.DFT, self.stage)


#: Former names, kept for README and workflow code (they shadowed atomate2's makers).
StaticMaker = DFTStaticMaker
RelaxMaker = DFTRelaxMaker
