"""VASP through atomate2 with the paper's settings, tested with the fake of vasp_fake.py.

The fake answers VASP jobs with committed reference outputs built from real GPAW runs
(``python -m tests.test_data.vasp.make_reference``), or live from an ASE calculator; no
VASP, custodian or POTCAR is needed.
"""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Kpoints, Outcar, Vasprun

from mlip_finetune.dft.jobs import fan_out_statics
from mlip_finetune.dft.vasp import (
    PaperRelaxSetGenerator,
    PaperStaticSetGenerator,
    VaspDocumentMaker,
    VaspRelaxMaker,
    VaspStaticMaker,
    kspacing_from_inverse_length,
    paper_elastic_maker,
    paper_eos_maker,
    paper_phonon_maker,
    phase_transition_static_maker,
    site_order,
    vasp_stress_to_gpa,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.units import EV_PER_A3_TO_GPA
from tests.dft.vasp_fake import (
    PAPER_RELAX_TAGS,
    PAPER_STATIC_TAGS,
    REFERENCE_DIR,
    VaspInputDriftError,
    check_paper_inputs,
    fake_vasp,
    reference,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: The complete INCAR of a paper static, written out from the paper (§4.1) and the
#: choices documented in mlip_finetune.dft.vasp; any other tag is drift.
PAPER_STATIC_INCAR = {
    "ALGO": "Normal",
    "EDIFF": 1e-8,
    "ENCUT": 520.0,
    "GGA": "Pe",
    "IBRION": -1,
    "ISIF": 2,
    "ISMEAR": 0,
    "ISPIN": 1,
    "ISYM": 0,
    "LAECHG": False,
    "LASPH": True,
    "LCHARG": False,
    "LELF": False,
    "LREAL": False,
    "LVTOT": False,
    "LWAVE": False,
    "NELM": 200,
    "NSW": 0,
    "PREC": "Accurate",
    "SIGMA": 0.05,
}


def si2(a: float) -> Structure:
    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])
    return conv.get_primitive_structure()


def input_structure(case: str) -> Structure:
    return Structure.from_dict(reference(case)["input_structure"])


def run(flow, tmp_path, monkeypatch, registrations):
    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        for job_name, case, tags in registrations:
            fake.register(job_name, case, tags)
        responses = run_locally(flow, create_folders=True, raise_immediately=True)
    return responses, fake


# --- presets -------------------------------------------------------------------------------


def test_static_inputs_are_exactly_the_papers(tmp_path):
    vis = PaperStaticSetGenerator().get_input_set(si2(5.30), potcar_spec=True)
    assert dict(vis.incar) == PAPER_STATIC_INCAR
    # Γ-centred 0.1 Å⁻¹ mesh with VASP's 2π: |b| = √3/a for fcc → ceil(2π√3/0.53) = 21.
    assert vis.kpoints.style == Kpoints.supported_modes.Gamma
    assert list(vis.kpoints.kpts[0]) == [21, 21, 21]
    assert vis["POTCAR.spec"].split() == ["Si"]
    vis.write_input(tmp_path)
    check_paper_inputs(tmp_path, PAPER_STATIC_TAGS)  # the fake accepts them


def test_mesh_follows_the_cell():
    cubic = Structure(Lattice.cubic(5.30), ["Si"], [[0, 0, 0]])
    vis = PaperStaticSetGenerator().get_input_set(cubic, potcar_spec=True)
    assert list(vis.kpoints.kpts[0]) == [12, 12, 12]  # ceil(2π / (5.30 · 0.1)) = 12
    supercell = cubic * (4, 4, 4)  # 21.2 Å
    vis = PaperStaticSetGenerator().get_input_set(supercell, potcar_spec=True)
    assert list(vis.kpoints.kpts[0]) == [3, 3, 3]
    # the same spacing given without the 2π is 2π·0.1 in VASP's convention
    generator = PaperStaticSetGenerator(kspacing=kspacing_from_inverse_length(0.1))
    assert list(generator.get_input_set(supercell, potcar_spec=True).kpoints.kpts[0]) == [1, 1, 1]


