"""The door of a material flow: MaterialFlowMaker.make() refuses bad inputs when the Flow is
built, each with its own error; random inputs never raise anything but a project error."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlip_finetune.core.errors import MlipFinetuneError
from mlip_finetune.core.validation import AtomsTooCloseError, PartialOccupancyError
from mlip_finetune.dft.engines import DFTElementError
from mlip_finetune.flows.material import MaterialFlowMaker
from mlip_finetune.flows.presets import PRESETS, RunPreset, material_flow_maker
from mlip_finetune.flows.validation import (
    DFTSizeError,
    check_dft_elements,
    dft_workload,
    jobs_by_stage,
    validate_material,
)
from mlip_finetune.foundation import FoundationModel
from mlip_finetune.foundation.elements import InvalidModelFileError, UnsupportedElementError
from mlip_finetune.schemas.jobs import Stage
from tests.core.test_validation import structures


@pytest.fixture(scope="module")
def tiny_foundation(random_mace_si):
    return FoundationModel(name="tiny", path=str(random_mace_si), sha256="0" * 64)


@pytest.fixture
def standin_placeholder(tmp_path):
    """A stand-in that is not built yet (what ``run --dry-run`` uses)."""
    return FoundationModel(
        name="standin", path=str(tmp_path / "standin.model"), sha256="0" * 64, is_standin=True
    )


def test_workload_of_si_at_preset_test(si_primitive, tiny_foundation):
    maker = material_flow_maker("test")
    workload = validate_material(si_primitive, tiny_foundation, maker)
    assert len(workload.unit_cell) == 2
    (training,) = workload.by_stage(Stage.DFT_STATICS)
    assert (training.n_calculations, training.n_atoms) == (6, 2)  # 3 volumes × 2 frames
    relax, displacements = workload.by_stage(Stage.DFT_PHONONS)
    assert (relax.n_calculations, relax.n_atoms) == (1, 2)
    assert displacements.n_calculations == 1  # diamond: one symmetry-reduced displacement
    assert workload.max_atoms == displacements.n_atoms <= PRESETS[RunPreset.TEST].max_dft_atoms


def test_workload_counts_the_dft_property_suite(si_primitive, tiny_foundation):
    """The dry run's count includes the property suite: the relaxation, 7 EOS volumes and
    diamond's 3 symmetry-inequivalent strains (the "dft elastic i/3" jobs of a real run)."""
    assert not dft_workload(si_primitive, material_flow_maker("test")).by_stage(Stage.PROPERTIES)
    maker = material_flow_maker("test", properties=True)
    relax, points = validate_material(si_primitive, tiny_foundation, maker).by_stage(
        Stage.PROPERTIES
    )
    assert relax.text == "property relaxation (unit cell): 1 × 2 atoms"
    assert points.text == "EOS and elastic fixed-cell relaxations: 10 × 2 atoms"


def test_training_statics_follow_the_data_maker(si_primitive):
    maker = material_flow_maker("local")
    maker.training_data_maker.n_frames = 3
    maker.training_data_maker.volume_scales = (-0.05, 0.0, 0.05)
    (training,) = dft_workload(si_primitive, maker).by_stage(Stage.DFT_STATICS)
    assert training.n_calculations == 9
    assert training.n_atoms == 8  # the small protocol's cubic cell of diamond Si


def test_presets_limit_dft_atoms():
    assert PRESETS[RunPreset.TEST].max_dft_atoms < PRESETS[RunPreset.LOCAL].max_dft_atoms
    assert PRESETS[RunPreset.PAPER].max_dft_atoms is None
    maker = material_flow_maker("test")
    assert (maker.max_dft_atoms, maker.preset) == (PRESETS[RunPreset.TEST].max_dft_atoms, "test")
    assert MaterialFlowMaker().max_dft_atoms is None


def test_make_refuses_a_cell_too_big_for_the_preset(si_primitive, tiny_foundation):
    maker = material_flow_maker("test")
    maker.max_dft_atoms = 4  # Si's 8-atom phonon supercell is too big now
    with pytest.raises(DFTSizeError) as info:
        maker.make(si_primitive, tiny_foundation)
    message = str(info.value)
    assert "too big for preset test (at most 4 atoms per DFT static)" in message
    assert "training statics (primitive cell): 6 × 2 atoms" in message
    assert "phonon displacement statics: 1 × 8 atoms" in message
    assert "Use --preset test (at most 64 atoms per static; 8 here)" in message
    assert "paper (no limit)" in message


