"""Property jobs: EMT Cu physics, MACE plumbing, DFT assembly, comparisons, thermal range."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.elastic import elastic_deformations, stress_from_ase
from mlip_finetune.evaluation.eos import (
    DEFAULT_VOLUME_STRAINS,
    eos_structures,
    relax_at_fixed_volume,
)
from mlip_finetune.evaluation.jobs import (
    DFTPropertiesMaker,
    MLPropertiesMaker,
    assemble_dft_properties,
    dft_phase_transitions,
    dft_property_point_jobs,
    properties_from_calculator,
    property_errors,
)
from mlip_finetune.evaluation.metrics import compare_properties, thermal_property_errors
from mlip_finetune.evaluation.phonons import (
    displaced_supercells,
    model_forces,
    phonon_document_from_forces,
    thermal_temperatures,
)
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.phase_transitions import (
    PhaseTransitionDocument,
    PhaseTransitionSettings,
    UnstableMode,
)
from mlip_finetune.schemas.properties import ModelPropertiesDocument
from mlip_finetune.utils import sha256_file

CU_SUPERCELL = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]  # 32-atom conventional 2x2x2 cube
GAS_CONSTANT = 8.314462618  # J/(K mol)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cu():
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.6), ["Cu"], [[0, 0, 0]])
    return conv.get_primitive_structure()


@pytest.fixture(scope="module")
def cu_props(cu):
    return properties_from_calculator(
        cu,
        EMT(),
        "emt",
        phase_transition_settings=PhaseTransitionSettings(),
        supercell_matrix=CU_SUPERCELL,
    )


def test_emt_cu_properties_are_consistent(cu_props):
    doc = cu_props
    assert doc.failures == {}
    assert doc.relaxed
    assert doc.relax_converged
    assert doc.engine == "EMT"
    assert set(doc.wall_times) == {"relax", "eos", "elastic", "slack", "phase_transitions", "total"}
    # EOS and strain-stress are independent routes to the bulk modulus.
    assert doc.eos.b0 == pytest.approx(doc.elastic.k_vrh, rel=0.05)
    assert doc.eos.excluded == []
    # Every property starts from the same relaxed cell.
    assert doc.eos.v0 == pytest.approx(doc.structure.volume, rel=1e-3)
    assert doc.elastic.structure.volume == pytest.approx(doc.structure.volume)
    c = np.asarray(doc.elastic.elastic_tensor)
    assert c[0, 0] > c[0, 1] > 0
    assert c[3, 3] > 0
    assert doc.elastic.elastically_stable
    assert np.isfinite(doc.slack.kappa)
    assert doc.slack.kappa > 0
    assert doc.slack.debye_temperature > 0
    # fcc Cu is dynamically stable: nothing to follow, no new phase.
    pt = doc.phase_transitions
    assert pt.unstable_modes == []
    assert pt.phase_keys == []
    assert pt.initial_space_group_number == 225
    assert doc.phase_transition_settings == PhaseTransitionSettings()
    assert ModelPropertiesDocument.model_validate(doc.model_dump()).eos == doc.eos


def test_ml_properties_maker_runs_mace_in_one_job(
    tmp_path, monkeypatch, si_primitive, random_mace_si
):
    monkeypatch.chdir(tmp_path)
    settings = PhaseTransitionSettings(
        grid_points={1: 5, 2: 3, 3: 3, 4: 3}, max_steps=20, supercell_atom_limit=4, band_npoints=5
    )
    maker = MLPropertiesMaker(
        device="cpu",
        max_steps=200,
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        phase_transition_settings=settings,
    )
    job = maker.make(si_primitive, model_path=str(random_mace_si), label="random")
    assert job.name == "ml properties"
    responses = run_locally(job, create_folders=True, ensure_success=True)
    assert len(responses) == 1  # one job for every property
    doc = ModelPropertiesDocument.model_validate(responses[job.uuid][1].output)
    # An untrained model: only completeness and bookkeeping are asserted.
    assert doc.label == "random"
    assert doc.engine == "mace"
    assert doc.model_path == str(random_mace_si)
    assert doc.model_sha256 == sha256_file(random_mace_si)
    for name in ("eos", "elastic", "slack"):
        assert (getattr(doc, name) is None) == (name in doc.failures)
    assert doc.eos is None or doc.eos.model_sha256 == doc.model_sha256
    assert doc.phase_transitions is not None
    assert doc.phase_transitions.label == "random"
    assert doc.phase_transition_settings == settings
    assert doc.wall_times["total"] >= doc.wall_times["eos"] > 0


def test_property_makers_validate_at_build_time(si_primitive):
    with pytest.raises(ValueError, match="at least 5 distinct"):
        MLPropertiesMaker(volume_strains=(-0.01, 0.0, 0.01))
    with pytest.raises(ValueError, match="positive"):
        MLPropertiesMaker(fmax=0.0)
    maker = DFTPropertiesMaker(settings=DFTSettings.test())
    with pytest.raises(ValueError, match="distinct"):
        DFTPropertiesMaker(volume_strains=(0.0,) * 6).make(si_primitive)
    with pytest.raises(ValueError, match="relax=False"):
        maker.make(si_primitive, phonon_statics=[])


def test_dft_properties_flow_jobs_and_names(si_primitive):
    flow = DFTPropertiesMaker(settings=DFTSettings.test()).make(si_primitive)
    assert flow.name == "dft properties"
    assert [j.name for j in flow.jobs] == [
        "dft properties relax",
        "dft property points",
        "dft properties",
    ]
    flow = DFTPropertiesMaker(
        settings=DFTSettings.test(), relax=False, phase_transitions=True
    ).make(si_primitive)
    assert [j.name for j in flow.jobs] == [
        "dft properties static",
        "dft property points",
        "dft phase transitions",
        "dft properties",
    ]
    maker = DFTPropertiesMaker(settings=DFTSettings.test(), fmax=0.002)
    eos_jobs, elastic_jobs, deformations = dft_property_point_jobs(
        si_primitive, maker.fixed_cell_relax_maker
    )
    n = len(DEFAULT_VOLUME_STRAINS)
    assert [j.name for j in eos_jobs] == [f"dft eos {i}/{n}" for i in range(1, n + 1)]
    m = len(elastic_jobs)
    assert [j.name for j in elastic_jobs] == [f"dft elastic {i}/{m}" for i in range(1, m + 1)]
    assert len(deformations) == m
    assert all(j.function_kwargs["relax_cell"] is False for j in eos_jobs + elastic_jobs)
    assert all(j.function_kwargs["fmax"] == 0.002 for j in eos_jobs)
    with pytest.raises(ValueError, match="fixed-cell"):
        dft_property_point_jobs(si_primitive, maker.fixed_cell_relax_maker.__class__())


def _static(structure, energy, stress_gpa, label, metadata=None):
    return StaticDocument(
        label=label,
        structure=structure,
        energy=energy,
        forces=np.zeros((len(structure), 3)).tolist(),
        stress=np.asarray(stress_gpa).tolist(),
        engine="emt",
        settings={"xc": "emt"},
        kpoints=[1, 1, 1],
        wall_time_s=0.25,
        converged=True,
        metadata={"relax_converged": True, **(metadata or {})},
    )


def test_dft_assembly_reproduces_the_calculator_path(tmp_path, monkeypatch, cu_props):
    """EMT 'DFT' statics shaped like the DFT jobs' outputs give the ML path's numbers."""
    monkeypatch.chdir(tmp_path)
    calc = EMT()
    structure = cu_props.structure
    atoms = structure.to_ase_atoms()
    atoms.calc = calc
    equilibrium = _static(
        structure,
        atoms.get_potential_energy(),
        stress_from_ase(atoms.get_stress(voigt=False)),
        "dft properties relax",
    )
    eos_statics = []
    for scaled in eos_structures(structure):
        result = relax_at_fixed_volume(scaled, calc)
        eos_statics.append(_static(result.structure, result.energy, np.zeros((3, 3)), "eos"))
    deformations, deformed = elastic_deformations(structure)
    elastic_statics = []
    for strained in deformed:
        result = relax_at_fixed_volume(strained, calc, compute_stress=True)
        elastic_statics.append(
            _static(result.structure, result.energy, stress_from_ase(result.stress), "elastic")
        )
    points = {
        "structure": structure,
        "volume_strains": list(DEFAULT_VOLUME_STRAINS),
        "eos": eos_statics,
        "deformations": [np.asarray(d).tolist() for d in deformations],
        "elastic": elastic_statics,
    }
    job = assemble_dft_properties(equilibrium, points, fmax=1e-3)
    responses = run_locally(job, create_folders=True, ensure_success=True)
    doc = ModelPropertiesDocument.model_validate(responses[job.uuid][1].output)
    assert doc.label == "dft"
    assert doc.engine == "emt"
    assert doc.dft_settings == {"xc": "emt"}
    assert doc.failures == {}
    assert doc.eos.b0 == pytest.approx(cu_props.eos.b0, rel=1e-6)
    assert doc.eos.v0 == pytest.approx(cu_props.eos.v0, rel=1e-9)
    assert doc.eos.relax_converged == [True] * len(eos_statics)
    assert doc.elastic.k_vrh == pytest.approx(cu_props.elastic.k_vrh, rel=1e-6)
    assert doc.elastic.g_vrh == pytest.approx(cu_props.elastic.g_vrh, rel=1e-6)
    assert doc.slack.kappa == pytest.approx(cu_props.slack.kappa, rel=1e-5)
    assert doc.wall_times["eos"] == pytest.approx(0.25 * len(eos_statics))
    # A model identical to the reference has zero error everywhere.
    errors = compare_properties(cu_props, doc)
    for name in ("b0", "v0", "k_vrh", "g_vrh", "c11", "c12", "c44", "slack_kappa"):
        assert abs(getattr(errors, name)) < 1e-3, name
    assert errors.elastic_stability_agreement


def _phases(structure, keys, *, unstable):
    mode = UnstableMode(
        qpoint=[0.5, 0.5, 0.5],
        label="L",
        frequency=-1.0,
        frequencies=[-1.0],
        band_indices=[0],
        degeneracy=1,
    )
    return PhaseTransitionDocument(
        label="x",
        structure=structure,
        initial_space_group_symbol="Fm-3m",
        initial_space_group_number=225,
        initial_n_primitive_atoms=1,
        settings=PhaseTransitionSettings(),
        unstable_modes=[mode] if unstable else [],
        scans=[],
        pathways=[],
        new_phases=[],
        phase_keys=keys,
        wall_time_s=0.0,
    )


def test_compare_properties_exact_percentages(cu_props):
    base = cu_props
    tensor = np.zeros((6, 6))
    tensor[0, 0], tensor[0, 1], tensor[3, 3] = 200.0, 100.0, 50.0
    model_tensor = tensor.copy()
    model_tensor[0, 0], model_tensor[0, 1], model_tensor[3, 3] = 190.0, 0.0, 60.0
    ref = base.model_copy(
        update={
            "label": "dft",
            "eos": base.eos.model_copy(update={"b0": 100.0, "b0_prime": 4.0, "v0": 12.0}),
            "elastic": base.elastic.model_copy(
                update={"k_vrh": 80.0, "g_vrh": 40.0, "elastic_tensor": tensor.tolist()}
            ),
            "slack": base.slack.model_copy(
                update={"kappa": 20.0, "debye_temperature": 400.0, "gruneisen": 2.0}
            ),
            "phase_transitions": _phases(base.structure, [(1, 2), (5, 3), (99, 1)], unstable=True),
        }
    )
    model = base.model_copy(
        update={
            "label": "transfer",
            "eos": base.eos.model_copy(update={"b0": 110.0, "b0_prime": 5.0, "v0": 11.4}),
            "elastic": base.elastic.model_copy(
                update={
                    "k_vrh": 60.0,
                    "g_vrh": 50.0,
                    "elastic_tensor": model_tensor.tolist(),
                    "elastically_stable": False,
                }
            ),
            "slack": base.slack.model_copy(
                update={"kappa": 25.0, "debye_temperature": 380.0, "gruneisen": 1.5}
            ),
            "phase_transitions": _phases(base.structure, [(1, 2), (10, 4)], unstable=False),
        }
    )
    errors = compare_properties(model, ref)
    assert errors.label == "transfer"
    assert errors.reference_label == "dft"
    assert errors.b0 == pytest.approx(10.0)
    assert errors.b0_prime == pytest.approx(25.0)
    assert errors.v0 == pytest.approx(-5.0)
    assert errors.k_vrh == pytest.approx(-25.0)
    assert errors.g_vrh == pytest.approx(25.0)
    assert errors.c11 == pytest.approx(-5.0)
    assert errors.c12 == pytest.approx(-100.0)
    assert errors.c44 == pytest.approx(20.0)
    assert errors.slack_kappa == pytest.approx(25.0)
    assert errors.debye_temperature == pytest.approx(-5.0)
    assert errors.gruneisen == pytest.approx(-25.0)
    assert errors.elastic_stability_agreement is False
    # Stability from the searches: the model finds no unstable mode, the reference one.
    assert errors.stability_source == "phase_transitions"
    assert errors.model_unstable is False
    assert errors.reference_unstable is True
    assert errors.stability_agreement is False
    # Phase sets: 1 of 2 predicted phases is right, 1 of 3 reference phases found.
    assert errors.phase_precision == pytest.approx(0.5)
    assert errors.phase_recall == pytest.approx(1 / 3)
    assert errors.phase_f1 == pytest.approx(0.4)
    assert (errors.n_model_phases, errors.n_reference_phases) == (2, 3)
    # Reference C12 = 0: no relative error; a missing property: no error at all.
    reversed_errors = compare_properties(ref, model.model_copy(update={"slack": None}))
    assert reversed_errors.c12 is None
    assert reversed_errors.slack_kappa is None
    assert reversed_errors.gruneisen is None
    assert reversed_errors.b0 == pytest.approx(100.0 * (100.0 - 110.0) / 110.0)
    # The job compares many models at once.
    (job_errors,) = property_errors.original([model], ref)
    assert job_errors == errors


@pytest.fixture(scope="module")
def cu_phonons(cu_props):
    out = []
    for label, scale in (("dft", 1.0), ("soft", 0.8)):
        phonon, supercells = displaced_supercells(cu_props.structure, CU_SUPERCELL)
        forces = [scale * f for f in model_forces(supercells, EMT())]
        out.append(phonon_document_from_forces(phonon, forces, label, mesh=[12, 12, 12]))
    return out


def test_thermal_properties_over_temperature_range(cu_props, cu_phonons):
    doc, soft = cu_phonons
    temps = [t.temperature for t in doc.thermal_properties]
    assert temps == pytest.approx(np.arange(0.0, 1001.0, 10.0))
    first, last = doc.thermal_properties[0], doc.thermal_properties[-1]
    assert first.heat_capacity == pytest.approx(0.0, abs=1e-10)
    assert first.entropy == pytest.approx(0.0, abs=1e-10)
    assert first.free_energy > 0  # zero-point energy
    cv = np.array([t.heat_capacity for t in doc.thermal_properties])
    assert np.all(np.diff(cv) > 0)
    dulong_petit = 3 * len(doc.structure) * GAS_CONSTANT
    assert cv.max() < dulong_petit
    assert last.heat_capacity == pytest.approx(dulong_petit, rel=0.02)
    (at_300,) = [t for t in doc.thermal_properties if t.temperature == 300.0]
    assert at_300 == doc.thermal_300k
    # A softer model (forces × 0.8): lower frequencies, so more entropy and heat capacity.
    errors = thermal_property_errors(soft, doc)
    assert errors.temperatures == temps
    assert errors.heat_capacity[0] is None
    assert errors.entropy[0] is None
    # Above ~100 K (below, a 12x12x12 mesh resolves no acoustic phonons near Γ).
    assert all(e > 0 for e in errors.heat_capacity[10:])
    assert all(e > 0 for e in errors.entropy[10:])
    # High-T limit: C_V → 3NR for both, so the error vanishes.
    assert errors.heat_capacity[-1] < errors.heat_capacity[10]
    # Stability from phonons takes precedence over the searches.
    errors = compare_properties(cu_props, cu_props, model_phonons=soft, reference_phonons=doc)
    assert errors.stability_source == "phonons"
    assert errors.stability_agreement


def test_thermal_range_validation(cu_phonons):
    doc, soft = cu_phonons
    with pytest.raises(ValueError, match="t_step"):
        thermal_temperatures(0.0, 100.0, 0.0)
    assert thermal_temperatures(100.0, 300.0, 100.0).tolist() == [100.0, 200.0, 300.0]
    shorter = soft.model_copy(update={"thermal_properties": soft.thermal_properties[:-1]})
    with pytest.raises(ValueError, match="temperature ranges differ"):
        thermal_property_errors(shorter, doc)


@pytest.mark.dft
def test_dft_fixed_cell_relaxation_job(tmp_path, monkeypatch, si_primitive):
    """One real GPAW job of the fan-out: a sheared Si cell relaxes its atoms, not its cell."""
    monkeypatch.chdir(tmp_path)
    maker = DFTPropertiesMaker(settings=DFTSettings.test(), fmax=0.005, max_steps=30)
    _, elastic_jobs, deformations = dft_property_point_jobs(
        si_primitive, maker.fixed_cell_relax_maker
    )
    index = next(i for i, d in enumerate(deformations) if abs(d[1][2]) > 1e-6)  # shear yz
    job = elastic_jobs[index]
    start = job.function_args[0]
    responses = run_locally(job, create_folders=True, ensure_success=True)
    doc = StaticDocument.model_validate(responses[job.uuid][1].output)
    assert doc.label == job.name
    assert doc.metadata["relax_cell"] is False
    assert doc.metadata["property"] == "elastic"
    assert doc.metadata["relax_converged"]
    assert np.abs(doc.forces).max() < 0.005
    np.testing.assert_allclose(doc.structure.lattice.matrix, start.lattice.matrix, atol=1e-8)
    # Internal relaxation under shear (Kleinman): the atoms move.
    moved = np.linalg.norm(doc.structure.cart_coords - start.cart_coords, axis=1)
    assert moved.max() > 1e-3
    assert np.abs(doc.stress).max() > 0.1  # strained cell: a stress to fit (GPa)


@pytest.mark.dft
def test_dft_phase_transitions_job_on_stable_si(tmp_path, monkeypatch, si_primitive):
    """The DFT search runs the engine through its ASE adapter; stable Si has nothing to scan."""
    monkeypatch.chdir(tmp_path)
    equilibrium = _static(si_primitive, 0.0, np.zeros((3, 3)), "si")
    settings = PhaseTransitionSettings(supercell_atom_limit=3, band_npoints=5)
    job = dft_phase_transitions(
        equilibrium,
        DFTSettings.test(),
        settings,
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    )
    responses = run_locally(job, create_folders=True, ensure_success=True)
    doc = PhaseTransitionDocument.model_validate(responses[job.uuid][1].output)
    assert doc.label == "dft"
    assert doc.initial_space_group_number == 227
    assert doc.unstable_modes == []  # forces through the adapter: Si is stable
    assert doc.scans == []
    assert doc.phase_keys == []
    # One static for the single displacement, one for the reference energy.
    assert len(list(tmp_path.glob("job_*/phase_transitions/static_*/gpaw.txt"))) == 2


def test_benchmark_script_smoke(tmp_path, random_mace_si):
    spec = importlib.util.spec_from_file_location(
        "bench_phonons_vs_atomate2", ROOT / "benchmarks" / "bench_phonons_vs_atomate2.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ratio = bench.main(
        [
            "--model",
            str(random_mace_si),
            "--size",
            "1",
            "--no-relax",
            "--mesh",
            "8",
            "--workdir",
            str(tmp_path),
        ]
    )
    assert 0 < ratio < 10