def test_relax_inputs():
    vis = PaperRelaxSetGenerator().get_input_set(si2(5.30), potcar_spec=True)
    incar = dict(vis.incar)
    expected = {k: v for k, v in PAPER_STATIC_INCAR.items() if k != "ISYM"}
    expected |= {"IBRION": 2, "ISIF": 3, "NSW": 99, "EDIFFG": -5e-4}
    assert incar == expected
    assert list(vis.kpoints.kpts[0]) == [21, 21, 21]


def test_phase_transition_preset_differs_only_in_ediff_and_encut():
    structure = si2(5.30)
    paper = dict(
        VaspStaticMaker().input_set_generator.get_input_set(structure, potcar_spec=True).incar
    )
    maker = phase_transition_static_maker()
    phase = dict(maker.input_set_generator.get_input_set(structure, potcar_spec=True).incar)
    assert set(paper) == set(phase)
    assert {k for k in paper if paper[k] != phase[k]} == {"EDIFF", "ENCUT"}
    assert (phase["EDIFF"], phase["ENCUT"]) == (1e-7, 400.0)
    assert "vasp" in maker.name


def test_paper_phonon_maker_settings():
    maker = paper_phonon_maker()
    assert maker.min_length == 20.0
    assert maker.prefer_90_degrees
    assert maker.born_maker is None
    assert "vasp" in maker.phonon_displacement_maker.name
    supercell = Structure(Lattice.cubic(5.30), ["Si"], [[0, 0, 0]]) * (4, 4, 4)
    generator = maker.phonon_displacement_maker.input_set_generator
    vis = generator.get_input_set(supercell, potcar_spec=True)
    assert dict(vis.incar) == PAPER_STATIC_INCAR
    assert vis.kpoints.style == Kpoints.supported_modes.Gamma
    assert list(vis.kpoints.kpts[0]) == [1, 1, 1]


def _written_inputs(maker, structure, directory):
    """Write a maker's VASP inputs for ``structure`` (POTCAR.spec, no licensed POTCARs)."""
    from atomate2.vasp.files import write_vasp_input_set

    directory.mkdir()
    write_vasp_input_set(structure, maker.input_set_generator, directory, potcar_spec=True)
    return directory


def test_paper_elastic_maker_settings(tmp_path, si_primitive):
    maker = paper_elastic_maker()
    # deformed cells: positions relaxed at fixed cell to 1 meV/Å (paper §4.1)
    deformed = _written_inputs(maker.elastic_relax_maker, si_primitive, tmp_path / "deformed")
    check_paper_inputs(deformed, PAPER_RELAX_TAGS | {"ISIF": 2, "EDIFFG": -1e-3})
    # the bulk relaxation is the paper's full relaxation to 0.5 meV/Å, twice
    bulk = maker.bulk_relax_maker.relax_maker1
    check_paper_inputs(_written_inputs(bulk, si_primitive, tmp_path / "bulk"), PAPER_RELAX_TAGS)
    assert maker.bulk_relax_maker.relax_maker2 is not None
    with pytest.raises(VaspInputDriftError, match="EDIFFG"):
        check_paper_inputs(deformed, PAPER_RELAX_TAGS | {"ISIF": 2})  # 0.5 meV/Å is not 1
    from mlip_finetune.remote import JobKind, job_kind

    kinds = {job.name: job_kind(job) for job, _ in maker.make(si_primitive).iterflow()}
    assert kinds["vasp relax 1"] == kinds["vasp relax 2"] == JobKind.DFT
    assert kinds["fit_elastic_tensor"] == JobKind.LIGHT
    # the deformed-cell relaxations are created at run time, named by atomate2 "... i/N"
    assert job_kind("vasp elastic relax 3/6") == JobKind.DFT