def test_a_one_atom_cell_trains_on_a_cell_with_forces(tiny_foundation):
    """The primitive protocol of a one-atom crystal uses a cell whose rattle has forces."""
    from pymatgen.core import Lattice, Structure

    simple_cubic = Structure(Lattice.cubic(2.6), ["Si"], [[0, 0, 0]])
    maker = material_flow_maker("test")  # the primitive protocol
    maker.make(simple_cubic, tiny_foundation)  # accepted: no refusal for a valid crystal
    workload = validate_material(simple_cubic, tiny_foundation, maker)
    assert workload.batches[0].n_atoms == 2


def test_make_refuses_partial_occupancies(si_primitive, tiny_foundation):
    alloy = si_primitive.copy()
    alloy.replace(0, {"Si": 0.5, "Ge": 0.5})
    with pytest.raises(PartialOccupancyError, match="OrderDisorderedStructureTransformation"):
        material_flow_maker("test").make(alloy, tiny_foundation)


def test_make_refuses_atoms_too_close(si_primitive, tiny_foundation):
    close = si_primitive.copy()
    close.translate_sites([1], close[0].coords - close[1].coords + [0.11, 0, 0], frac_coords=False)
    with pytest.raises(AtomsTooCloseError, match=r"0\.110 Å apart"):
        material_flow_maker("test").make(close, tiny_foundation)


def test_make_refuses_elements_the_foundation_lacks(si_primitive, tiny_foundation):
    ge = si_primitive.copy()
    ge.replace_species({"Si": "Ge"})
    with pytest.raises(UnsupportedElementError, match="no parameters for Ge"):
        material_flow_maker("test").make(ge, tiny_foundation)


def test_make_refuses_what_the_standin_teacher_lacks(si_primitive, standin_placeholder):
    og = si_primitive.copy()
    og.replace_species({"Si": "Og"})
    og.scale_lattice(og.volume * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen has little data on Og
        with pytest.raises(UnsupportedElementError, match="teacher CHGNet"):
            material_flow_maker("test").make(og, standin_placeholder)


def test_make_refuses_a_corrupt_model_file(si_primitive, tmp_path):
    corrupt = tmp_path / "corrupt.model"
    corrupt.write_bytes(bytes(range(256)) * 4)
    foundation = FoundationModel(name="corrupt", path=str(corrupt), sha256="0" * 64)
    with pytest.raises(InvalidModelFileError, match=r"corrupt\.model is not a loadable MACE"):
        material_flow_maker("test").make(si_primitive, foundation)


def test_make_refuses_elements_without_paw_setups(si_primitive, standin_placeholder):
    pytest.importorskip("gpaw")
    tc = si_primitive.copy()
    tc.replace_species({"Si": "Tc"})  # gpaw-data has no Tc setup
    with pytest.raises(DFTElementError, match=r"gpaw cannot compute Tc \(Tc: no PAW setup Tc"):
        material_flow_maker("test").make(tc, standin_placeholder)


def test_vasp_elements_come_from_the_potcar_mapping(si_primitive):
    og = si_primitive.copy()
    og.replace_species({"Si": "Og"})
    maker = material_flow_maker("test", dft_engine="vasp")
    with pytest.raises(DFTElementError, match="vasp cannot compute Og"):
        check_dft_elements(og, maker)
    check_dft_elements(si_primitive, maker)


def test_a_test_double_for_dft_is_not_checked(si_primitive, tiny_foundation):
    from tests.flows.conftest import ModelStaticMaker

    og = si_primitive.copy()
    og.replace_species({"Si": "Og"})
    maker = MaterialFlowMaker(static_maker=ModelStaticMaker(model_path="x"))
    check_dft_elements(og, maker)  # engine "mace": nothing to check


def test_jobs_by_stage(si_primitive, tiny_foundation):
    flow = material_flow_maker("test", strategies=("transfer", "scratch")).make(
        si_primitive, tiny_foundation
    )
    stages = jobs_by_stage(flow)
    assert list(stages) == [
        "data",
        "dft statics",
        "finetune",
        "dft phonons",
        "ml phonons",
        "report",
    ]
    assert stages["finetune"] == ["finetune transfer", "finetune scratch"]
    assert "dft phonon statics" in stages["dft phonons"]


# --- property-based: make() accepts a random input or refuses it with a project error ------


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    structure=st.one_of(
        structures(elements=("Si", "Si", "Si", "Ge", "Og"), max_sites=4),
        structures(elements=("Si",), max_sites=2, plausible=True),
    ),
)
def test_make_never_crashes(structure, tiny_foundation):
    if structure is None:
        return
    maker = material_flow_maker("test")
    flow = error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            flow = maker.make(structure, tiny_foundation)
        except MlipFinetuneError as exc:  # any other exception fails the test
            error = exc
    if error is not None:
        assert str(error)
        assert "\n" not in str(error)  # one line
    else:
        assert flow.jobs
