"""jobflow Makers of the open DFT engines: build-time checks, tags, and real GPAW runs.

The runs (marked ``dft``) use DFTSettings.test().
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from jobflow import Flow, JobStore, job, run_locally
from maggma.stores import MemoryStore
from monty.json import MontyDecoder, jsanitize
from pymatgen.core import Lattice, Structure

from mlip_finetune.dft.engines import UnknownEngineError
from mlip_finetune.dft.gpaw.engine import RELAX_TRAJECTORY_FILE
from mlip_finetune.dft.jobs import (
    DFTRelaxMaker,
    DFTStaticMaker,
    ReferenceStaticsMaker,
    RelaxMaker,
    StaticMaker,
)
from mlip_finetune.dft.settings import DFTSettings, kpoint_mesh
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag
from mlip_finetune.units import EV_PER_A3_TO_GPA

SETTINGS = DFTSettings.test()


def si2(a: float) -> Structure:
    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])
    return conv.get_primitive_structure()


@job
def two_structures() -> list[Structure]:
    """Stand-in for an upstream job (e.g. training-data generation)."""
    first = si2(5.468)
    second = first.copy()
    second.translate_sites([0], [0.05, 0.0, -0.03], frac_coords=False)
    return [first, second]


def memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


@pytest.mark.parametrize(
    "make",
    [
        lambda s: DFTStaticMaker(settings=s).make(si2(5.468)),
        lambda s: ReferenceStaticsMaker(static_maker=DFTStaticMaker(settings=s)).make([si2(5.468)]),
        lambda s: DFTRelaxMaker(settings=s).make(si2(5.468)),
    ],
)
def test_unknown_engine_fails_at_make(make):
    # model_copy skips validation, like settings arriving from an old or foreign document.
    settings = SETTINGS.model_copy(update={"engine": "qe"})
    with pytest.raises(UnknownEngineError, match="known engines: gpaw"):
        make(settings)


def test_bad_arguments_fail_at_make():
    with pytest.raises(ValueError, match="2 labels for 1 structures"):
        ReferenceStaticsMaker().make([si2(5.468)], labels=["a", "b"])
    with pytest.raises(ValueError, match="fmax and max_steps"):
        DFTRelaxMaker(fmax=0.0).make(si2(5.468))


def test_makers_serialise_round_trip():
    maker = ReferenceStaticsMaker(static_maker=DFTStaticMaker(settings=SETTINGS))
    restored = ReferenceStaticsMaker.from_dict(maker.as_dict())
    assert restored.static_maker.settings == SETTINGS
    # jobflow-remote stores a job with jsanitize, which keeps only the stage's value
    phonons = ReferenceStaticsMaker(stage=Stage.DFT_PHONONS)
    stored = MontyDecoder().process_decoded(jsanitize(phonons, strict=True, allow_bson=True))
    assert stored.stage is Stage.DFT_PHONONS
    assert stored.static_maker.stage is Stage.DFT_STATICS
    static = DFTStaticMaker(settings=SETTINGS).make(si2(5.468), label="x")
    assert static.name == "dft static"
    assert type(static).from_dict(static.as_dict()).function_kwargs["settings"] == SETTINGS


def test_old_names_are_the_new_makers():
    assert StaticMaker is DFTStaticMaker
    assert RelaxMaker is DFTRelaxMaker
    # the job names do not change with the class names
    assert DFTStaticMaker().name == "dft static"
    assert DFTRelaxMaker().name == "dft relax"
    assert ReferenceStaticsMaker().name == "dft statics"


def test_jobs_are_tagged_with_kind_and_stage():
    static = DFTStaticMaker(settings=SETTINGS).make(si2(5.468))
    assert job_tag(static) == JobTag(kind=JobKind.DFT, stage=Stage.DFT_STATICS)
    relax = DFTRelaxMaker(settings=SETTINGS).make(si2(5.468))
    assert job_tag(relax) == JobTag(kind=JobKind.DFT, stage=Stage.DFT_PHONONS)
    properties = DFTRelaxMaker(
        name="dft properties relax", settings=SETTINGS, stage=Stage.PROPERTIES
    ).make(si2(5.468))
    assert job_tag(properties) == JobTag(kind=JobKind.DFT, stage=Stage.PROPERTIES)
    fan_out = ReferenceStaticsMaker(static_maker=DFTStaticMaker(settings=SETTINGS)).make(
        [si2(5.468)]
    )
    assert job_tag(fan_out) == JobTag(kind=JobKind.LIGHT, stage=Stage.DFT_STATICS)


def test_settings_record_and_phonon_maker():
    maker = DFTStaticMaker(settings=SETTINGS)
    assert maker.settings_record() == SETTINGS.model_dump(mode="json")
    assert maker.phonon_static_name == "dft phonon displacement"
    phonon = maker.phonon_static_maker()
    assert (phonon.name, phonon.stage) == ("dft phonon displacement", Stage.DFT_PHONONS)
    assert phonon.settings == SETTINGS
    assert (maker.name, maker.stage) == ("dft static", Stage.DFT_STATICS)  # unchanged


@pytest.mark.parametrize(
    ("fan_out_maker", "names", "stage"),
    [
        (
            ReferenceStaticsMaker(static_maker=DFTStaticMaker(settings=SETTINGS)),
            ["dft static 1/2", "dft static 2/2"],
            Stage.DFT_STATICS,
        ),
        (
            ReferenceStaticsMaker(
                name="dft phonon statics",
                static_maker=DFTStaticMaker(settings=SETTINGS).phonon_static_maker(),
                stage=Stage.DFT_PHONONS,
            ),
            ["dft phonon displacement 1/2", "dft phonon displacement 2/2"],
            Stage.DFT_PHONONS,
        ),
    ],
)
def test_fan_out_tags_the_statics_it_creates(fan_out_maker, names, stage):
    """The statics created at run time carry their kind and stage (no DFT runs here)."""
    fan_out = fan_out_maker.make([si2(5.468), si2(5.5)])
    assert job_tag(fan_out) == JobTag(kind=JobKind.LIGHT, stage=stage)
    store = memory_store()
    store.connect()
    restored = type(fan_out).from_dict(fan_out.as_dict())  # as a remote worker gets it
    response = restored.run(store)  # builds the statics, runs no DFT
    statics = [j for j in response.replace.jobs if j.name != "store_inputs"]
    assert [j.name for j in statics] == names
    for static in statics:
        assert job_tag(static) == JobTag(kind=JobKind.DFT, stage=stage)


@pytest.mark.dft
def test_reference_statics_fan_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    upstream = two_structures()
    statics = ReferenceStaticsMaker(static_maker=DFTStaticMaker(settings=SETTINGS)).make(
        upstream.output, metadata={"material": "Si"}
    )
    store = memory_store()
    run_locally(Flow([upstream, statics]), store=store, create_folders=True, ensure_success=True)

    names = sorted(doc["name"] for doc in store.query({"name": {"$regex": "^dft static "}}))
    assert names == ["dft static 1/2", "dft static 2/2"]
    documents = [StaticDocument.model_validate(d) for d in statics.output.resolve(store)]
    assert len(documents) == 2
    for index, document in enumerate(documents):
        assert document.label == f"dft static {index + 1}/2"
        assert document.metadata == {"material": "Si", "index": index, "n_structures": 2}
        assert document.engine == "gpaw"
        assert document.settings == SETTINGS.model_dump()
        assert document.kpoints == kpoint_mesh(si2(5.468), SETTINGS.kspacing) == [4, 4, 4]
        assert document.energy == document.free_energy_ev  # the training energy
        assert not document.spin_polarised
        assert document.magnetic_moment_total_mub is None
        assert document.converged
        assert np.isfinite(document.energy)
        assert np.array(document.forces).shape == (2, 3)
        assert np.array(document.stress).shape == (3, 3)
    assert np.abs(documents[0].forces).max() < 1e-3  # ideal diamond: no forces
    assert np.abs(documents[1].forces).max() > 0.1
    assert documents[1].energy > documents[0].energy
    # One folder per static, each with its own GPAW log.
    assert len(list(Path(tmp_path).glob("job_*/gpaw.txt"))) == 2


@pytest.mark.dft
def test_relax_expands_compressed_si(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = si2(5.3)
    maker = DFTRelaxMaker(settings=SETTINGS, fmax=0.01, max_steps=40)
    relax = maker.make(start, metadata={"material": "Si"})
    responses = run_locally(relax, store=memory_store(), create_folders=True, ensure_success=True)
    document = responses[relax.uuid][1].output

    assert isinstance(document, StaticDocument)
    assert document.label == "dft relax"
    assert document.metadata["material"] == "Si"
    assert document.metadata["relax_converged"]
    assert 0 < document.metadata["n_steps"] <= 40
    assert document.structure.volume > start.volume * 1.03
    assert np.abs(document.forces).max() < 0.01
    # Residual stress within the filter's threshold: fmax·N/V (eV/Å³) in GPa.
    stress_limit = 0.01 * len(start) / document.structure.volume * EV_PER_A3_TO_GPA
    assert np.abs(document.stress).max() < stress_limit
    (trajectory,) = Path(tmp_path).glob(f"job_*/{RELAX_TRAJECTORY_FILE}")
    first = read(trajectory, index=0)
    assert document.energy < first.get_potential_energy() - 0.05
