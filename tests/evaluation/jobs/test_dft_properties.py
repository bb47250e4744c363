"""DFTPropertiesMaker: the flow, its names and tags, the fan-out and the assembly."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from jobflow import run_locally

from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.elastic import elastic_deformations, stress_from_ase
from mlip_finetune.evaluation.eos import (
    DEFAULT_VOLUME_STRAINS,
    eos_structures,
    relax_at_fixed_volume,
)
from mlip_finetune.evaluation.jobs import (
    DFTPropertiesMaker,
    assemble_dft_properties,
    dft_property_point_jobs,
)
from mlip_finetune.evaluation.metrics import compare_properties
from mlip_finetune.evaluation.properties import PropertySettings
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag
from mlip_finetune.schemas.properties import ModelPropertiesDocument
from tests.evaluation.conftest import static_document

DFT = JobTag(kind=JobKind.DFT, stage=Stage.PROPERTIES)
LIGHT = JobTag(kind=JobKind.LIGHT, stage=Stage.PROPERTIES)


def test_dft_properties_maker_validates_at_build_time(si_primitive):
    maker = DFTPropertiesMaker(settings=DFTSettings.test())
    assert maker.property_settings == PropertySettings.dft()
    with pytest.raises(ValueError, match="distinct"):
        DFTPropertiesMaker(property_settings=PropertySettings.dft(volume_strains=(0.0,) * 6)).make(
            si_primitive
        )
    with pytest.raises(ValueError, match="relax=False"):
        maker.make(si_primitive, phonon_statics=[])


def test_dft_property_jobs_are_tagged(si_primitive):
    """Kinds and stages, from an independent table: DFT calculations on the DFT worker."""
    flow = DFTPropertiesMaker(
        settings=DFTSettings.test(),
        property_settings=PropertySettings.dft(relax=False, phase_transitions=True),
    ).make(si_primitive)
    expected = {
        "dft properties static": DFT,
        "dft property points": LIGHT,
        "dft phase transitions": DFT,
        "dft properties": LIGHT,
    }
    assert {j.name: job_tag(j) for j in flow.jobs} == expected
    relax = DFTPropertiesMaker(settings=DFTSettings.test()).make(si_primitive).jobs[0]
    assert (relax.name, job_tag(relax)) == ("dft properties relax", DFT)
    eos_jobs, elastic_jobs, _ = dft_property_point_jobs(
        si_primitive, DFTPropertiesMaker(settings=DFTSettings.test()).fixed_cell_relax_maker
    )
    assert {job_tag(j) for j in eos_jobs + elastic_jobs} == {DFT}


def test_dft_properties_flow_jobs_and_names(si_primitive):
    flow = DFTPropertiesMaker(settings=DFTSettings.test()).make(si_primitive)
    assert flow.name == "dft properties"
    assert [j.name for j in flow.jobs] == [
        "dft properties relax",
        "dft property points",
        "dft properties",
    ]
    flow = DFTPropertiesMaker(
        settings=DFTSettings.test(),
        property_settings=PropertySettings.dft(relax=False, phase_transitions=True),
    ).make(si_primitive)
    assert [j.name for j in flow.jobs] == [
        "dft properties static",
        "dft property points",
        "dft phase transitions",
        "dft properties",
    ]
    maker = DFTPropertiesMaker(
        settings=DFTSettings.test(), property_settings=PropertySettings.dft(fmax=0.002)
    )
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


def test_every_property_point_uses_the_equilibrium_mesh(si_primitive):
    """EOS volumes and strained cells share the equilibrium cell's k-mesh: at the test
    preset the kspacing rule alone gives primitive Si 4x4x4 at -1 % and 5x5x5 from -3 %,
    a step in E(V) that made the Birch-Murnaghan fit return a negative B0."""
    from mlip_finetune.dft.settings import kpoint_mesh

    settings = DFTSettings.test()
    maker = DFTPropertiesMaker(settings=settings).fixed_cell_relax_maker
    eos_jobs, elastic_jobs, _ = dft_property_point_jobs(si_primitive, maker)
    own = {tuple(kpoint_mesh(j.function_args[0].lattice, settings.kspacing)) for j in eos_jobs}
    assert len(own) > 1  # the rule alone would change the mesh across the EOS
    reference = tuple(kpoint_mesh(si_primitive.lattice, settings.kspacing))
    for point in eos_jobs + elastic_jobs:
        point_settings = point.function_kwargs["settings"]
        assert point_settings.kpoints == reference
        assert point_settings.mesh(point.function_args[0].lattice) == list(reference)
    assert maker.settings.kpoints is None  # the Maker itself is unchanged


def test_dft_assembly_reproduces_the_calculator_path(tmp_path, monkeypatch, cu_props):
    """EMT 'DFT' statics shaped like the DFT jobs' outputs give the ML path's numbers."""
    monkeypatch.chdir(tmp_path)
    calc = EMT()
    structure = cu_props.structure
    atoms = structure.to_ase_atoms()
    atoms.calc = calc
    equilibrium = static_document(
        structure,
        atoms.get_potential_energy(),
        stress_from_ase(atoms.get_stress(voigt=False)),
        "dft properties relax",
    )
    eos_statics = []
    for scaled in eos_structures(structure):
        result = relax_at_fixed_volume(scaled, calc)
        eos_statics.append(
            static_document(result.structure, result.energy, np.zeros((3, 3)), "eos")
        )
    deformations, deformed = elastic_deformations(structure)
    elastic_statics = []
    for strained in deformed:
        result = relax_at_fixed_volume(strained, calc, compute_stress=True)
        elastic_statics.append(
            static_document(
                result.structure, result.energy, stress_from_ase(result.stress), "elastic"
            )
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


@pytest.mark.dft
def test_dft_fixed_cell_relaxation_job(tmp_path, monkeypatch, si_primitive):
    """One real GPAW job of the fan-out: a sheared Si cell relaxes its atoms, not its cell."""
    monkeypatch.chdir(tmp_path)
    maker = DFTPropertiesMaker(
        settings=DFTSettings.test(),
        property_settings=PropertySettings.dft(fmax=0.005, max_steps=30),
    )
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
