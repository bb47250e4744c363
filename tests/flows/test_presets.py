import pytest

from mlip_finetune.data.utils import SupercellProtocol
from mlip_finetune.fitting.distillation import DistillationSettings
from mlip_finetune.fitting.strategies import FineTuneStrategy
from mlip_finetune.fitting.strategies import default_settings as default_settings_of
from mlip_finetune.flows.presets import RunPreset, material_flow_maker
from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings


def test_paper_preset_follows_the_paper():
    maker = material_flow_maker(RunPreset.PAPER)
    assert maker.training_data_maker.protocol == SupercellProtocol.LARGE
    assert maker.training_data_maker.fmax == 1e-4
    settings = maker.static_maker.settings
    assert (settings.ecut, settings.kspacing) == (520.0, 0.1)
    (ft,) = maker.finetune_makers
    assert ft.strategy is FineTuneStrategy.TRANSFER
    assert ft.hyperparameters.max_num_epochs == 200
    assert maker.phonon_min_length == 20.0


def test_local_and_test_presets_share_the_protocol():
    """Same rattle and jitter; ``test`` keeps the outer and middle volumes, 2 frames each."""
    sizes = {"local": ((-0.05, -0.025, 0.0, 0.025, 0.05), 4), "test": ((-0.05, 0.0, 0.05), 2)}
    for preset, (volume_scales, n_frames) in sizes.items():
        maker = material_flow_maker(preset, strategies=("transfer", "scratch"))
        data = maker.training_data_maker
        assert data.volume_scales == volume_scales
        assert (data.rattle_amplitude, data.lattice_jitter, data.n_frames) == (0.1, 0.02, n_frames)
        assert [m.strategy for m in maker.finetune_makers] == ["transfer", "scratch"]
        # one DFT settings object for the training statics and the reference phonons
        assert maker.relax_maker.settings == maker.static_maker.settings


def test_bad_names_fail_when_the_flow_is_built():
    with pytest.raises(ValueError, match="nope"):
        material_flow_maker("nope")
    with pytest.raises(ValueError, match="lora_of_my_dreams"):
        material_flow_maker("local", strategies=("lora_of_my_dreams",))


def test_all_strategies_with_curve_and_surrogate_build_one_flow(si_primitive, random_mace_si):
    from mlip_finetune.foundation import FoundationModel

    foundation = FoundationModel(name="tiny", path=str(random_mace_si), sha256="0" * 64)
    strategies = ("transfer", "multihead", "lora_full", "lora", "freeze", "scratch")
    maker = material_flow_maker(
        "test",
        strategies=strategies,
        replay_file="/data/replay.xyz",
        data_efficiency=True,
        distil="lora_full",
    )
    assert all(m.hyperparameters.replay_file == "/data/replay.xyz" for m in maker.finetune_makers)
    flow = maker.make(si_primitive, foundation, label="Si")
    names = [j.name for j in flow.jobs]
    for strategy in strategies:
        assert f"finetune {strategy}" in names
        assert f"ml phonons {strategy}" in names
    curve = next(j for j in flow.jobs if j.name == "data efficiency")
    # 2 frames per trajectory: the subset k = 0 per strategy; the full set is reused
    assert sorted(j.name for j in curve.jobs if j.name.startswith("finetune lora_full")) == [
        "finetune lora_full frames<=0",
    ]
    assert len(curve.jobs) == 6 * 1 + 1
    assert "distil surrogate" in names
    assert "ml phonons surrogate" in names
    with pytest.raises(ValueError, match="not among"):
        material_flow_maker("test", strategies=("transfer",), distil="scratch").make(
            si_primitive, foundation
        )


def test_curve_traces_only_the_chosen_strategies(si_primitive, random_mace_si):
    from mlip_finetune.foundation import FoundationModel

    foundation = FoundationModel(name="tiny", path=str(random_mace_si), sha256="0" * 64)
    strategies = ("transfer", "multihead", "scratch")
    maker = material_flow_maker(
        "test", strategies=strategies, data_efficiency_strategies=("transfer", "scratch")
    )
    assert maker.data_efficiency  # implied by choosing curve strategies
    flow = maker.make(si_primitive, foundation, label="Si")
    curve = next(j for j in flow.jobs if j.name == "data efficiency")
    trained = sorted(j.name for j in curve.jobs if j.name.startswith("finetune"))
    assert trained == [
        f"finetune {s} frames<={k}" for s in ("scratch", "transfer") for k in range(1)
    ]
    # the collecting job gets the two full-set models of the traced strategies only
    collect = next(j for j in curve.jobs if j.name == "data efficiency curve")
    full_set = {ref.uuid for ref in collect.input_references} - {j.uuid for j in curve.jobs}
    full_names = {j.name for j in flow.jobs if j.uuid in full_set}
    assert full_names == {"finetune transfer", "finetune scratch"}
    with pytest.raises(ValueError, match="subset of the trained strategies"):
        material_flow_maker(
            "test", strategies=("transfer",), data_efficiency_strategies=("scratch",)
        ).make(si_primitive, foundation)


