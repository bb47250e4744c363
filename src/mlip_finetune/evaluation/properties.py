"""One property suite for calculators and for DFT points: EOS → elastic tensor → Slack κ.

- :class:`~mlip_finetune.evaluation.property_settings.PropertySettings` (re-exported here):
  the protocol, shared by every property Maker.
- :func:`properties_from_calculator`: the suite with one ASE calculator, in one process.
- :func:`properties_from_points`: the same analysis on points computed elsewhere (DFT
  relaxations of the EOS volumes and strained cells, GPAW or VASP).

Both go through :func:`eos_elastic_slack`: a fit that cannot be analysed leaves its
property ``None`` with the reason in ``failures``, and Slack needs the elastic tensor.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from mlip_finetune.core.relax import relax_structure
from mlip_finetune.evaluation.elastic import (
    DEFAULT_SYMPREC,
    ElasticFitError,
    FittingMethod,
    elastic_document_from_stresses,
    elastic_from_calculator,
)
from mlip_finetune.evaluation.eos import (
    EOSFitError,
    eos_document_from_energies,
    eos_from_calculator,
)
from mlip_finetune.evaluation.phonons import phonon_supercell_matrix
from mlip_finetune.evaluation.property_settings import PropertySettings
from mlip_finetune.evaluation.thermal_conductivity import SLACK_TEMPERATURE_K, slack_from_elastic
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)
from mlip_finetune.schemas.properties import ModelPropertiesDocument

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from mlip_finetune.schemas.properties import ElasticDocument, EOSDocument, SlackDocument

logger = logging.getLogger(__name__)


def _fit_or_failure(
    name: str, fit: Callable[[], Any], error: type[Exception], failures: dict[str, str]
) -> Any:
    """Return ``fit()``, or None with the reason of an ``error`` added to ``failures``."""
    try:
        return fit()
    except error as err:
        failures[name] = str(err)
        return None


def _slack_or_failure(
    elastic: ElasticDocument | None, temperature: float, failures: dict[str, str]
) -> SlackDocument | None:
    """Slack κ from an elastic document, or None with the reason added to ``failures``."""
    if elastic is None:
        failures["slack"] = "no elastic tensor"
        return None
    try:
        return slack_from_elastic(elastic, temperature=temperature)
    except ValueError as err:
        failures["slack"] = str(err)
        return None


def _timed(wall_times: dict[str, float] | None, name: str, step: Callable[[], Any]) -> Any:
    """Run ``step``; record its wall time (s) under ``name`` when ``wall_times`` is given."""
    tick = time.perf_counter()
    result = step()
    if wall_times is not None:
        wall_times[name] = time.perf_counter() - tick
    return result


def eos_elastic_slack(
    eos_fit: Callable[[], EOSDocument],
    elastic_fit: Callable[[], ElasticDocument] | None,
    *,
    slack_temperature: float,
    failures: dict[str, str],
    wall_times: dict[str, float] | None = None,
) -> tuple[EOSDocument | None, ElasticDocument | None, SlackDocument | None]:
    """EOS, elastic tensor and Slack κ, each failure recorded instead of raised.

    Parameters
    ----------
    eos_fit
        Returns the EOS document; an :class:`~mlip_finetune.evaluation.eos.EOSFitError`
        leaves the EOS None with ``failures["eos"]``.
    elastic_fit
        Returns the elastic document; an
        :class:`~mlip_finetune.evaluation.elastic.ElasticFitError` leaves it None with
        ``failures["elastic"]``. None: nothing to fit (its failure is already recorded).
    slack_temperature
        Temperature of the Slack κ (K); Slack needs the elastic tensor and positive moduli.
    failures
        Updated in place.
    wall_times
        If given, receives the wall time (s) of ``"eos"``, ``"elastic"`` (when fitted) and
        ``"slack"``.

    Returns
    -------
    tuple
        ``(eos, elastic, slack)``, each None when it failed.
    """
    eos = _timed(wall_times, "eos", lambda: _fit_or_failure("eos", eos_fit, EOSFitError, failures))
    elastic = None
    if elastic_fit is not None:
        elastic = _timed(
            wall_times,
            "elastic",
            lambda: _fit_or_failure("elastic", elastic_fit, ElasticFitError, failures),
        )
    slack = _timed(
        wall_times, "slack", lambda: _slack_or_failure(elastic, slack_temperature, failures)
    )
    return eos, elastic, slack


def _relax_first(
    structure: Structure, calculator: Calculator, label: str, settings: PropertySettings
) -> tuple[Structure, bool | None]:
    """Relax cell and positions when ``settings.relax``; return the structure and flag."""
    if not settings.relax:
        return structure, None
    structure, converged = relax_structure(
        structure,
        calculator,
        fmax=settings.fmax,
        max_steps=settings.max_steps,
        optimizer=settings.optimizer,
    )
    if not converged:
        logger.warning(f"{label}: relaxation did not reach fmax={settings.fmax} eV/Å")
    return structure, converged


def properties_from_calculator(
    structure: Structure,
    calculator: Calculator,
    label: str,
    settings: PropertySettings | dict | None = None,
    *,
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
    settings
        The protocol (:class:`PropertySettings`, or its dict); the paper's when None. The
        search runs when ``settings.phase_transitions``.
    engine
        Stored as ``engine``; default the calculator's class name.
    model_path, model_sha256
        Recorded in every document.

    Returns
    -------
    ModelPropertiesDocument
        The properties, failures and wall time per step (s).
    """
    from mlip_finetune.evaluation.phase_transitions import phase_transitions_from_calculator

    settings = PropertySettings() if settings is None else PropertySettings.model_validate(settings)
    start = time.perf_counter()
    wall_times: dict[str, float] = {}
    failures: dict[str, str] = {}
    structure, converged = _relax_first(structure, calculator, label, settings)
    if settings.relax:
        wall_times["relax"] = time.perf_counter() - start
    common = {
        "relax": False,
        "fmax": settings.fmax,
        "max_steps": settings.max_steps,
        "optimizer": settings.optimizer,
        "model_path": model_path,
        "model_sha256": model_sha256,
    }
    eos, elastic, slack = eos_elastic_slack(
        lambda: eos_from_calculator(
            structure,
            calculator,
            label,
            volume_strains=settings.volume_strains,
            relax_cell_shape=settings.relax_cell_shape,
            **common,
        ),
        lambda: elastic_from_calculator(
            structure,
            calculator,
            label,
            strain_magnitudes=settings.strain_magnitudes,
            sym_reduce=settings.sym_reduce,
            symprec=settings.symprec,
            fitting_method=settings.fitting_method,
            **common,
        ),
        slack_temperature=settings.slack_temperature,
        failures=failures,
        wall_times=wall_times,
    )
    search = settings.search_settings
    phases = None
    if search is not None:
        tick = time.perf_counter()
        phases = phase_transitions_from_calculator(
            structure,
            calculator,
            label,
            settings.supercell_matrix or phonon_supercell_matrix(structure, settings.min_length),
            settings=search,
            displacement=settings.displacement,
            fc_calculator=settings.fc_calculator,
            model_path=model_path,
            model_sha256=model_sha256,
        )
        wall_times["phase_transitions"] = time.perf_counter() - tick
    wall_times["total"] = time.perf_counter() - start
    return ModelPropertiesDocument(
        label=label,
        structure=structure,
        relaxed=settings.relax,
        relax_converged=converged,
        eos=eos,
        elastic=elastic,
        slack=slack,
        phase_transitions=phases,
        phase_transition_settings=search,
        failures=failures,
        wall_times=wall_times,
        engine=engine or type(calculator).__name__,
        model_path=model_path,
        model_sha256=model_sha256,
    )


