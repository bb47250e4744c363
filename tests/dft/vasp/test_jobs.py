"""atomate2 VASP makers with the paper's sets and the VASP document maker, through the fake.

The fake answers VASP jobs with committed reference outputs built from real GPAW runs
(``python -m tests.test_data.vasp.make_reference``); no VASP, custodian or POTCAR is needed.
"""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import Flow, JobStore, Response, job
from maggma.stores import MemoryStore
from pymatgen.core import Structure

from mlip_finetune.dft.jobs import fan_out_statics
from mlip_finetune.dft.vasp.jobs import (
    VaspDocumentMaker,
    VaspRelaxMaker,
    VaspStaticMaker,
    is_vasp_job,
    phase_transition_static_maker,
    tag_vasp_flow,
)
from mlip_finetune.dft.vasp.sets import (
    PAPER_KSPACING,
    PAPER_POTCAR_FUNCTIONAL,
    PaperStaticSetGenerator,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag
from tests.dft.vasp_fake import (
    PAPER_RELAX_TAGS,
    PAPER_STATIC_TAGS,
    VaspInputDriftError,
    input_structure,
    reference,
    run_with_fake,
    si2,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


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
        run_with_fake(
            flow, tmp_path, monkeypatch, [("vasp static", "si2_static", PAPER_STATIC_TAGS)]
        )
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
    assert job_tag(vasp_job) == JobTag(kind=JobKind.DFT, stage=Stage.OTHER)
    assert vasp_job.config.manager_config == {"worker": "cpu"}
    assert convert.name == "vasp static document"
    assert job_tag(convert) == JobTag(kind=JobKind.LIGHT, stage=Stage.OTHER)

    responses, fake = run_with_fake(
        flow, tmp_path, monkeypatch, [("vasp static", case, PAPER_STATIC_TAGS)]
    )
    assert [call["case"] for call in fake.calls] == [case]
    doc = responses[flow.output.uuid][1].output
    assert isinstance(doc, StaticDocument)
    assert doc.engine == "vasp"
    # the training energy is VASP's free energy TOTEN; σ → 0 is kept alongside
    assert doc.energy == doc.free_energy_ev == pytest.approx(ref["free_energy_ev"], abs=1e-9)
    assert doc.energy_sigma0_ev == pytest.approx(ref["energy_ev"], abs=1e-9)
    assert not doc.spin_polarised
    assert doc.magnetic_moments_mub is None
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
    responses, _ = run_with_fake(
        flow, tmp_path, monkeypatch, [("vasp relax", "si2_relax", PAPER_RELAX_TAGS)]
    )
    doc = responses[flow.output.uuid][1].output
    final = Structure.from_dict(ref["final_structure"])
    np.testing.assert_allclose(doc.structure.lattice.matrix, final.lattice.matrix, atol=1e-9)
    np.testing.assert_allclose(doc.structure.cart_coords, final.cart_coords, atol=1e-9)
    assert doc.structure.volume > input_structure("si2_relax").volume  # the compressed cell grew
    assert doc.energy == pytest.approx(ref["free_energy_ev"], abs=1e-9)
    assert doc.energy_sigma0_ev == pytest.approx(ref["energy_ev"], abs=1e-9)
    np.testing.assert_allclose(doc.forces, ref["forces_ev_per_a"], atol=1e-10)
    np.testing.assert_allclose(doc.stress, ref["stress_gpa"], atol=1e-9)
    assert doc.metadata["n_steps"] == ref["n_steps"] + 1
    assert doc.metadata["relax_converged"]
    assert doc.metadata["fmax"] == pytest.approx(5e-4)
    assert doc.metadata["relax_cell"]


def test_fan_out_statics_accepts_the_vasp_maker(tmp_path, monkeypatch):
    """The GPAW fan-out runs VASP unchanged: one [vasp static, document] flow per frame."""
    fan_out = fan_out_statics([input_structure("si2_static")], static_maker=VaspDocumentMaker())
    responses, _ = run_with_fake(
        fan_out, tmp_path, monkeypatch, [("vasp static", "si2_static", PAPER_STATIC_TAGS)]
    )
    docs = [r[1].output for r in responses.values() if isinstance(r[1].output, StaticDocument)]
    assert len(docs) == 1
    assert docs[0].label == "vasp static 1/1"
    assert docs[0].metadata == {"index": 0, "n_structures": 1} | {
        k: docs[0].metadata[k] for k in ("vasp_task_label", "vasp_dir_name", "vasp_calc_type")
    }
    assert docs[0].energy == pytest.approx(reference("si2_static")["free_energy_ev"], abs=1e-9)


def test_document_maker_needs_a_vasp_maker():
    with pytest.raises(TypeError, match="atomate2 VASP maker"):
        VaspDocumentMaker(vasp_maker=object()).make(si2(5.43))


# --- what the material flow asks of a static maker -----------------------------------------


def test_settings_record_is_the_input_sets_preset():
    maker = VaspDocumentMaker()
    generator = maker.vasp_maker.input_set_generator
    assert maker.settings_record() == {
        "engine": "vasp",
        "incar": generator.preset_incar,
        "user_incar_settings": {},
        "kspacing": PAPER_KSPACING,
        "potcar_functional": PAPER_POTCAR_FUNCTIONAL,
    }
    custom = VaspDocumentMaker(
        vasp_maker=VaspStaticMaker(
            input_set_generator=PaperStaticSetGenerator(user_incar_settings={"NCORE": 4})
        )
    )
    assert custom.settings_record()["user_incar_settings"] == {"NCORE": 4}


def test_phonon_static_maker_keeps_the_input_set():
    maker = VaspDocumentMaker(manager_config={"worker": "cpu"})
    assert maker.phonon_static_name == "vasp phonon static"
    phonon = maker.phonon_static_maker()
    assert phonon.name == "vasp phonon static"
    assert phonon.vasp_maker == maker.vasp_maker
    assert phonon.manager_config == {"worker": "cpu"}
    assert phonon.stage is maker.stage is Stage.OTHER
    assert maker.name == "vasp static"  # unchanged


# --- tags of atomate2's flows, also of the jobs they create at run time --------------------


@job
def light_step() -> int:
    """A non-VASP job created at run time."""
    return 1


@job
def create_vasp_jobs(structure: Structure) -> Response:
    """Stand-in for atomate2's run-time fan-outs (``run_elastic_deformations``)."""
    static = VaspStaticMaker().make(structure)
    static.name = "vasp elastic relax 1/2"
    return Response(replace=Flow([static, light_step()]))


def test_tag_vasp_flow_tags_jobs_created_at_run_time(si_primitive):
    fan_out = create_vasp_jobs(si_primitive)
    flow = tag_vasp_flow(Flow([VaspStaticMaker().make(si_primitive), fan_out]))
    vasp_job = flow.jobs[0]
    assert is_vasp_job(vasp_job)
    assert not is_vasp_job(fan_out)
    assert not is_vasp_job(flow)
    assert job_tag(vasp_job) == JobTag(kind=JobKind.DFT, stage=Stage.OTHER)
    assert job_tag(fan_out) == JobTag(kind=JobKind.LIGHT, stage=Stage.OTHER)
    # the dynamic updates survive jobflow-remote's serialisation of the job
    restored = type(fan_out).from_dict(fan_out.as_dict())
    store = JobStore(MemoryStore())
    store.connect()
    response = restored.run(store)  # builds the new jobs, runs no VASP
    created = {j.name: job_tag(j) for j in response.replace.jobs}
    assert created["vasp elastic relax 1/2"] == JobTag(kind=JobKind.DFT, stage=Stage.OTHER)
    assert created["light_step"] == JobTag(kind=JobKind.LIGHT, stage=Stage.OTHER)