def test_paper_eos_maker_volumes_and_settings(tmp_path, si_primitive):
    maker = paper_eos_maker()
    strains = np.linspace(*maker.linear_strain, maker.number_of_frames)
    volumes = (1 + strains) ** 3 - 1  # evenly spaced linear strains: volumes within 0.1 %
    np.testing.assert_allclose(volumes[[0, -1]], [-0.05, 0.05], atol=1e-12)
    np.testing.assert_allclose(volumes, np.linspace(-0.05, 0.05, 11), atol=1e-3)
    point = _written_inputs(maker.eos_relax_maker, si_primitive, tmp_path / "point")
    check_paper_inputs(point, PAPER_RELAX_TAGS | {"ISIF": 4})  # fixed volume
    from mlip_finetune.remote import JobKind, job_kind

    kinds = {job.name: job_kind(job) for job, _ in maker.make(si_primitive).iterflow()}
    points = [name for name in kinds if name.startswith("vasp eos relax deformation")]
    assert len(points) == 11
    assert {kinds[name] for name in points} == {JobKind.DFT}  # to the CPU worker
    assert kinds["vasp eos postprocessing"] == JobKind.LIGHT


# --- conversions ---------------------------------------------------------------------------


def test_vasp_stress_sign_and_units():
    # VASP: a compressed cell has a positive pressure of 10 kBar = 1 GPa.
    compressed = np.diag([10.0, 10.0, 10.0])
    np.testing.assert_allclose(vasp_stress_to_gpa(compressed), -np.eye(3))
    with pytest.raises(ValueError, match="3, 3"):
        vasp_stress_to_gpa([1.0, 2.0, 3.0])


def test_site_order_maps_vasp_order_back():
    lattice = Lattice.cubic(5.5)
    caller = Structure(lattice, ["Cl", "Na", "Na"], [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0.0, 0.0]])
    vasp = Structure(lattice, ["Na", "Na", "Cl"], [[0.5, 0.0, 0.0], [1.0, 0, 0], [0.5, 0.5, 0.5]])
    assert site_order(caller, vasp) == [2, 1, 0]
    moved = vasp.copy()
    moved.translate_sites([2], [0.01, 0, 0], frac_coords=True)
    with pytest.raises(ValueError, match=r"Site 0 \(Cl"):
        site_order(caller, moved)


@pytest.mark.parametrize("case", ["si2_static", "nacl_static", "si2_relax"])
def test_committed_outputs_parse_to_the_gpaw_numbers(case):
    """pymatgen reads the written vasprun.xml/OUTCAR back to the GPAW numbers."""
    ref = reference(case)
    vasprun = Vasprun(REFERENCE_DIR / case / "outputs" / "vasprun.xml", parse_potcar_file=False)
    final = vasprun.ionic_steps[-1]
    assert len(vasprun.ionic_steps) == ref["n_steps"] + 1
    assert vasprun.final_energy == pytest.approx(ref["energy_ev"], abs=1e-9)
    assert final["e_fr_energy"] == pytest.approx(ref["free_energy_ev"], abs=1e-9)
    np.testing.assert_allclose(final["forces"], ref["forces_ev_per_a"], atol=1e-11)
    np.testing.assert_allclose(-0.1 * np.asarray(final["stress"]), ref["stress_gpa"], atol=1e-10)
    assert vasprun.converged
    assert list(vasprun.kpoints.kpts[0]) == ref["gpaw_kpoints"]
    outcar = Outcar(REFERENCE_DIR / case / "outputs" / "OUTCAR")
    assert outcar.final_energy == pytest.approx(ref["energy_ev"], abs=1e-9)


# --- the fake ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generator", "tag"),
    [
        (
            PaperStaticSetGenerator(user_incar_settings={"ENCUT": 500}),
            "ENCUT: expected 520.0, got 500",
        ),
        (PaperStaticSetGenerator(user_incar_settings={"ISYM": 2}), "ISYM: expected 0, got 2"),
        (PaperStaticSetGenerator(kspacing=0.2), "KPOINTS: expected a Γ-centred [21, 21, 21]"),
        (PaperStaticSetGenerator(user_potcar_functional="PBE_52"), "POTCAR functional"),
        # not a paper tag, but different from the committed reference INCAR
        (
            PaperStaticSetGenerator(user_incar_settings={"NELM": 100}),
            "NELM: reference INCAR has 200",
        ),
    ],
)
def test_fake_rejects_drift_from_the_paper(generator, tag, tmp_path, monkeypatch):
    maker = VaspDocumentMaker(vasp_maker=VaspStaticMaker(input_set_generator=generator))
    flow = maker.make(input_structure("si2_static"))
    with pytest.raises(VaspInputDriftError) as error:
        run(flow, tmp_path, monkeypatch, [("vasp static", "si2_static", PAPER_STATIC_TAGS)])
    assert tag in str(error.value)