def relax_flags(statics: Sequence[StaticDocument]) -> list[bool] | None:
    """Convergence flags of relaxations (``metadata["relax_converged"]``), None if unknown.

    Parameters
    ----------
    statics
        Documents of relaxations.

    Returns
    -------
    list of bool or None
        None when any document lacks the flag.
    """
    flags = [d.metadata.get("relax_converged") for d in statics]
    return None if any(flag is None for flag in flags) else [bool(flag) for flag in flags]


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
    :func:`~mlip_finetune.evaluation.jobs.dft_properties_from_statics` (GPAW) and
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
    label
        Stored label.
    relaxed
        Whether ``equilibrium`` is a relaxation.
    volume_strains
        Relative volumes of the EOS points, stored.
    fmax
        Force threshold of the relaxations (eV/Å), stored.
    fitting_method
        Elastic fit (pymatgen).
    symprec
        Expand symmetry-reduced strains with this precision (Å); None if every strain was
        computed (or already expanded, as in atomate2's ``ElasticDocument``).
    elastic_converged
        Convergence flag of each strained-cell relaxation, if known.
    elastic_wall_time_s
        Summed wall time of the strained-cell relaxations (s).
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transitions, phase_transition_settings
        A phase-transition search to include (the document or its dict, a job output) and
        its settings.
    failures
        Failures found earlier, kept in the document; an ``"elastic"`` entry skips the
        elastic fit (no strained cells).

    Returns
    -------
    ModelPropertiesDocument
        A failed EOS or elastic fit is recorded in ``failures`` (nothing raised).
    """
    equilibrium = StaticDocument.model_validate(equilibrium)
    eos_statics = [StaticDocument.model_validate(d) for d in eos_statics]
    structure = equilibrium.structure
    failures = dict(failures or {})
    wall_times = {
        "relax" if relaxed else "static": equilibrium.wall_time_s,
        "eos": float(sum(d.wall_time_s for d in eos_statics)),
        "elastic": float(elastic_wall_time_s),
    }

    def elastic_fit() -> ElasticDocument:
        return elastic_document_from_stresses(
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

    eos, elastic, slack = eos_elastic_slack(
        lambda: eos_document_from_energies(
            [d.structure.volume for d in eos_statics],
            [d.energy for d in eos_statics],
            len(structure),
            label,
            structure=structure,
            volume_strains=volume_strains,
            relax_converged=relax_flags(eos_statics),
            relax_cell_shape=False,
            wall_time_s=wall_times["eos"],
        ),
        # else no strained cells to fit (their failure is recorded)
        None if "elastic" in failures else elastic_fit,
        slack_temperature=slack_temperature,
        failures=failures,
    )
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