def test_vasp_engine_builds_the_same_flow_with_vasp_jobs(si_primitive, random_mace_si):
    from mlip_finetune.foundation import FoundationModel
    from mlip_finetune.remote import JobKind, job_kind

    foundation = FoundationModel(name="tiny", path=str(random_mace_si), sha256="0" * 64)
    maker = material_flow_maker("paper", dft_engine="vasp")
    flow = maker.make(si_primitive, foundation, label="Si")
    names = [j.name for j in flow.jobs]
    assert "vasp relax" in names
    jobs = {j.name: j for j, _ in flow.iterflow()}
    assert job_kind(jobs["vasp relax"]) is JobKind.DFT
    assert job_kind(jobs["vasp relax document"]) is JobKind.LIGHT
    incar = maker.relax_maker.vasp_maker.input_set_generator.preset_incar
    assert incar["ENCUT"] == 520
    # the statics the fan-outs create at run time: VASP on a CPU node, the conversion light
    for fan_out, static in (
        ("dft statics", "vasp static"),
        ("dft phonon statics", "vasp phonon static"),
    ):
        job = jobs[fan_out]
        children = job.function([si_primitive] * 4, **job.function_kwargs).replace
        kinds = {j.name: job_kind(j) for j, _ in children.iterflow()}
        assert kinds[f"{static} 3/4"] is JobKind.DFT
        assert kinds[f"{static} document 3/4"] is JobKind.LIGHT
    # the DFT property suite through atomate2's VASP elastic and EOS flows
    from mlip_finetune.evaluation.vasp_properties import VaspPropertiesMaker

    with_properties = material_flow_maker("paper", dft_engine="vasp", properties=True)
    assert isinstance(with_properties.dft_properties_maker, VaspPropertiesMaker)
    flow = with_properties.make(si_primitive, foundation, label="Si")
    kinds = {j.name: job_kind(j) for j, _ in flow.iterflow()}
    assert kinds["vasp properties relax 1"] is JobKind.DFT
    assert kinds["vasp eos relax deformation 10"] is JobKind.DFT
    assert kinds["vasp properties document"] is JobKind.LIGHT
    # the paper preset searches phase transitions with DFT, here with VASP (§4.6 settings)
    assert kinds["vasp phase transitions"] is JobKind.DFT
    vasp_settings = with_properties.dft_properties_maker.property_settings
    assert vasp_settings.phase_transitions
    assert vasp_settings.min_length == with_properties.phonon_min_length == 20.0
    incar = with_properties.dft_properties_maker.phase_transition_maker.input_set_generator
    assert (incar.preset_incar["ENCUT"], incar.preset_incar["EDIFF"]) == (400, 1e-7)
    local = material_flow_maker("local", dft_engine="vasp", properties=True)
    assert not local.dft_properties_maker.property_settings.phase_transitions
    assert local.dft_properties_maker.property_settings.min_length == 7.0
    assert kinds["property errors"] is JobKind.LIGHT
    assert "dft properties relax" not in kinds  # no GPAW job in a VASP flow
    with pytest.raises(ValueError, match="Unknown DFT engine"):
        material_flow_maker("paper", dft_engine="abinit")


def test_every_preset_and_dft_code_has_one_registry_entry():
    from mlip_finetune.dft.engines import DFTCode
    from mlip_finetune.flows.presets import DFT_ENGINES, PRESETS, dft_engine_makers

    assert set(PRESETS) == set(RunPreset)
    assert set(DFT_ENGINES) == set(DFTCode)
    assert dft_engine_makers("gpaw") is DFT_ENGINES[DFTCode.GPAW]
    assert dft_engine_makers(DFTCode.VASP) is DFT_ENGINES[DFTCode.VASP]
    with pytest.raises(ValueError, match=r"^Unknown DFT engine 'abinit': 'gpaw' or 'vasp'\.$"):
        material_flow_maker("test", dft_engine="abinit")


@pytest.mark.parametrize(
    ("preset", "epochs", "fmax", "min_length", "mesh"),
    [
        ("paper", 200, 5e-4, 20.0, 50.0),
        ("local", 100, 1e-3, 7.0, 50.0),
        ("test", 15, 1e-2, 5.0, 8.0),
    ],
)
def test_preset_sizes(preset, epochs, fmax, min_length, mesh):
    maker = material_flow_maker(preset, strategies=("multihead",), distil="multihead")
    (ft,) = maker.finetune_makers
    assert ft.hyperparameters.max_num_epochs == epochs
    assert maker.relax_maker.fmax == fmax
    assert maker.ml_phonon_maker.fmax == fmax
    assert (maker.phonon_min_length, maker.phonon_mesh) == (min_length, mesh)
    default_replay = default_settings_of("multihead").n_replay
    assert ft.hyperparameters.n_replay == (20 if preset == "test" else default_replay)
    distil = maker.surrogate_maker.settings
    if preset == "paper":
        assert distil == DistillationSettings()
    else:
        sizes = {"local": (60, 10, 32, epochs), "test": (12, 4, 8, 5)}[preset]
        assert (
            distil.n_structures,
            distil.n_validation,
            distil.min_atoms,
            distil.train.max_num_epochs,
        ) == sizes
        assert (distil.architecture.get("num_channels") == "8") is (preset == "test")


def test_property_suites_by_preset():
    test = material_flow_maker("test", properties=True)
    search = test.ml_properties_maker.property_settings.phase_transition_settings
    assert search.supercell_atom_limit == 16
    assert search.grid_points == {1: 7, 2: 5, 3: 3, 4: 3}
    for preset, steps, dft_search in (("paper", 200, True), ("local", 100, False)):
        maker = material_flow_maker(preset, properties=True)
        props = maker.dft_properties_maker.property_settings
        assert (props.max_steps, props.phase_transitions) == (steps, dft_search), preset
        assert props.min_length == maker.phonon_min_length
        assert maker.dft_properties_maker.settings == maker.static_maker.settings
        ml = maker.ml_properties_maker.property_settings
        assert (ml.fmax, ml.min_length) == (maker.relax_maker.fmax, maker.phonon_min_length)
        assert ml.phase_transition_settings == PhaseTransitionSettings()
