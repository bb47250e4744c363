"""Ready-made protocol presets: the paper's production settings and this machine's sizes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mlip_finetune.data.jobs import TrainingDataMaker
from mlip_finetune.data.supercells import SupercellProtocol
from mlip_finetune.dft.engines import DFTCode
from mlip_finetune.dft.jobs import DFTRelaxMaker, DFTStaticMaker
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.jobs import DFTPropertiesMaker, MLPhononMaker, MLPropertiesMaker
from mlip_finetune.evaluation.properties import PropertySettings
from mlip_finetune.fitting.distillation import DistillationSettings, SurrogateMaker
from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.fitting.strategies import FineTuneStrategy, default_settings
from mlip_finetune.flows.material import MaterialFlowMaker
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from jobflow import Maker


class RunPreset(StrEnum):
    """Sizes of one material run.

    ``paper``: the paper's settings (§4.1–4.3): large 10–15 Å supercells, FIRE to 1e-4 eV/Å,
    DFT at 520 eV and 0.1 Å⁻¹, 200 epochs, 20 Å phonon supercells. For clusters.
    ``local``: the paper's protocol sized for a 2-core machine: small 5–10 Å supercells,
    cheaper DFT (:meth:`DFTSettings.local`), 100 epochs, phonon supercells of ≥ 7 Å.
    ``test``: primitive cells, very cheap DFT, a few epochs; for the test suite.
    """

    PAPER = "paper"
    LOCAL = "local"
    TEST = "test"


@dataclass(frozen=True)
class DistillationSizes:
    """A preset's surrogate sizes, below :class:`DistillationSettings`' paper defaults."""

    n_structures: int
    n_validation: int
    min_atoms: int
    max_num_epochs: int | None = None  # None: the preset's fine-tuning epochs
    num_channels: str | None = None  # a student narrower than the default one


@dataclass(frozen=True)
class PresetSizes:
    """The sizes of one :class:`RunPreset` (entries of :data:`PRESETS`).

    Attributes
    ----------
    dft
        DFT settings factory (:class:`DFTSettings` ``paper``, ``local`` or ``test``).
    data
        :class:`TrainingDataMaker` options (supercell protocol, FIRE ``fmax`` in eV/Å,
        ``max_steps``) besides the device.
    epochs
        Fine-tuning epochs of every strategy.
    relax_fmax
        Force threshold (eV/Å) of the DFT and ML relaxations before phonons and properties.
    min_length
        Minimum phonon and property supercell side (Å).
    mesh
        Phonon q-mesh length (Å).
    n_replay
        Replay structures of multihead fine-tuning; None keeps the strategy's default.
    phase_transition_search
        Factory of the ML phase-transition search settings.
    dft_phase_transitions
        Search phase transitions with DFT too (thousands of statics for a 3-D mode).
    dft_relax_max_steps
        Ionic steps of the GPAW property suite's relaxation.
    distillation
        Surrogate sizes; None keeps :class:`DistillationSettings`' defaults.
    max_dft_atoms
        Most atoms in one DFT static (training frames, phonon displacements) the preset
        accepts; a larger cell is refused when the flow is built
        (:class:`~mlip_finetune.flows.validation.DFTSizeError`). None: no limit.
    property_grid
        ``volume_strains`` and ``strain_magnitudes`` of the ML and GPAW property suites
        (:class:`~mlip_finetune.evaluation.property_settings.PropertySettings`); empty keeps
        the paper's grid (11 EOS volumes, ±0.5 and ±1 % strains).
    """

    dft: Callable[[], DFTSettings]
    data: Mapping[str, Any]
    epochs: int
    relax_fmax: float
    min_length: float
    mesh: float
    n_replay: int | None = None
    phase_transition_search: Callable[[], PhaseTransitionSettings] = PhaseTransitionSettings
    dft_phase_transitions: bool = False
    dft_relax_max_steps: int = 100
    distillation: DistillationSizes | None = None
    max_dft_atoms: int | None = None
    property_grid: Mapping[str, Any] = field(default_factory=dict)


def _test_search() -> PhaseTransitionSettings:
    """Bounded phase-transition search: untrained test models have odd instabilities."""
    return PhaseTransitionSettings(
        supercell_atom_limit=16,
        grid_points={1: 7, 2: 5, 3: 3, 4: 3},
        fmax=1e-2,
        max_steps=100,
    )


#: The sizes of every preset.
PRESETS: dict[RunPreset, PresetSizes] = {
    RunPreset.PAPER: PresetSizes(
        dft=DFTSettings.paper,
        data={"protocol": SupercellProtocol.LARGE, "fmax": 1e-4},
        epochs=200,
        relax_fmax=5e-4,
        min_length=20.0,
        mesh=50.0,
        dft_phase_transitions=True,
        dft_relax_max_steps=200,
    ),
    RunPreset.LOCAL: PresetSizes(
        dft=DFTSettings.local,
        data={"protocol": SupercellProtocol.SMALL, "fmax": 1e-4, "max_steps": 1000},
        epochs=100,
        relax_fmax=1e-3,
        min_length=7.0,
        mesh=50.0,
        distillation=DistillationSizes(n_structures=60, n_validation=10, min_atoms=32),
        # a 2-core machine: 64-atom Si cells take minutes per static at these settings
        max_dft_atoms=128,
    ),
    RunPreset.TEST: PresetSizes(
        dft=DFTSettings.test,
        # three trajectories (-5, 0, +5 %) of two frames: 4 training and 2 validation
        # statics instead of the paper's 16 + 4, the suite's largest cost per run
        data={
            "protocol": SupercellProtocol.PRIMITIVE,
            "fmax": 1e-2,
            "max_steps": 200,
            "volume_scales": (-0.05, 0.0, 0.05),
            "n_frames": 2,
        },
        epochs=15,
        relax_fmax=1e-2,
        min_length=5.0,
        mesh=8.0,
        n_replay=20,
        phase_transition_search=_test_search,
        # smaller than the test suite's tiny foundations
        distillation=DistillationSizes(
            n_structures=12, n_validation=4, min_atoms=8, max_num_epochs=5, num_channels="8"
        ),
        # the test suite's cells: a perovskite's 2×2×2 phonon supercell has 40 atoms
        max_dft_atoms=64,
        # 7 EOS volumes and 2 strains per direction instead of 11 and 4: the DFT property
        # suite is 4 + 4 fewer fixed-cell relaxations (Si's B0 and K_VRH still agree to 10 %)
        property_grid={
            "volume_strains": (-0.05, -0.03, -0.01, 0.0, 0.01, 0.03, 0.05),
            "strain_magnitudes": (-0.01, 0.01),
        },
    ),
}


def _gpaw_makers(dft: DFTSettings, relax_fmax: float) -> tuple[Maker, Maker]:
    """Return GPAW's static and relax Makers at the preset's settings."""
    return DFTStaticMaker(settings=dft), DFTRelaxMaker(settings=dft, fmax=relax_fmax)


def _vasp_makers(dft: DFTSettings, relax_fmax: float) -> tuple[Maker, Maker]:  # noqa: ARG001
    """Return atomate2's VASP static and relax Makers (the paper's settings, any preset)."""
    from mlip_finetune.dft.vasp import VaspDocumentMaker, VaspRelaxMaker

    return VaspDocumentMaker(), VaspDocumentMaker(name="vasp relax", vasp_maker=VaspRelaxMaker())


def _gpaw_properties_maker(dft: DFTSettings, sizes: PresetSizes) -> Maker:
    """Return GPAW's DFT property suite at the preset's settings."""
    return DFTPropertiesMaker(
        settings=dft,
        property_settings=PropertySettings.dft(
            fmax=sizes.relax_fmax,
            max_steps=sizes.dft_relax_max_steps,
            phase_transitions=sizes.dft_phase_transitions,
            min_length=sizes.min_length,
            **sizes.property_grid,
        ),
    )


def _vasp_properties_maker(dft: DFTSettings, sizes: PresetSizes) -> Maker:  # noqa: ARG001
    """Return VASP's DFT property suite: the paper's settings whatever the preset."""
    from mlip_finetune.evaluation.vasp_properties import paper_properties_maker

    return replace(
        paper_properties_maker(),
        property_settings=PropertySettings.dft(
            phase_transitions=sizes.dft_phase_transitions, min_length=sizes.min_length
        ),
    )


@dataclass(frozen=True)
class DFTEngineMakers:
    """What one DFT code contributes to a material flow (entries of :data:`DFT_ENGINES`).

    Attributes
    ----------
    makers
        ``(dft settings, relax fmax in eV/Å) → (static Maker, relax Maker)``: the training
        statics and phonon displacements, and the reference relaxation.
    properties
        ``(dft settings, preset sizes) → Maker`` of the DFT property suite (EOS, elastic
        tensor, Slack κ, phase transitions at the ``paper`` preset).
    """

    makers: Callable[[DFTSettings, float], tuple[Maker, Maker]]
    properties: Callable[[DFTSettings, PresetSizes], Maker]


#: The Makers of every DFT code a material flow can run.
DFT_ENGINES: dict[DFTCode, DFTEngineMakers] = {
    DFTCode.GPAW: DFTEngineMakers(makers=_gpaw_makers, properties=_gpaw_properties_maker),
    DFTCode.VASP: DFTEngineMakers(makers=_vasp_makers, properties=_vasp_properties_maker),
}


def dft_engine_makers(dft_engine: DFTCode | str) -> DFTEngineMakers:
    """Return the registry entry of a DFT code.

    Parameters
    ----------
    dft_engine
        A :class:`DFTCode` or its value, e.g. ``"vasp"``.

    Returns
    -------
    DFTEngineMakers

    Raises
    ------
    ValueError
        If the code is not in :data:`DFT_ENGINES`.
    """
    known = " or ".join(repr(code.value) for code in DFT_ENGINES)
    try:
        return DFT_ENGINES[DFTCode(dft_engine)]
    except (ValueError, KeyError):
        raise ValueError(f"Unknown DFT engine {dft_engine!r}: {known}.") from None


def material_flow_maker(
    preset: RunPreset | str = RunPreset.LOCAL,
    strategies: tuple[FineTuneStrategy | str, ...] = (FineTuneStrategy.TRANSFER,),
    device: str = "auto",
    report_dir: str | None = None,
    *,
    replay_file: str | None = None,
    data_efficiency: bool = False,
    data_efficiency_strategies: tuple[FineTuneStrategy | str, ...] | None = None,
    distil: str | None = None,
    properties: bool = False,
    forgetting: bool = False,
    dft_engine: DFTCode | str = DFTCode.GPAW,
) -> MaterialFlowMaker:
    """Return a :class:`MaterialFlowMaker` configured by a preset.

    Parameters
    ----------
    preset
        ``"paper"``, ``"local"`` or ``"test"`` (:class:`RunPreset`).
    strategies
        Fine-tuning strategies, one model each.
    device
        Torch device for training and ML evaluation.
    report_dir
        Directory for plots; None uses the report job's directory.
    replay_file
        Multihead: the user's local replay file (subsampled to 100 structures); None builds
        one labelled by the foundation (:mod:`mlip_finetune.fitting.replay`).
    data_efficiency
        Also train every strategy on growing training subsets and plot the curve.
    data_efficiency_strategies
        Only these strategies on that curve (implies ``data_efficiency``); None traces all.
    distil
        Strategy whose model is distilled into a smaller surrogate; None skips it.
    properties
        Also compute EOS, elastic tensor, Slack κ and (ML models only, except with the
        ``paper`` preset) the phase-transition search for every model and for DFT.
    forgetting
        Also run the forgetting check against the foundation's labels.
    dft_engine
        A :class:`~mlip_finetune.dft.engines.DFTCode` or its value (Makers from
        :data:`DFT_ENGINES`): ``"gpaw"`` (the open engine, runs anywhere) or ``"vasp"``:
        atomate2's VASP makers with the paper's settings (:mod:`mlip_finetune.dft.vasp`)
        for the training statics, the reference relaxation and phonons, and with
        ``properties`` the DFT EOS, elastic tensor and Slack κ
        (:func:`~mlip_finetune.dft.vasp.paper_properties_maker`, with the phase-transition
        search at the ``paper`` preset as with GPAW). Needs VASP and POTCARs on the worker.

    Returns
    -------
    MaterialFlowMaker

    Raises
    ------
    ValueError
        On an unknown preset, strategy or DFT engine name, or curve strategies that are not
        trained.
    """
    preset = RunPreset(preset)
    strategies = tuple(FineTuneStrategy(s) for s in strategies)
    sizes = PRESETS[preset]
    dft = sizes.dft()
    finetunes = [
        _finetune_maker(strategy, sizes, replay_file=replay_file, device=device)
        for strategy in strategies
    ]
    surrogate = None
    if distil is not None:
        surrogate = SurrogateMaker(
            settings=_distillation(sizes.distillation, sizes.epochs), device=device
        )
    engine = dft_engine_makers(dft_engine)
    static_maker, relax_maker = engine.makers(dft, sizes.relax_fmax)
    ml_properties = dft_properties = None
    if properties:
        ml_properties = MLPropertiesMaker(
            property_settings=PropertySettings(
                fmax=sizes.relax_fmax,
                min_length=sizes.min_length,
                phase_transition_settings=sizes.phase_transition_search(),
                **sizes.property_grid,
            ),
            device=device,
        )
        dft_properties = engine.properties(dft, sizes)
    return MaterialFlowMaker(
        training_data_maker=TrainingDataMaker(**sizes.data, device=device),
        static_maker=static_maker,
        finetune_makers=finetunes,
        relax_maker=relax_maker,
        ml_phonon_maker=MLPhononMaker(fmax=sizes.relax_fmax, device=device),
        phonon_min_length=sizes.min_length,
        phonon_mesh=sizes.mesh,
        report_dir=report_dir,
        data_efficiency=data_efficiency or data_efficiency_strategies is not None,
        data_efficiency_strategies=(
            None
            if data_efficiency_strategies is None
            else [str(FineTuneStrategy(s)) for s in data_efficiency_strategies]
        ),
        surrogate_maker=surrogate,
        surrogate_teacher=distil,
        ml_properties_maker=ml_properties,
        dft_properties_maker=dft_properties,
        forgetting=forgetting,
        max_dft_atoms=sizes.max_dft_atoms,
        preset=preset.value,
    )


def _finetune_maker(
    strategy: FineTuneStrategy, sizes: PresetSizes, *, replay_file: str | None, device: str
) -> FineTuneMaker:
    """Return one strategy's :class:`FineTuneMaker` with the preset's epochs."""
    update = {"max_num_epochs": sizes.epochs, "replay_file": replay_file}
    if sizes.n_replay is not None:
        update["n_replay"] = sizes.n_replay
    hyper = default_settings(strategy).model_copy(update=update)
    return FineTuneMaker(strategy=strategy, hyperparameters=hyper, device=device)


def _distillation(sizes: DistillationSizes | None, epochs: int) -> DistillationSettings:
    """Return a preset's distillation settings: defaults at paper scale, smaller otherwise."""
    if sizes is None:
        return DistillationSettings()
    settings = DistillationSettings(
        n_structures=sizes.n_structures,
        n_validation=sizes.n_validation,
        min_atoms=sizes.min_atoms,
    )
    settings.train = settings.train.model_copy(
        update={"max_num_epochs": sizes.max_num_epochs or epochs}
    )
    if sizes.num_channels is not None:
        settings.architecture |= {"num_channels": sizes.num_channels}
    return settings
