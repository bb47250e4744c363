"""The VASP property suite (EOS, elastic tensor, Slack, phase transitions) through the fake.

The fake (tests/dft/vasp_fake.py) answers VASP jobs with committed reference outputs built
from real GPAW runs, or live from an ASE calculator; no VASP, custodian or POTCAR is needed.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from mlip_finetune.evaluation.vasp_properties import (
    paper_properties_maker,
    vasp_phase_transitions,
)
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag
from tests.dft.vasp_fake import (
    PAPER_RELAX_TAGS,
    PHASE_TRANSITION_INCAR,
    TOY_PHASE_TRANSITION_INCAR,
    fake_vasp,
    input_structure,
    reference,
    run_with_fake,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

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
def vasp_properties_run(tmp_path_factory):
    """Run paper_properties_maker on Si2 through the fake once; (document, outputs, fake, store)."""
    flow = paper_properties_maker().make(input_structure("si2_props_relax1"))
    store = JobStore(MemoryStore())
    with pytest.MonkeyPatch.context() as monkeypatch:
        responses, fake = run_with_fake(
            flow,
            tmp_path_factory.mktemp("vasp_props"),
            monkeypatch,
            property_registrations(),
            store=store,
        )
    outputs = [r[1].output for r in responses.values() if 1 in r]
    return responses[flow.output.uuid][1].output, outputs, fake, store


@pytest.fixture(scope="module")
def vasp_properties(vasp_properties_run):
    """(document, outputs, fake) of :func:`vasp_properties_run`."""
    return vasp_properties_run[:3]


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
    # the free energy TOTEN (the energy whose derivative is the stress), not σ → 0
    energies = [reference(f"si2_props_eos_{i}")["free_energy_ev"] for i in range(N_EOS)]
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
    from mlip_finetune.evaluation.jobs import DFTPropertiesMaker, PropertySettings
    from mlip_finetune.evaluation.metrics import compare_properties
    from mlip_finetune.report.tables import as_json_dict, properties_table

    vasp_doc, _, _ = vasp_properties
    monkeypatch.chdir(tmp_path)
    chain = reference("si2_props_relax1")  # the GPAW settings the fake's outputs were made with
    settings = DFTSettings.model_validate(chain["gpaw_settings"])
    flow = DFTPropertiesMaker(
        settings=settings, property_settings=PropertySettings.dft(fmax=chain["relax"]["fmax"])
    ).make(input_structure("si2_props_relax1"))
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


#: The VASP jobs of the suite, including those atomate2 creates at run time; every other
#: job (atomate2's analysis, jobflow's store_inputs, our document) is light.
VASP_JOB_NAME = re.compile(
    r"^vasp (properties relax [12]|elastic relax [1-6]/6|eos relax deformation \d+)$"
)


def test_property_suite_tags_every_job_it_ran(vasp_properties_run):
    """Tags of all jobs in the store, also of the strained cells created at run time."""
    *_, store = vasp_properties_run
    documents = list(store.query({}, properties=["name", "metadata"]))
    names = [d["name"] for d in documents]
    assert sum(name.startswith("vasp elastic relax ") for name in names) == N_ELASTIC
    for document in documents:
        kind = JobKind.DFT if VASP_JOB_NAME.match(document["name"]) else JobKind.LIGHT
        assert job_tag(document["metadata"]) == JobTag(kind=kind, stage=Stage.OTHER), document


# --- the VASP phase-transition search (paper §4.6) -----------------------------------------


def test_vasp_phase_transition_search_finds_the_toys_double_well(tmp_path, monkeypatch):
    """Every static of the search goes through atomate2's VASP inputs, custodian's entry point
    and emmet's parser; answered by the Γ double-well toy, the search must find what the
    toy gives directly (one unstable Γ mode, the P4mm minimum) with the same numbers.
    """
    from mlip_finetune.evaluation.phase_transitions import (
        phonopy_from_calculator,
        search_phase_transitions,
    )
    from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
    from tests.evaluation.phase_transitions.conftest import C0, cscl, gamma_toy

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
    from mlip_finetune.schemas.phase_transitions import PhaseTransitionSettings
    from tests.evaluation.phase_transitions.conftest import C0, cscl, gamma_toy

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

    from mlip_finetune.dft.calculator import DFTEngineCalculator
    from mlip_finetune.dft.settings import DFTSettings
    from mlip_finetune.evaluation.property_settings import PropertySettings

    # 2×2×2 primitive cells: 16 atoms, one displacement (diamond)
    maker = replace(
        paper_properties_maker(),
        property_settings=PropertySettings.dft(
            phase_transitions=True, supercell_matrix=(2 * np.eye(3, dtype=int)).tolist()
        ),
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
    assert doc.phase_transition_settings == maker.property_settings.search_settings
    live = [call for call in fake.calls if call["case"] == "live"]
    assert len(live) == gpaw.n_calls
    assert gpaw.n_calls >= 1  # the displaced supercell
