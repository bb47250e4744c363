"""Ready-made protocol presets: the paper's production settings and this machine's sizes."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING

from mlip_finetune.data.jobs import TrainingDataMaker
from mlip_finetune.data.utils import SupercellProtocol
from mlip_finetune.dft.jobs import RelaxMaker, StaticMaker
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.jobs import DFTPropertiesMaker, MLPhononMaker, MLPropertiesMaker
from mlip_finetune.fitting.distillation import DistillationSettings, SurrogateMaker
from mlip_finetune.fitting.jobs import FineTuneMaker
from mlip_finetune.fitting.strategies import FineTuneStrategy, default_settings
from mlip_finetune.flows.material import MaterialFlowMaker
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings

if TYPE_CHECKING:
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
    dft_engine: str = "gpaw",
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
        ``"gpaw"`` (the open engine, runs anywhere) or ``"vasp"``: atomate2's VASP makers with
        the paper's settings (:mod:`mlip_finetune.dft.vasp`) for the training statics, the
        reference relaxation and phonons, and with ``properties`` the DFT EOS, elastic tensor
        and Slack κ (:func:`~mlip_finetune.dft.vasp.paper_properties_maker`, with the
        phase-transition search at the ``paper`` preset as with GPAW). Needs VASP and
        POTCARs on the worker.

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
    if preset is RunPreset.PAPER:
        dft = DFTSettings.paper()
        data = TrainingDataMaker(protocol=SupercellProtocol.LARGE, fmax=1e-4, device=device)
        epochs, relax_fmax, min_length, mesh = 200, 5e-4, 20.0, 50.0
    elif preset is RunPreset.LOCAL:
        dft = DFTSettings.local()
        data = TrainingDataMaker(
            protocol=SupercellProtocol.SMALL, fmax=1e-4, max_steps=1000, device=device
        )
        epochs, relax_fmax, min_length, mesh = 100, 1e-3, 7.0, 50.0
    else:
        dft = DFTSettings.test()
        data = TrainingDataMaker(
            protocol=SupercellProtocol.PRIMITIVE, fmax=1e-2, max_steps=200, device=device
        )
        epochs, relax_fmax, min_length, mesh = 15, 1e-2, 5.0, 8.0
    finetunes = []
    for strategy in strategies:
        update = {"max_num_epochs": epochs, "replay_file": replay_file}
        if preset is RunPreset.TEST:
            update["n_replay"] = 20
        hyper = default_settings(strategy).model_copy(update=update)
        finetunes.append(FineTuneMaker(strategy=strategy, hyperparameters=hyper, device=device))
    surrogate = None
    if distil is not None:
        surrogate = SurrogateMaker(settings=_distillation(preset, epochs), device=device)
    static_maker, relax_maker = _dft_makers(dft_engine, dft, relax_fmax)
    ml_properties = dft_properties = None
    if properties:
        search = PhaseTransitionSettings()
        if preset is RunPreset.TEST:  # bounded: untrained test models have odd instabilities
            search = PhaseTransitionSettings(
                supercell_atom_limit=16,
                grid_points={1: 7, 2: 5, 3: 3, 4: 3},
                fmax=1e-2,
                max_steps=100,
            )
        ml_properties = MLPropertiesMaker(
            fmax=relax_fmax,
            min_length=min_length,
            device=device,
            phase_transition_settings=search,
        )
        dft_properties = _dft_properties_maker(dft_engine, dft, preset, relax_fmax, min_length)
    return MaterialFlowMaker(
        training_data_maker=data,
        static_maker=static_maker,
        finetune_makers=finetunes,
        relax_maker=relax_maker,
        ml_phonon_maker=MLPhononMaker(fmax=relax_fmax, device=device),
        phonon_min_length=min_length,
        phonon_mesh=mesh,
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
    )


def _distillation(preset: RunPreset, epochs: int) -> DistillationSettings:
    """Return a preset's distillation settings: defaults at paper scale, smaller otherwise."""
    if preset is RunPreset.PAPER:
        return DistillationSettings()
    small = preset is RunPreset.TEST
    settings = DistillationSettings(
        n_structures=12 if small else 60,
        n_validation=4 if small else 10,
        min_atoms=8 if small else 32,
    )
    settings.train = settings.train.model_copy(update={"max_num_epochs": 5 if small else epochs})
    if small:  # smaller than the test suite's tiny foundations
        settings.architecture |= {"num_channels": "8"}
    return settings


def _dft_properties_maker(
    dft_engine: str, dft: DFTSettings, preset: RunPreset, relax_fmax: float, min_length: float
) -> Maker:
    """Return the DFT property suite of an engine: GPAW at the preset's settings, or VASP."""
    # thousands of DFT statics for a 3-D unstable mode: only at paper scale
    phase_transitions = preset is RunPreset.PAPER
    if dft_engine == "vasp":  # the paper's settings whatever the preset, as the VASP statics
        from mlip_finetune.dft.vasp import paper_properties_maker

        return replace(
            paper_properties_maker(), phase_transitions=phase_transitions, min_length=min_length
        )
    return DFTPropertiesMaker(
        settings=dft,
        fmax=relax_fmax,
        max_steps=200 if preset is RunPreset.PAPER else 100,
        phase_transitions=phase_transitions,
        min_length=min_length,
    )


def _dft_makers(dft_engine: str, dft: DFTSettings, relax_fmax: float) -> tuple:
    """Return the static and relax Makers of a DFT engine (errors: material_flow_maker)."""
    if dft_engine == "gpaw":
        return StaticMaker(settings=dft), RelaxMaker(settings=dft, fmax=relax_fmax)
    if dft_engine != "vasp":
        raise ValueError(f"Unknown DFT engine {dft_engine!r}: 'gpaw' or 'vasp'.")
    from mlip_finetune.dft.vasp import VaspDocumentMaker, VaspRelaxMaker

    return VaspDocumentMaker(), VaspDocumentMaker(name="vasp relax", vasp_maker=VaspRelaxMaker())