# --- runs through the fake -----------------------------------------------------------------


@pytest.mark.parametrize("case", ["si2_static", "nacl_static"])
def test_vasp_static_gives_the_reference_document(case, tmp_path, monkeypatch):
    ref = reference(case)
    structure = input_structure(case)
    flow = VaspDocumentMaker(manager_config={"worker": "cpu"}).make(
        structure, label="frame 3", metadata={"index": 3}
    )
    vasp_job, convert = flow.jobs
    assert vasp_job.name == "vasp static"
    assert vasp_job.metadata == {"kind": "dft", "engine": "vasp"}
    assert vasp_job.config.manager_config == {"worker": "cpu"}
    assert convert.metadata["kind"] == "postprocess"

    responses, fake = run(flow, tmp_path, monkeypatch, [("vasp static", case, PAPER_STATIC_TAGS)])
    assert [call["case"] for call in fake.calls] == [case]
    doc = responses[flow.output.uuid][1].output
    assert isinstance(doc, StaticDocument)
    assert doc.engine == "vasp"
    assert doc.energy == pytest.approx(ref["energy_ev"], abs=1e-9)
    np.testing.assert_allclose(doc.forces, ref["forces_ev_per_a"], atol=1e-10)
    np.testing.assert_allclose(doc.stress, ref["stress_gpa"], atol=1e-9)
    assert doc.structure == structure
    assert doc.kpoints == ref["gpaw_kpoints"]  # the mesh the numbers came from
    assert doc.converged
    assert doc.label == "frame 3"
    assert doc.metadata["index"] == 3
    assert doc.settings["incar"]["ENCUT"] == 520.0
    assert doc.settings["run_type"] == "PBE"

    # The TaskDoc stays the VASP job's output, in VASP's kBar and sign.
    task = responses[vasp_job.uuid][1].output
    assert task.task_label == "vasp static"
    vasp_stress = np.asarray(task.output.stress)
    np.testing.assert_allclose(np.asarray(doc.stress), -0.1 * vasp_stress, atol=1e-12)
    if case == "si2_static":  # compressed cell: VASP pressure > 0, our stress < 0 (tensile > 0)
        assert np.all(np.diag(vasp_stress) > 0)
        assert np.all(np.diag(doc.stress) < 0)


def test_vasp_relax_gives_the_relaxed_document(tmp_path, monkeypatch):
    ref = reference("si2_relax")
    maker = VaspDocumentMaker(name="vasp relax", vasp_maker=VaspRelaxMaker())
    flow = maker.make(input_structure("si2_relax"))
    responses, _ = run(flow, tmp_path, monkeypatch, [("vasp relax", "si2_relax", PAPER_RELAX_TAGS)])
    doc = responses[flow.output.uuid][1].output
    final = Structure.from_dict(ref["final_structure"])
    np.testing.assert_allclose(doc.structure.lattice.matrix, final.lattice.matrix, atol=1e-9)
    np.testing.assert_allclose(doc.structure.cart_coords, final.cart_coords, atol=1e-9)
    assert doc.structure.volume > input_structure("si2_relax").volume  # the compressed cell grew
    assert doc.energy == pytest.approx(ref["energy_ev"], abs=1e-9)
    np.testing.assert_allclose(doc.forces, ref["forces_ev_per_a"], atol=1e-10)
    np.testing.assert_allclose(doc.stress, ref["stress_gpa"], atol=1e-9)
    assert doc.metadata["n_steps"] == ref["n_steps"] + 1
    assert doc.metadata["relax_converged"]
    assert doc.metadata["fmax"] == pytest.approx(5e-4)
    assert doc.metadata["relax_cell"]


