import pytest

from mlip_finetune.data.utils import SupercellProtocol
from mlip_finetune.fitting.strategies import FineTuneStrategy
from mlip_finetune.flows.presets import RunPreset, material_flow_maker


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
    for preset in ("local", "test"):
        maker = material_flow_maker(preset, strategies=("transfer", "scratch"))
        data = maker.training_data_maker
        assert data.volume_scales == (-0.05, -0.025, 0.0, 0.025, 0.05)
        assert (data.rattle_amplitude, data.lattice_jitter, data.n_frames) == (0.1, 0.02, 4)
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
    # 4 frames per trajectory: subsets k = 0, 1, 2 per strategy; the full set is reused
    assert sorted(j.name for j in curve.jobs if j.name.startswith("finetune lora_full")) == [
        "finetune lora_full frames<=0",
        "finetune lora_full frames<=1",
        "finetune lora_full frames<=2",
    ]
    assert len(curve.jobs) == 6 * 3 + 1
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
        f"finetune {s} frames<={k}" for s in ("scratch", "transfer") for k in range(3)
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
    relax = next(j for j in flow.jobs if j.name == "vasp relax")
    assert job_kind(relax) is JobKind.DFT
    incar = maker.relax_maker.vasp_maker.input_set_generator.preset_incar
    assert incar["ENCUT"] == 520
    assert job_kind("vasp static 3/20") is JobKind.DFT
    assert job_kind("vasp static document 3/20") is JobKind.LIGHT
    assert job_kind("vasp phonon static 2/4") is JobKind.DFT
    # the DFT property suite through atomate2's VASP elastic and EOS flows
    from mlip_finetune.dft.vasp import VaspPropertiesMaker

    with_properties = material_flow_maker("paper", dft_engine="vasp", properties=True)
    assert isinstance(with_properties.dft_properties_maker, VaspPropertiesMaker)
    flow = with_properties.make(si_primitive, foundation, label="Si")
    kinds = {j.name: job_kind(j) for j, _ in flow.iterflow()}
    assert kinds["vasp properties relax 1"] is JobKind.DFT
    assert kinds["vasp eos relax deformation 10"] is JobKind.DFT
    assert kinds["vasp properties document"] is JobKind.LIGHT
    # the paper preset searches phase transitions with DFT, here with VASP (§4.6 settings)
    assert kinds["vasp phase transitions"] is JobKind.DFT
    assert with_properties.dft_properties_maker.phase_transitions
    incar = with_properties.dft_properties_maker.phase_transition_maker.input_set_generator
    assert (incar.preset_incar["ENCUT"], incar.preset_incar["EDIFF"]) == (400, 1e-7)
    assert not material_flow_maker(
        "local", dft_engine="vasp", properties=True
    ).dft_properties_maker.phase_transitions
    assert kinds["property errors"] is JobKind.LIGHT
    assert "dft properties relax" not in kinds  # no GPAW job in a VASP flow
    with pytest.raises(ValueError, match="Unknown DFT engine"):
        material_flow_maker("paper", dft_engine="abinit")
