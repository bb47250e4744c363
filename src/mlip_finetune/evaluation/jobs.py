"""Jobflow jobs of the evaluation (paper §3.3–3.5, §4.5–4.6).

- :class:`MLPhononMaker`: relax with a MACE model file, then every displaced supercell in the
  same job, with the model loaded once.
- :func:`phonons_from_statics`: assemble phonons from externally computed forces (DFT
  statics of the supercells of :func:`~mlip_finetune.evaluation.phonons.displaced_supercells`).
- :class:`MLPropertiesMaker`: EOS, elastic tensor, Slack κ and phase transitions of one MACE
  model in one job (:func:`properties_from_calculator` with any ASE calculator).
- :class:`DFTPropertiesMaker`: the same properties with DFT, one fixed-cell relaxation job
  per EOS volume and strained cell, assembled by :func:`dft_properties_from_statics`.
- :func:`property_errors`: every model against the reference
  (:func:`~mlip_finetune.evaluation.metrics.compare_properties`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from jobflow import Flow, Maker, Response, job

from mlip_finetune.dft.jobs import RelaxMaker, StaticMaker
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.elastic import (
    DEFAULT_STRAIN_MAGNITUDES,
    DEFAULT_SYMPREC,
    FittingMethod,
)
from mlip_finetune.evaluation.eos import DEFAULT_FMAX, DEFAULT_VOLUME_STRAINS, MIN_EOS_POINTS
from mlip_finetune.evaluation.phonons import (
    DEFAULT_DISPLACEMENT,
    DEFAULT_MESH_LENGTH,
    DEFAULT_T_MAX,
    DEFAULT_T_MIN,
    DEFAULT_T_STEP,
    FcCalculator,
    Optimizer,
    displaced_supercells,
    model_forces,
    phonon_document_from_calculator,
    phonon_document_from_forces,
    phonon_supercell_matrix,
    relax_structure,
)
from mlip_finetune.evaluation.thermal_conductivity import SLACK_TEMPERATURE_K
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.evaluation import PhononDocument
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)
from mlip_finetune.schemas.properties import ModelPropertiesDocument, PropertyErrors

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms
    from jobflow import Job, OutputReference
    from pymatgen.core import Structure

    from mlip_finetune.schemas.properties import ElasticDocument, SlackDocument

#: ASE's list of everything that can change between two calculator calls.
ALL_CHANGES: tuple[str, ...] = tuple(all_changes)

logger = logging.getLogger(__name__)

#: Largest position mismatch (Å) tolerated between a static's structure and the displaced
#: supercell it is supposed to be.
POSITION_TOLERANCE: float = 1e-4


@dataclass
class MLPhononMaker(Maker):
    """Harmonic phonons of one structure with one MACE model file, in one job.

    Parameters
    ----------
    name
        Job name.
    relax
        Relax cell and positions with the model first (FrechetCellFilter, symmetry kept).
    fmax
        Relaxation force threshold (eV/Å).
    max_steps
        Maximum relaxation steps (paper §4.6 uses 2000).
    optimizer
        ASE optimiser, ``"BFGS"`` or ``"FIRE"``.
    supercell_matrix
        3x3 phonopy supercell matrix; ``None`` picks atomate2's cubic supercell with side
        at least ``min_length``.
    min_length
        Minimum supercell side (Å) used when ``supercell_matrix`` is None (paper §4.1: 20 Å).
    displacement
        Finite displacement amplitude (Å).
    mesh
        q-mesh divisions, or a length (Å) converted with phonopy's rule. Pass the same
        integers as the reference so phonon MAEs can be computed.
    fc_calculator
        Force-constant solver, ``"symfc"`` (paper) or ``"traditional"``.
    device
        Torch device for MACE, ``"auto"`` picks CUDA when available.
    t_min, t_max, t_step
        Temperature range (K) of ``PhononDocument.thermal_properties``; default 0…1000 K
        in 10 K steps.
    """

    name: str = "ml phonons"
    relax: bool = True
    fmax: float = 1e-3
    max_steps: int = 2000
    optimizer: Optimizer = "BFGS"
    supercell_matrix: list[list[int]] | None = None
    min_length: float = 20.0
    displacement: float = DEFAULT_DISPLACEMENT
    mesh: list[int] | float = DEFAULT_MESH_LENGTH
    fc_calculator: FcCalculator = "symfc"
    device: str = "auto"
    t_min: float = DEFAULT_T_MIN
    t_max: float = DEFAULT_T_MAX
    t_step: float = DEFAULT_T_STEP

    @job(output_schema=PhononDocument)
    def make(self, structure: Structure, model_path: str, label: str) -> PhononDocument:
        """Relax (optionally) and compute phonons with a MACE model file.

        Parameters
        ----------
        structure
            Unit cell (Å), preferably primitive.
        model_path
            Plain MACE model file; loaded once for the relaxation and all displacements.
        label
            Stored as ``PhononDocument.label`` (``"foundation"``, ``"transfer"``, …).

        Returns
        -------
        PhononDocument
            Phonons of the (relaxed) structure; ``model_path`` and its sha256 recorded.
        """
        from mlip_finetune.calculators import mace_calculator
        from mlip_finetune.utils import sha256_file

        start = time.perf_counter()
        calculator = mace_calculator(model_path, device=self.device)
        if self.relax:
            structure, converged = relax_structure(
                structure,
                calculator,
                fmax=self.fmax,
                max_steps=self.max_steps,
                optimizer=self.optimizer,
            )
            if not converged:
                logger.warning(
                    "%s: relaxation did not reach fmax=%g eV/Å in %d steps",
                    label,
                    self.fmax,
                    self.max_steps,
                )
        matrix = self.supercell_matrix or phonon_supercell_matrix(structure, self.min_length)
        doc = phonon_document_from_calculator(
            structure,
            calculator,
            label,
            matrix,
            displacement=self.displacement,
            mesh=self.mesh,
            fc_calculator=self.fc_calculator,
            t_min=self.t_min,
            t_max=self.t_max,
            t_step=self.t_step,
            model_path=str(model_path),
            model_sha256=sha256_file(model_path),
        )
        # report the relaxation too, not only the displacements
        return doc.model_copy(update={"wall_time_s": time.perf_counter() - start})


@job(output_schema=PhononDocument)
def phonons_from_statics(
    structure: Structure,
    supercell_matrix: list[list[int]],
    displacement: float,
    statics: Sequence[StaticDocument],
    *,
    label: str = "dft",
    mesh: list[int] | float = DEFAULT_MESH_LENGTH,
    fc_calculator: FcCalculator = "symfc",
    t_min: float = DEFAULT_T_MIN,
    t_max: float = DEFAULT_T_MAX,
    t_step: float = DEFAULT_T_STEP,
) -> PhononDocument:
    """Phonons from forces computed elsewhere (DFT statics of the displaced supercells).

    The displaced supercells are regenerated with
    :func:`~mlip_finetune.evaluation.phonons.displaced_supercells` (deterministic order) and
    each static is checked to be the supercell at the same index.

    Parameters
    ----------
    structure
        Unit cell the displacements were generated from (Å).
    supercell_matrix
        3x3 phonopy supercell matrix used to generate them.
    displacement
        Displacement amplitude used (Å).
    statics
        One static per displaced supercell, in phonopy's order; forces in eV/Å.
    label
        Stored as ``PhononDocument.label``.
    mesh
        q-mesh divisions or length (Å).
    fc_calculator
        ``"symfc"`` or ``"traditional"``.
    t_min, t_max, t_step
        Temperature range (K) of the thermal properties.

    Returns
    -------
    PhononDocument
        ``wall_time_s`` is the sum of the statics' wall times plus phonopy's time.

    Raises
    ------
    ValueError
        If the number of statics differs from the number of displacements, or a static's
        species or positions (beyond 1e-4 Å) differ from the regenerated supercell.
    """
    phonon, supercells = displaced_supercells(structure, supercell_matrix, displacement)
    # documents read back from a store or a JSON queue may arrive as plain dicts
    statics = [StaticDocument.model_validate(s) for s in statics]
    forces = _forces_of_displaced_statics(statics, supercells)
    return phonon_document_from_forces(
        phonon,
        forces,
        label=label,
        mesh=mesh,
        fc_calculator=fc_calculator,
        t_min=t_min,
        t_max=t_max,
        t_step=t_step,
        wall_time_s=float(sum(static.wall_time_s for static in statics)),
    )


def _forces_of_displaced_statics(
    statics: Sequence[StaticDocument], supercells: Sequence[Structure]
) -> list[np.ndarray]:
    """Return the forces (eV/Å) of statics checked to be the displaced supercells, in order."""
    if len(statics) != len(supercells):
        raise ValueError(f"{len(statics)} statics for {len(supercells)} displaced supercells")
    for i, (static, supercell) in enumerate(zip(statics, supercells, strict=True)):
        other = static.structure
        if [s.symbol for s in other.species] != [s.symbol for s in supercell.species]:
            raise ValueError(f"static {i} ({static.label!r}): species differ from supercell {i}")
        delta = other.lattice.get_cartesian_coords(
            other.frac_coords
            - supercell.frac_coords
            - np.rint(other.frac_coords - supercell.frac_coords)
        )
        if np.abs(other.lattice.matrix - supercell.lattice.matrix).max() > POSITION_TOLERANCE or (
            np.linalg.norm(delta, axis=1).max() > POSITION_TOLERANCE
        ):
            raise ValueError(
                f"static {i} ({static.label!r}) is not displaced supercell {i}: wrong order, "
                "structure, supercell matrix or displacement"
            )
    return [np.asarray(static.forces, dtype=float) for static in statics]


def properties_from_calculator(
    structure: Structure,
    calculator: Calculator,
    label: str,
    *,
    relax: bool = True,
    fmax: float = DEFAULT_FMAX,
    max_steps: int = 2000,
    optimizer: Optimizer = "BFGS",
    volume_strains: Sequence[float] = DEFAULT_VOLUME_STRAINS,
    relax_cell_shape: bool = False,
    strain_magnitudes: Sequence[float] = DEFAULT_STRAIN_MAGNITUDES,
    sym_reduce: bool = True,
    symprec: float = DEFAULT_SYMPREC,
    fitting_method: FittingMethod = "finite_difference",
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transition_settings: PhaseTransitionSettings | None = None,
    supercell_matrix: Sequence[Sequence[int]] | None = None,
    min_length: float = 20.0,
    displacement: float = DEFAULT_DISPLACEMENT,
    fc_calculator: FcCalculator = "symfc",
    engine: str | None = None,
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> ModelPropertiesDocument:
    """EOS, elastic tensor, Slack κ and (optionally) phase transitions with one calculator.

    The structure is relaxed once (cell and positions, symmetry kept); every property starts
    from that equilibrium: :func:`~mlip_finetune.evaluation.eos.eos_from_calculator`,
    :func:`~mlip_finetune.evaluation.elastic.elastic_from_calculator`,
    :func:`~mlip_finetune.evaluation.thermal_conductivity.slack_from_elastic` and
    :func:`~mlip_finetune.evaluation.phase_transitions.phase_transitions_from_calculator`,
    each with ``relax=False``. An E(V) curve or elastic tensor that cannot be analysed
    (:class:`~mlip_finetune.evaluation.eos.EOSFitError`,
    :class:`~mlip_finetune.evaluation.elastic.ElasticFitError`, non-positive moduli for
    Slack) leaves that property ``None`` with its reason in ``failures``.

    Parameters
    ----------
    structure
        Starting structure (Å), preferably primitive.
    calculator
        ASE calculator giving energy (eV), forces (eV/Å) and stress (eV/Å³).
    label
        Name stored in every document.
    relax
        Relax cell and positions first (:func:`~mlip_finetune.evaluation.phonons.
        relax_structure`, FrechetCellFilter + FixSymmetry).
    fmax
        Force threshold of every relaxation (eV/Å); default 1e-3, the paper's 1 meV/Å (§4.1).
    max_steps, optimizer
        Optimiser cap and name (ASE ``"BFGS"`` or ``"FIRE"``).
    volume_strains
        EOS volume changes V/V_eq − 1 (default −5 … +5 % in 1 % steps, paper §4.1).
    relax_cell_shape
        Also relax the cell shape at each fixed EOS volume (default positions only).
    strain_magnitudes, sym_reduce, symprec, fitting_method
        Elastic deformations and fit (atomate2's defaults: ±0.5 %, ±1 %, finite differences).
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transition_settings
        Settings of the phase-transition search; ``None`` skips it.
    supercell_matrix
        Phonon supercell of the search (phonopy convention); ``None`` takes atomate2's
        cubic supercell of side ≥ ``min_length``.
    min_length
        Minimum supercell side (Å) when ``supercell_matrix`` is None (paper §4.1: 20 Å).
    displacement, fc_calculator
        Finite displacement (Å) and force-constant solver of the search's phonons.
    engine
        Stored as ``engine``; default the calculator's class name.
    model_path, model_sha256
        Recorded in every document.

    Returns
    -------
    ModelPropertiesDocument
        The properties, failures and wall time per step (s).
    """
    from mlip_finetune.evaluation.elastic import ElasticFitError, elastic_from_calculator
    from mlip_finetune.evaluation.eos import EOSFitError, eos_from_calculator
    from mlip_finetune.evaluation.phase_transitions import phase_transitions_from_calculator

    start = time.perf_counter()
    wall_times: dict[str, float] = {}
    failures: dict[str, str] = {}
    converged = None
    if relax:
        structure, converged = relax_structure(
            structure, calculator, fmax=fmax, max_steps=max_steps, optimizer=optimizer
        )
        if not converged:
            logger.warning(f"{label}: relaxation did not reach fmax={fmax} eV/Å")
        wall_times["relax"] = time.perf_counter() - start

    tick = time.perf_counter()
    eos = None
    try:
        eos = eos_from_calculator(
            structure,
            calculator,
            label,
            relax=False,
            volume_strains=volume_strains,
            fmax=fmax,
            max_steps=max_steps,
            optimizer=optimizer,
            relax_cell_shape=relax_cell_shape,
            model_path=model_path,
            model_sha256=model_sha256,
        )
    except EOSFitError as err:
        failures["eos"] = str(err)
    wall_times["eos"] = time.perf_counter() - tick

    tick = time.perf_counter()
    elastic = None
    try:
        elastic = elastic_from_calculator(
            structure,
            calculator,
            label,
            relax=False,
            fmax=fmax,
            max_steps=max_steps,
            optimizer=optimizer,
            strain_magnitudes=strain_magnitudes,
            sym_reduce=sym_reduce,
            symprec=symprec,
            fitting_method=fitting_method,
            model_path=model_path,
            model_sha256=model_sha256,
        )
    except ElasticFitError as err:
        failures["elastic"] = str(err)
    wall_times["elastic"] = time.perf_counter() - tick

    tick = time.perf_counter()
    slack = _slack_or_failure(elastic, slack_temperature, failures)
    wall_times["slack"] = time.perf_counter() - tick

    phases = None
    if phase_transition_settings is not None:
        tick = time.perf_counter()
        matrix = supercell_matrix or phonon_supercell_matrix(structure, min_length)
        phases = phase_transitions_from_calculator(
            structure,
            calculator,
            label,
            matrix,
            settings=phase_transition_settings,
            displacement=displacement,
            fc_calculator=fc_calculator,
            model_path=model_path,
            model_sha256=model_sha256,
        )
        wall_times["phase_transitions"] = time.perf_counter() - tick
    wall_times["total"] = time.perf_counter() - start
    return ModelPropertiesDocument(
        label=label,
        structure=structure,
        relaxed=relax,
        relax_converged=converged,
        eos=eos,
        elastic=elastic,
        slack=slack,
        phase_transitions=phases,
        phase_transition_settings=phase_transition_settings,
        failures=failures,
        wall_times=wall_times,
        engine=engine or type(calculator).__name__,
        model_path=model_path,
        model_sha256=model_sha256,
    )


def _slack_or_failure(
    elastic: ElasticDocument | None, temperature: float, failures: dict[str, str]
) -> SlackDocument | None:
    """Slack κ from an elastic document, or None with the reason added to ``failures``."""
    from mlip_finetune.evaluation.thermal_conductivity import slack_from_elastic

    if elastic is None:
        failures["slack"] = "no elastic tensor"
        return None
    try:
        return slack_from_elastic(elastic, temperature=temperature)
    except ValueError as err:
        failures["slack"] = str(err)
        return None


def _check_property_grid(volume_strains: Sequence[float], fmax: float, max_steps: int) -> None:
    """Build-time checks shared by the property Makers."""
    strains = [float(s) for s in volume_strains]
    if len(strains) < MIN_EOS_POINTS or len(set(strains)) != len(strains):
        raise ValueError(
            f"volume_strains needs at least {MIN_EOS_POINTS} distinct values for a "
            f"Birch–Murnaghan fit, got {strains}"
        )
    if min(strains) <= -1:
        raise ValueError(f"volume_strains must be > -1, got {strains}")
    if fmax <= 0 or max_steps <= 0:
        raise ValueError(f"fmax and max_steps must be positive, got {fmax} and {max_steps}")


@dataclass
class MLPropertiesMaker(Maker):
    """EOS, elastic tensor, Slack κ and phase transitions of one MACE model, in one job.

    One job per model, the model loaded once (paper §3.4–3.5, §4.5–4.6): ML evaluation does
    not pay one job per strained or scaled structure. Defaults are the paper's.

    Parameters
    ----------
    name
        Job name.
    relax
        Relax cell and positions with the model first (FixSymmetry, FrechetCellFilter).
    fmax
        Force threshold of every relaxation (eV/Å); the paper's 1 meV/Å (§4.1).
    max_steps
        Relaxation step cap (paper §4.6: 2000).
    optimizer
        ASE optimiser, ``"BFGS"`` or ``"FIRE"``.
    volume_strains
        EOS volumes V/V_eq − 1, default −5 … +5 % in 1 % steps (paper §4.1).
    relax_cell_shape
        Relax the cell shape at each EOS volume too (default positions only, as the paper).
    strain_magnitudes
        Elastic strain magnitudes (atomate2's ±0.5 %, ±1 %).
    sym_reduce, symprec
        Symmetry reduction of the elastic deformations (atomate2's, 0.1 Å).
    fitting_method
        Elastic fit (pymatgen), ``"finite_difference"`` as atomate2.
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transitions
        Run the phase-transition search (paper §3.5, §4.6).
    phase_transition_settings
        Its settings (grid sizes, atom limit 1000, relaxation threshold 5 meV/Å, …).
    supercell_matrix
        Phonon supercell of the search; ``None`` takes the cubic one of side ≥ ``min_length``.
    min_length
        Minimum supercell side (Å), paper §4.1: 20 Å.
    displacement
        Finite displacement of the search's phonons (Å).
    fc_calculator
        ``"symfc"`` (paper) or ``"traditional"``.
    device
        Torch device for MACE, ``"auto"`` picks CUDA when available.
    """

    name: str = "ml properties"
    relax: bool = True
    fmax: float = DEFAULT_FMAX
    max_steps: int = 2000
    optimizer: Optimizer = "BFGS"
    volume_strains: tuple[float, ...] = DEFAULT_VOLUME_STRAINS
    relax_cell_shape: bool = False
    strain_magnitudes: tuple[float, ...] = DEFAULT_STRAIN_MAGNITUDES
    sym_reduce: bool = True
    symprec: float = DEFAULT_SYMPREC
    fitting_method: FittingMethod = "finite_difference"
    slack_temperature: float = SLACK_TEMPERATURE_K
    phase_transitions: bool = True
    phase_transition_settings: PhaseTransitionSettings = field(
        default_factory=PhaseTransitionSettings
    )
    supercell_matrix: list[list[int]] | None = None
    min_length: float = 20.0
    displacement: float = DEFAULT_DISPLACEMENT
    fc_calculator: FcCalculator = "symfc"
    device: str = "auto"

    def __post_init__(self) -> None:
        """Reject an unusable EOS grid or relaxation threshold when the Maker is built.

        Raises
        ------
        ValueError
            If fewer than 5 distinct volume strains, a strain ≤ −1, or a non-positive
            ``fmax``/``max_steps`` is given.
        """
        _check_property_grid(self.volume_strains, self.fmax, self.max_steps)

    @job(output_schema=ModelPropertiesDocument)
    def make(self, structure: Structure, model_path: str, label: str) -> ModelPropertiesDocument:
        """Compute every property with one MACE model file.

        Parameters
        ----------
        structure
            Unit cell (Å), preferably primitive.
        model_path
            Plain MACE model file, loaded once (:func:`mlip_finetune.calculators.
            mace_calculator`, float64).
        label
            Stored as the documents' label (``"foundation"``, ``"transfer"``, …).

        Returns
        -------
        ModelPropertiesDocument
            See :func:`properties_from_calculator`; ``model_path`` and sha256 recorded.
        """
        from mlip_finetune.calculators import mace_calculator
        from mlip_finetune.dft.jobs import as_structure
        from mlip_finetune.utils import sha256_file

        calculator = mace_calculator(model_path, device=self.device)
        return properties_from_calculator(
            as_structure(structure),
            calculator,
            label,
            relax=self.relax,
            fmax=self.fmax,
            max_steps=self.max_steps,
            optimizer=self.optimizer,
            volume_strains=self.volume_strains,
            relax_cell_shape=self.relax_cell_shape,
            strain_magnitudes=self.strain_magnitudes,
            sym_reduce=self.sym_reduce,
            symprec=self.symprec,
            fitting_method=self.fitting_method,
            slack_temperature=self.slack_temperature,
            phase_transition_settings=(
                PhaseTransitionSettings.model_validate(self.phase_transition_settings)
                if self.phase_transitions
                else None
            ),
            supercell_matrix=self.supercell_matrix,
            min_length=self.min_length,
            displacement=self.displacement,
            fc_calculator=self.fc_calculator,
            engine="mace",
            model_path=str(model_path),
            model_sha256=sha256_file(model_path),
        )


class DFTEngineCalculator(Calculator):
    """ASE calculator running one DFT-engine static per call, for searches that need ASE.

    Each :meth:`calculate` starts one :meth:`~mlip_finetune.dft.engines.DFTEngine.run_static`
    (for GPAW, one worker subprocess) in a new sub-directory ``static_00001``, … of
    ``directory``: start-up cost is paid per call, so use it only where a code path needs an
    ASE calculator (the phase-transition scans and symmetry-kept relaxations).

    Parameters
    ----------
    settings
        DFT settings, including the engine name.
    directory
        Directory that receives one sub-directory per calculation (created if missing).
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, settings: DFTSettings, directory: str | Path) -> None:
        from mlip_finetune.dft.engines import get_engine

        super().__init__(directory=str(directory))
        self.settings = settings
        self.engine = get_engine(settings.engine)
        self.n_calls = 0
        self.wall_time = 0.0

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = ALL_CHANGES,
    ) -> None:
        """Run one DFT static of ``atoms``: energy (eV), forces (eV/Å), stress (eV/Å³).

        Parameters
        ----------
        atoms
            Structure to compute (ASE's ``Calculator.calculate`` contract).
        properties
            Requested properties; all four are always computed.
        system_changes
            What changed since the last call (ASE).

        Raises
        ------
        DFTCalculationError
            If the engine fails or does not converge.
        """
        from ase.stress import full_3x3_to_voigt_6_stress
        from pymatgen.io.ase import AseAtomsAdaptor

        super().calculate(atoms, properties, system_changes)
        self.n_calls += 1
        result = self.engine.run_static(
            AseAtomsAdaptor.get_structure(self.atoms),
            self.settings,
            Path(self.directory) / f"static_{self.n_calls:05d}",
        )
        self.wall_time += result.wall_time
        self.results = {
            "energy": result.energy,
            "free_energy": result.free_energy,
            "forces": np.asarray(result.forces, dtype=float),
            "stress": full_3x3_to_voigt_6_stress(np.asarray(result.stress, dtype=float)),
        }


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
        atomate2's protocol for both EOS and elastic constants).
    volume_strains
        EOS volumes V/V_eq − 1 (:func:`~mlip_finetune.evaluation.eos.eos_structures`).
    strain_magnitudes, sym_reduce, symprec
        Deformations (:func:`~mlip_finetune.evaluation.elastic.elastic_deformations`).

    Returns
    -------
    eos_jobs : list of Job
        Named ``"dft eos i/N"`` (1-based), outputs StaticDocuments of the relaxed cells.
    elastic_jobs : list of Job
        Named ``"dft elastic i/N"``.
    deformations : list
        Deformation gradients F (3×3) of the elastic jobs, same order.

    Raises
    ------
    ValueError
        If ``relax_maker`` relaxes the cell, or the strains are invalid.
    """
    from mlip_finetune.evaluation.elastic import elastic_deformations
    from mlip_finetune.evaluation.eos import eos_structures

    if relax_maker.relax_cell:
        raise ValueError("EOS and elastic points need fixed-cell relaxations (relax_cell=False)")
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
        eos_jobs.append(eos_job)
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
        elastic_jobs.append(elastic_job)
    return eos_jobs, elastic_jobs, [np.asarray(d, dtype=float).tolist() for d in deformations]


@job
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
        elastic_converged=_relax_flags(elastic_statics),
        elastic_wall_time_s=float(sum(d.wall_time_s for d in elastic_statics)),
        slack_temperature=slack_temperature,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
    )


def properties_from_points(
    equilibrium: StaticDocument,
    eos_statics: Sequence[StaticDocument],
    deformations: Sequence[Sequence[Sequence[float]]],
    elastic_stresses: Sequence[Sequence[Sequence[float]]],
    *,
    label: str = "dft",
    relaxed: bool = True,
    volume_strains: Sequence[float] | None = None,
    fmax: float | None = None,
    fitting_method: FittingMethod = "finite_difference",
    symprec: float | None = DEFAULT_SYMPREC,
    elastic_converged: Sequence[bool] | None = None,
    elastic_wall_time_s: float = 0.0,
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transitions: PhaseTransitionDocument | dict | None = None,
    phase_transition_settings: PhaseTransitionSettings | None = None,
    failures: dict[str, str] | None = None,
) -> ModelPropertiesDocument:
    """EOS, elastic tensor and Slack κ from the points of any code (the shared analysis).

    :func:`~mlip_finetune.evaluation.eos.eos_document_from_energies` on the volumes and
    total energies of ``eos_statics``,
    :func:`~mlip_finetune.evaluation.elastic.elastic_document_from_stresses` on
    ``elastic_stresses`` with the equilibrium stress of ``equilibrium``, then Slack. Used by
    :func:`dft_properties_from_statics` (GPAW) and
    :func:`mlip_finetune.dft.vasp.properties_from_vasp` (atomate2's VASP flows).

    Parameters
    ----------
    equilibrium
        Static (or relaxation) of the equilibrium structure.
    eos_statics
        Fixed-volume relaxations of the scaled structures, one per EOS point.
    deformations
        Deformation gradients F (3×3), one per elastic stress.
    elastic_stresses
        Cauchy stresses of the relaxed strained cells (3×3, GPa, tensile > 0).
    label, relaxed, volume_strains, fmax, fitting_method
        See :func:`dft_properties_from_statics`.
    symprec
        Expand symmetry-reduced strains with this precision (Å); None if every strain was
        computed (or already expanded, as in atomate2's ``ElasticDocument``).
    elastic_converged
        Convergence flag of each strained-cell relaxation, if known.
    elastic_wall_time_s
        Summed wall time of the strained-cell relaxations (s).
    slack_temperature, phase_transitions, phase_transition_settings
        See :func:`dft_properties_from_statics`; ``phase_transitions`` may be the
        document's dict (a job output).
    failures
        Failures found earlier, kept in the document; an ``"elastic"`` entry skips the
        elastic fit (no strained cells).

    Returns
    -------
    ModelPropertiesDocument
        A failed EOS or elastic fit is recorded in ``failures`` (nothing raised).
    """
    from mlip_finetune.evaluation.elastic import ElasticFitError, elastic_document_from_stresses
    from mlip_finetune.evaluation.eos import EOSFitError, eos_document_from_energies

    equilibrium = StaticDocument.model_validate(equilibrium)
    eos_statics = [StaticDocument.model_validate(d) for d in eos_statics]
    structure = equilibrium.structure
    failures = dict(failures or {})
    wall_times = {
        "relax" if relaxed else "static": equilibrium.wall_time_s,
        "eos": float(sum(d.wall_time_s for d in eos_statics)),
        "elastic": float(elastic_wall_time_s),
    }
    eos = None
    try:
        eos = eos_document_from_energies(
            [d.structure.volume for d in eos_statics],
            [d.energy for d in eos_statics],
            len(structure),
            label,
            structure=structure,
            volume_strains=volume_strains,
            relax_converged=_relax_flags(eos_statics),
            relax_cell_shape=False,
            wall_time_s=wall_times["eos"],
        )
    except EOSFitError as err:
        failures["eos"] = str(err)
    elastic = None
    if "elastic" not in failures:  # else no strained cells to fit (their failure is recorded)
        try:
            elastic = elastic_document_from_stresses(
                structure,
                [np.asarray(d, dtype=float) for d in deformations],
                [np.asarray(d, dtype=float) for d in elastic_stresses],
                label,
                equilibrium_stress=np.asarray(equilibrium.stress, dtype=float),
                fitting_method=fitting_method,
                symprec=symprec,
                fmax=fmax,
                relax_converged=None if elastic_converged is None else list(elastic_converged),
                wall_time_s=wall_times["elastic"],
            )
        except ElasticFitError as err:
            failures["elastic"] = str(err)
    slack = _slack_or_failure(elastic, slack_temperature, failures)
    if phase_transitions is not None:
        phase_transitions = PhaseTransitionDocument.model_validate(phase_transitions)
        wall_times["phase_transitions"] = phase_transitions.wall_time_s
    wall_times["total"] = float(sum(wall_times.values()))
    return ModelPropertiesDocument(
        label=label,
        structure=structure,
        relaxed=relaxed,
        relax_converged=equilibrium.metadata.get("relax_converged") if relaxed else None,
        eos=eos,
        elastic=elastic,
        slack=slack,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
        failures=failures,
        wall_times=wall_times,
        engine=equilibrium.engine,
        dft_settings=equilibrium.settings,
    )


def _relax_flags(statics: Sequence[StaticDocument]) -> list[bool] | None:
    flags = [d.metadata.get("relax_converged") for d in statics]
    return None if any(flag is None for flag in flags) else [bool(flag) for flag in flags]


@job(output_schema=ModelPropertiesDocument)
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


@job(output_schema=PhaseTransitionDocument)
def dft_phase_transitions(
    equilibrium: StaticDocument,
    settings: DFTSettings,
    search_settings: PhaseTransitionSettings,
    *,
    supercell_matrix: list[list[int]] | None = None,
    min_length: float = 20.0,
    displacement: float = DEFAULT_DISPLACEMENT,
    fc_calculator: FcCalculator = "symfc",
    phonon_statics: Sequence[StaticDocument] | None = None,
) -> PhaseTransitionDocument:
    """Phase-transition search with DFT energies and relaxations, in one job.

    :func:`~mlip_finetune.evaluation.phase_transitions.search_phase_transitions` with a
    :class:`DFTEngineCalculator`: every grid energy, every ionic step of the symmetry-kept
    relaxations of the minima and the reference energy is one DFT static, run through the
    engine's Python API in a sub-directory of the job's directory.

    Cost (DFT statics): the phonons (one per displaced supercell, none if
    ``phonon_statics`` are given), plus for each scanned unstable subspace of dimension d
    ``grid_points[d]**d`` grid points (21, 441, 729, 2401 with the paper's grids), plus one
    static per relaxation step of each inequivalent grid minimum (up to ``max_steps``),
    plus 2 per relaxation for the energy gain. A 3-D mode alone is ~700 supercell statics:
    hours to days on a cluster node, which is why :class:`DFTPropertiesMaker` leaves this
    off by default. With GPAW each static is a worker subprocess (a few seconds start-up).

    Parameters
    ----------
    equilibrium
        StaticDocument of the relaxed unit cell.
    settings
        DFT settings (the flow's single :class:`~mlip_finetune.dft.settings.DFTSettings`).
    search_settings
        Search parameters (paper's by default).
    supercell_matrix
        Phonon supercell (phonopy); ``None`` takes the cubic one of side ≥ ``min_length``.
    min_length
        Minimum supercell side (Å).
    displacement
        Finite displacement (Å).
    fc_calculator
        ``"symfc"`` or ``"traditional"``.
    phonon_statics
        DFT statics of the displaced supercells of this structure, matrix and displacement
        (as the flow's DFT phonons computed them); ``None`` computes them here.

    Returns
    -------
    PhaseTransitionDocument
        Labelled ``"dft"``; ``wall_time_s`` covers the whole job.

    Raises
    ------
    ValueError
        If ``phonon_statics`` are not the displaced supercells, in phonopy's order.
    DFTCalculationError
        If a DFT calculation fails.
    """
    from mlip_finetune.dft.jobs import as_structure

    equilibrium = StaticDocument.model_validate(equilibrium)
    settings = DFTSettings.model_validate(settings)
    calculator = DFTEngineCalculator(settings, Path.cwd() / "phase_transitions")
    return phase_transitions_with_calculator(
        as_structure(equilibrium.structure),
        calculator,
        search_settings,
        supercell_matrix=supercell_matrix,
        min_length=min_length,
        displacement=displacement,
        fc_calculator=fc_calculator,
        phonon_statics=phonon_statics,
    )


def phase_transitions_with_calculator(
    structure: Structure,
    calculator: Calculator,
    search_settings: PhaseTransitionSettings,
    *,
    label: str = "dft",
    supercell_matrix: list[list[int]] | None = None,
    min_length: float = 20.0,
    displacement: float = DEFAULT_DISPLACEMENT,
    fc_calculator: FcCalculator = "symfc",
    phonon_statics: Sequence[StaticDocument] | None = None,
) -> PhaseTransitionDocument:
    """Phonons, then the phase-transition search, with one calculator that runs a code per call.

    The body of :func:`dft_phase_transitions` (GPAW, :class:`DFTEngineCalculator`) and of
    :func:`mlip_finetune.dft.vasp.vasp_phase_transitions` (VASP through atomate2,
    :class:`~mlip_finetune.dft.vasp.VaspStaticCalculator`).

    Parameters
    ----------
    structure
        Relaxed unit cell (Å).
    calculator
        ASE calculator; its ``n_calls`` and ``wall_time`` (s), if present, are logged.
    search_settings
        Search parameters.
    label
        Label of the document.
    supercell_matrix, min_length, displacement, fc_calculator, phonon_statics
        See :func:`dft_phase_transitions`.

    Returns
    -------
    PhaseTransitionDocument
        ``wall_time_s`` covers phonons and search.

    Raises
    ------
    ValueError
        If ``phonon_statics`` are not the displaced supercells, in phonopy's order.
    """
    from mlip_finetune.evaluation.phase_transitions import search_phase_transitions

    start = time.perf_counter()
    matrix = supercell_matrix or phonon_supercell_matrix(structure, min_length)
    phonon, supercells = displaced_supercells(structure, matrix, displacement)
    if phonon_statics is None:
        phonon.forces = np.asarray(model_forces(supercells, calculator), dtype=float)
    else:
        statics = [StaticDocument.model_validate(s) for s in phonon_statics]
        phonon.forces = np.asarray(_forces_of_displaced_statics(statics, supercells))
    phonon.produce_force_constants(fc_calculator=fc_calculator, show_drift=False)
    doc = search_phase_transitions(
        phonon, calculator, label, settings=PhaseTransitionSettings.model_validate(search_settings)
    )
    logger.info(
        f"{label} phase-transition search: {getattr(calculator, 'n_calls', '?')} statics, "
        f"{getattr(calculator, 'wall_time', 0.0):.0f} s in the code"
    )
    return doc.model_copy(update={"wall_time_s": time.perf_counter() - start})


@dataclass
class DFTPropertiesMaker(Maker):
    """EOS, elastic tensor, Slack κ (and optionally phase transitions) with DFT.

    The flow: an equilibrium job (``"dft properties relax"``, cell and positions, or a
    static ``"dft properties static"`` when ``relax`` is False), a run-time fan-out of
    fixed-cell relaxations ``"dft eos i/N"`` (one per EOS volume) and ``"dft elastic i/N"``
    (one per symmetry-inequivalent strain), optionally ``"dft phase transitions"``
    (:func:`dft_phase_transitions`, one job), and ``"dft properties"`` assembling a
    :class:`~mlip_finetune.schemas.properties.ModelPropertiesDocument` labelled ``"dft"``.
    Same protocol and analysis as :class:`MLPropertiesMaker`.

    Parameters
    ----------
    name
        Flow name.
    settings
        DFT settings: the same object as the rest of the material flow.
    relax
        Relax cell and positions with DFT first.
    fmax
        Force threshold of every DFT relaxation (eV/Å); the paper's 1 meV/Å for elastic
        constants (§4.1).
    max_steps
        Ionic step cap of each relaxation.
    optimizer
        ASE optimiser, ``"BFGS"`` or ``"FIRE"``.
    volume_strains
        EOS volumes V/V_eq − 1 (−5 … +5 % in 1 % steps).
    strain_magnitudes, sym_reduce, symprec, fitting_method
        Elastic deformations and fit (atomate2's defaults).
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transitions
        Run the DFT phase-transition search (default off: thousands of statics for 3-D
        modes, see :func:`dft_phase_transitions`).
    phase_transition_settings
        Its settings.
    supercell_matrix, min_length, displacement, fc_calculator
        Phonons of the search (used only when ``phase_transitions``).
    """

    name: str = "dft properties"
    settings: DFTSettings = field(default_factory=DFTSettings.local)
    relax: bool = True
    fmax: float = DEFAULT_FMAX
    max_steps: int = 200
    optimizer: Optimizer = "BFGS"
    volume_strains: tuple[float, ...] = DEFAULT_VOLUME_STRAINS
    strain_magnitudes: tuple[float, ...] = DEFAULT_STRAIN_MAGNITUDES
    sym_reduce: bool = True
    symprec: float = DEFAULT_SYMPREC
    fitting_method: FittingMethod = "finite_difference"
    slack_temperature: float = SLACK_TEMPERATURE_K
    phase_transitions: bool = False
    phase_transition_settings: PhaseTransitionSettings = field(
        default_factory=PhaseTransitionSettings
    )
    supercell_matrix: list[list[int]] | None = None
    min_length: float = 20.0
    displacement: float = DEFAULT_DISPLACEMENT
    fc_calculator: FcCalculator = "symfc"

    @property
    def fixed_cell_relax_maker(self) -> RelaxMaker:
        """Maker of the EOS and elastic points: positions only, this Maker's thresholds."""
        return RelaxMaker(
            name="dft fixed-cell relax",
            settings=self.settings,
            fmax=self.fmax,
            relax_cell=False,
            max_steps=self.max_steps,
            optimizer=self.optimizer,
        )

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

        get_engine(self.settings.engine)
        _check_property_grid(self.volume_strains, self.fmax, self.max_steps)
        if phonon_statics is not None and self.relax:
            raise ValueError(
                "phonon_statics belong to a fixed structure; use them with relax=False"
            )
        if self.relax:
            first = RelaxMaker(
                name="dft properties relax",
                settings=self.settings,
                fmax=self.fmax,
                relax_cell=True,
                max_steps=self.max_steps,
                optimizer=self.optimizer,
            ).make(structure, label="dft properties relax")
        else:
            first = StaticMaker(name="dft properties static", settings=self.settings).make(
                structure, label="dft properties static"
            )
        points = dft_property_points(
            first.output,
            self.fixed_cell_relax_maker,
            volume_strains=list(self.volume_strains),
            strain_magnitudes=list(self.strain_magnitudes),
            sym_reduce=self.sym_reduce,
            symprec=self.symprec,
        )
        points.name = "dft property points"
        jobs = [first, points]
        phases = None
        if self.phase_transitions:
            phases = dft_phase_transitions(
                first.output,
                self.settings,
                self.phase_transition_settings,
                supercell_matrix=self.supercell_matrix,
                min_length=self.min_length,
                displacement=self.displacement,
                fc_calculator=self.fc_calculator,
                phonon_statics=phonon_statics,
            )
            phases.name = "dft phase transitions"
            jobs.append(phases)
        assemble = assemble_dft_properties(
            first.output,
            points.output,
            label="dft",
            relaxed=self.relax,
            fmax=self.fmax,
            fitting_method=self.fitting_method,
            sym_reduce=self.sym_reduce,
            symprec=self.symprec,
            slack_temperature=self.slack_temperature,
            phase_transitions=None if phases is None else phases.output,
            phase_transition_settings=(
                self.phase_transition_settings if self.phase_transitions else None
            ),
        )
        assemble.name = "dft properties"
        jobs.append(assemble)
        return Flow(jobs, output=assemble.output, name=self.name)


@job
def property_errors(
    model_docs: Sequence[ModelPropertiesDocument],
    reference_doc: ModelPropertiesDocument,
    model_phonons: Sequence[PhononDocument] | None = None,
    reference_phonons: PhononDocument | None = None,
) -> list[PropertyErrors]:
    """Compare every model's properties with the reference (:func:`compare_properties`).

    Parameters
    ----------
    model_docs
        One document per model.
    reference_doc
        Reference (DFT) document.
    model_phonons
        Phonon documents of the models, same order (optional, for dynamical stability).
    reference_phonons
        Phonon document of the reference.

    Returns
    -------
    list of PropertyErrors
        One per model, same order.

    Raises
    ------
    ValueError
        If ``model_phonons`` has a different length than ``model_docs``.
    """
    from mlip_finetune.evaluation.metrics import compare_properties

    if model_phonons is not None and len(model_phonons) != len(model_docs):
        raise ValueError(f"{len(model_phonons)} phonon documents for {len(model_docs)} models")
    phonons = model_phonons if model_phonons is not None else [None] * len(model_docs)
    return [
        compare_properties(
            doc, reference_doc, model_phonons=ph, reference_phonons=reference_phonons
        )
        for doc, ph in zip(model_docs, phonons, strict=True)
    ]