def test_fan_out_statics_accepts_the_vasp_maker(tmp_path, monkeypatch):
    """The GPAW fan-out runs VASP unchanged: one [vasp static, document] flow per frame."""
    fan_out = fan_out_statics([input_structure("si2_static")], static_maker=VaspDocumentMaker())
    responses, _ = run(
        fan_out, tmp_path, monkeypatch, [("vasp static", "si2_static", PAPER_STATIC_TAGS)]
    )
    docs = [r[1].output for r in responses.values() if isinstance(r[1].output, StaticDocument)]
    assert len(docs) == 1
    assert docs[0].label == "vasp static 1/1"
    assert docs[0].metadata == {"index": 0, "n_structures": 1} | {
        k: docs[0].metadata[k] for k in ("vasp_task_label", "vasp_dir_name", "vasp_calc_type")
    }
    assert docs[0].energy == pytest.approx(reference("si2_static")["energy_ev"], abs=1e-9)


def test_document_maker_needs_a_vasp_maker():
    with pytest.raises(TypeError, match="atomate2 VASP maker"):
        VaspDocumentMaker(vasp_maker=object()).make(si2(5.43))


@pytest.mark.dft
def test_reference_matches_a_fresh_gpaw_run(tmp_path):
    """The committed numbers are what GPAW gives today for the same structure and settings."""
    from mlip_finetune.dft.engines import get_engine
    from mlip_finetune.dft.settings import DFTSettings

    ref = reference("si2_static")
    settings = DFTSettings.model_validate(ref["gpaw_settings"])
    result = get_engine("gpaw").run_static(input_structure("si2_static"), settings, tmp_path)
    assert result.kpoints == ref["gpaw_kpoints"]
    assert result.energy == pytest.approx(ref["energy_ev"], abs=1e-5)
    np.testing.assert_allclose(result.forces, ref["forces_ev_per_a"], atol=1e-4)
    np.testing.assert_allclose(result.stress * EV_PER_A3_TO_GPA, ref["stress_gpa"], atol=5e-3)


# --- the VASP property suite (EOS, elastic tensor, Slack) ----------------------------------

#: Paper §4.1 strained cells: positions at fixed cell to 1 meV/Å; EOS points at fixed volume.
ELASTIC_TAGS = PAPER_RELAX_TAGS | {"ISIF": 2, "EDIFFG": -1e-3}
EOS_TAGS = PAPER_RELAX_TAGS | {"ISIF": 4}
N_ELASTIC, N_EOS = 6, 11  # atomate2's symmetry-reduced strains of diamond; −5 … +5 %


def property_registrations():
    """Job name → case of the Si2 chain written by make_reference.py's property_chain."""
    relax = [
        (f"vasp properties relax {i}", f"si2_props_relax{i}", PAPER_RELAX_TAGS) for i in (1, 2)
    ]
    elastic = [
        (f"vasp elastic relax {i}/{N_ELASTIC}", f"si2_props_elastic_{i}", ELASTIC_TAGS)
        for i in range(1, N_ELASTIC + 1)
    ]
    eos = [
        (f"vasp eos relax deformation {i}", f"si2_props_eos_{i}", EOS_TAGS) for i in range(N_EOS)
    ]
    return relax + elastic + eos


@pytest.fixture(scope="module")
def vasp_properties(tmp_path_factory):
    """Run paper_properties_maker on Si2 through the fake once; (document, outputs, fake)."""
    from mlip_finetune.dft.vasp import paper_properties_maker

    flow = paper_properties_maker().make(input_structure("si2_props_relax1"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        responses, fake = run(
            flow, tmp_path_factory.mktemp("vasp_props"), monkeypatch, property_registrations()
        )
    outputs = [r[1].output for r in responses.values() if 1 in r]
    return responses[flow.output.uuid][1].output, outputs, fake


def test_property_suite_runs_every_vasp_job_with_the_papers_inputs(vasp_properties):
    doc, _, fake = vasp_properties
    # every VASP job was answered, after its INCAR/KPOINTS/POSCAR cell/POTCAR passed the
    # paper's rules (the fake raises otherwise)
    assert sorted(call["job"] for call in fake.calls) == sorted(
        name for name, _, _ in property_registrations()
    )
    assert doc.label == "dft"
    assert doc.engine == "vasp"
    assert doc.relaxed
    assert doc.relax_converged
    assert doc.dft_settings["incar"]["ENCUT"] == 520.0
    assert doc.failures == {}
    assert doc.elastic.fmax == pytest.approx(1e-3)
    assert doc.phase_transitions is None


def test_property_suite_eos_is_the_reference_energies(vasp_properties):
    doc, outputs, _ = vasp_properties
    energies = [reference(f"si2_props_eos_{i}")["energy_ev"] for i in range(N_EOS)]
    n_atoms = len(input_structure("si2_props_relax1"))
    np.testing.assert_allclose(doc.eos.energies, np.array(energies) / n_atoms, atol=1e-9)
    # atomate2 spaces linear strains evenly: the volumes span −5 … +5 % of the relaxed cell
    np.testing.assert_allclose(doc.eos.volume_strains[0], -0.05, atol=1e-9)
    np.testing.assert_allclose(doc.eos.volume_strains[-1], 0.05, atol=1e-9)
    # our Birch–Murnaghan fit agrees with atomate2's on the same points
    atomate2_eos = next(o for o in outputs if isinstance(o, dict) and "EOS" in o.get("relax", {}))
    b0_atomate2 = atomate2_eos["relax"]["EOS"]["birch_murnaghan"]["b0 GPa"]
    assert doc.eos.b0 == pytest.approx(b0_atomate2, rel=5e-3)


def test_property_suite_elastic_tensor_is_atomate2s_and_cubic(vasp_properties):
    from atomate2.common.schemas.elastic import ElasticDocument

    doc, outputs, _ = vasp_properties
    atomate2_elastic = next(o for o in outputs if isinstance(o, ElasticDocument))
    c = np.array(doc.elastic.elastic_tensor_raw)
    np.testing.assert_allclose(c, atomate2_elastic.elastic_tensor.raw, atol=1e-6)
    # diamond Si: cubic tensor, Born-stable (C11 > |C12|, C11 + 2 C12 > 0, C44 > 0)
    c11, c12, c44 = np.mean(np.diag(c)[:3]), c[0, 1], c[3, 3]
    np.testing.assert_allclose(np.diag(c)[:3], c11, rtol=1e-2)
    np.testing.assert_allclose([c[0, 2], c[1, 2]], c12, rtol=2e-2)
    np.testing.assert_allclose(np.diag(c)[3:], c44, rtol=1e-2)
    assert c11 > abs(c12)
    assert c11 + 2 * c12 > 0
    assert c44 > 0
    assert doc.elastic.elastically_stable
    # two independent routes to the bulk modulus agree: EOS curvature and (C11 + 2 C12)/3
    assert doc.elastic.k_vrh == pytest.approx((c11 + 2 * c12) / 3, rel=1e-3)
    assert doc.elastic.k_vrh == pytest.approx(doc.eos.b0, rel=0.05)
    # PBE silicon: B ≈ 88 GPa (the local-preset GPAW suite gives 88.8); 250 eV here
    assert 75 < doc.eos.b0 < 100
    assert doc.slack.bulk_modulus == pytest.approx(doc.elastic.k_vrh)


@pytest.mark.dft
def test_property_suite_agrees_with_the_gpaw_suite(vasp_properties, tmp_path, monkeypatch):
    """Same numbers, two protocols: atomate2's VASP flows on GPAW outputs vs our GPAW suite.

    The fake's outputs are GPAW at the settings in their reference.json; DFTPropertiesMaker
    runs GPAW itself at those settings, with its own EOS volumes (exact 1 % steps) and
    relaxations. The moduli must agree to well within the paper's error bars.
    """
    from mlip_finetune.dft.settings import DFTSettings
    from mlip_finetune.evaluation.jobs import DFTPropertiesMaker
    from mlip_finetune.evaluation.metrics import compare_properties
    from mlip_finetune.report.tables import as_json_dict, properties_table

    vasp_doc, _, _ = vasp_properties
    monkeypatch.chdir(tmp_path)
    chain = reference("si2_props_relax1")  # the GPAW settings the fake's outputs were made with
    settings = DFTSettings.model_validate(chain["gpaw_settings"])
    flow = DFTPropertiesMaker(settings=settings, fmax=chain["relax"]["fmax"]).make(
        input_structure("si2_props_relax1")
    )
    gpaw_doc = run_locally(flow, create_folders=True, raise_immediately=True)[flow.output.uuid][
        1
    ].output
    errors = compare_properties(vasp_doc, gpaw_doc)
    # the same strained cells (atomate2's deformations of the same relaxed cell): the
    # elastic fits agree to numerical noise (measured: 1e-10 %); the EOS grids differ
    # (linear vs volume steps): B0 within 0.5 % (measured: 0.04 %)
    for quantity in ("k_vrh", "g_vrh", "c11", "c12", "c44", "slack_kappa"):
        assert abs(getattr(errors, quantity)) < 0.1, (quantity, errors)  # %
    for quantity in ("b0", "v0"):
        assert abs(getattr(errors, quantity)) < 0.5, (quantity, errors)  # %
    # the VASP document renders in the report's property table like the GPAW one
    report = {
        "dft_properties": as_json_dict(gpaw_doc),
        "properties": [as_json_dict(vasp_doc.model_copy(update={"label": "vasp"}))],
        "property_errors": [as_json_dict(errors.model_copy(update={"label": "vasp"}))],
    }
    _, _, rows = properties_table(report)
    assert [row[0] for row in rows] == ["DFT", "vasp"]
    assert rows[1][1].startswith(f"{vasp_doc.eos.b0:.2f} (")  # value, then its error


def test_property_suite_survives_a_failed_eos_point(vasp_properties, tmp_path, monkeypatch):
    """A crashed VASP point loses nothing else: the fit uses the other 10, the gap is noted."""
    from mlip_finetune.dft.vasp import paper_properties_maker

    full, _, _ = vasp_properties
    flow = paper_properties_maker().make(input_structure("si2_props_relax1"))
    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        for job_name, case, tags in property_registrations():
            fake.register(job_name, case, tags)
        fake.fail("vasp eos relax deformation 3")
        responses = run_locally(flow, create_folders=True, raise_immediately=False)
    doc = responses[flow.output.uuid][1].output
    assert doc.failures == {"eos_points": "1 of 11 failed"}
    assert len(doc.eos.volumes) == N_EOS - 1
    assert doc.eos.b0 == pytest.approx(full.eos.b0, rel=5e-3)
    np.testing.assert_allclose(doc.elastic.elastic_tensor_raw, full.elastic.elastic_tensor_raw)


# --- the VASP phase-transition search (paper §4.6) -----------------------------------------

#: The complete INCAR of a mode-following static: the paper static at 400 eV, EDIFF 1e-7.
PHASE_TRANSITION_INCAR = PAPER_STATIC_INCAR | {"ENCUT": 400.0, "EDIFF": 1e-7}
#: The same for the Pb/Ti toy: atomate2 adds LMAXMIX 6 (charge mixing up to l = 6) for
#: cells with heavy elements.
TOY_PHASE_TRANSITION_INCAR = PHASE_TRANSITION_INCAR | {"LMAXMIX": 6}


def test_vasp_phase_transition_search_finds_the_toys_double_well(tmp_path, monkeypatch):
    """Every static of the search goes through atomate2's VASP inputs, custodian's entry point
    and emmet's parser; answered by the Γ double-well toy, the search must find what the
    toy gives directly (one unstable Γ mode, the P4mm minimum) with the same numbers.
    """
    from mlip_finetune.dft.vasp import vasp_phase_transitions
    from mlip_finetune.evaluation.phase_transitions import (
        phonopy_from_calculator,
        search_phase_transitions,
    )
    from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
    from tests.evaluation.test_phase_transitions import C0, cscl, gamma_toy

    structure, settings, matrix = cscl(c0=C0), PhaseTransitionSettings(max_amplitude=0.5), 2
    job = vasp_phase_transitions(
        structure, settings, supercell_matrix=(np.eye(3, dtype=int) * matrix).tolist()
    )
    job.name = "vasp phase transitions"
    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        fake.answer_live(
            "vasp phase transitions", gamma_toy(), TOY_PHASE_TRANSITION_INCAR, "the Γ toy (ASE)"
        )
        responses = run_locally(job, create_folders=True, raise_immediately=True)
    doc = responses[job.uuid][1].output
    direct = search_phase_transitions(
        phonopy_from_calculator(structure, gamma_toy(), [matrix] * 3),
        gamma_toy(),
        "toy",
        settings=settings,
    )
    assert len(fake.calls) > 20  # phonons, the 21-point scan, the relaxation steps
    assert doc.label == "dft"
    assert [m.label for m in doc.unstable_modes] == [m.label for m in direct.unstable_modes]
    assert doc.unstable_modes[0].frequency == pytest.approx(
        direct.unstable_modes[0].frequency, rel=1e-4
    )
    np.testing.assert_allclose(doc.scans[0].energies, direct.scans[0].energies, atol=1e-6)
    assert [p.space_group_symbol for p in doc.new_phases] == ["P4mm"]
    assert doc.new_phases[0].energy_gain == pytest.approx(
        direct.new_phases[0].energy_gain, abs=1e-3
    )  # meV/atom


def test_vasp_static_calculator_reports_a_crashed_vasp(tmp_path, monkeypatch):
    from mlip_finetune.dft.engines import DFTCalculationError
    from mlip_finetune.dft.vasp import vasp_phase_transitions
    from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
    from tests.evaluation.test_phase_transitions import C0, cscl, gamma_toy

    job = vasp_phase_transitions(cscl(c0=C0), PhaseTransitionSettings(), supercell_matrix=None)
    job.name = "vasp phase transitions"
    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        fake.answer_live(
            "vasp phase transitions", gamma_toy(), TOY_PHASE_TRANSITION_INCAR, "the Γ toy (ASE)"
        )
        fake.fail("vasp phase transitions")
        with pytest.raises(DFTCalculationError, match=r"vasp_00001 failed: NonRecoverableError"):
            run_locally(job, create_folders=True, raise_immediately=True)
    assert (next(tmp_path.glob("job_*")) / "phase_transitions" / "vasp_00001" / "INCAR").is_file()


@pytest.mark.dft
def test_property_suite_with_the_phase_transition_search(tmp_path, monkeypatch):
    """The whole VASP suite with the search on; its statics answered live by GPAW."""
    from dataclasses import replace

    from mlip_finetune.dft.settings import DFTSettings
    from mlip_finetune.dft.vasp import paper_properties_maker
    from mlip_finetune.evaluation.jobs import DFTEngineCalculator

    # 2×2×2 primitive cells: 16 atoms, one displacement (diamond)
    maker = replace(
        paper_properties_maker(),
        phase_transitions=True,
        supercell_matrix=(2 * np.eye(3, dtype=int)).tolist(),
    )
    flow = maker.make(input_structure("si2_props_relax1"))
    gpaw = DFTEngineCalculator(
        DFTSettings.model_validate(reference("si2_props_relax1")["gpaw_settings"]), tmp_path
    )
    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        for job_name, case, tags in property_registrations():
            fake.register(job_name, case, tags)
        fake.answer_live("vasp phase transitions", gpaw, PHASE_TRANSITION_INCAR, "GPAW (live)")
        responses = run_locally(flow, create_folders=True, raise_immediately=True)
    doc = responses[flow.output.uuid][1].output
    search = doc.phase_transitions
    assert search.label == "dft"
    assert search.initial_space_group_symbol == "Fd-3m"
    assert search.unstable_modes == []  # diamond Si is dynamically stable
    assert search.new_phases == []
    assert doc.phase_transition_settings == maker.phase_transition_settings
    live = [call for call in fake.calls if call["case"] == "live"]
    assert len(live) == gpaw.n_calls
    assert gpaw.n_calls >= 1  # the displaced supercell
