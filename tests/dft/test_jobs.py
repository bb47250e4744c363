"""jobflow Makers with real GPAW runs (DFTSettings.test())."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from jobflow import Flow, JobStore, job, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from mlip_finetune.dft.engines import UnknownEngineError
from mlip_finetune.dft.gpaw_engine import RELAX_TRAJECTORY_FILE
from mlip_finetune.dft.jobs import ReferenceStaticsMaker, RelaxMaker, StaticMaker
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.schemas.dft import StaticDocument
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
        lambda s: StaticMaker(settings=s).make(si2(5.468)),
        lambda s: ReferenceStaticsMaker(static_maker=StaticMaker(settings=s)).make([si2(5.468)]),
        lambda s: RelaxMaker(settings=s).make(si2(5.468)),
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
        RelaxMaker(fmax=0.0).make(si2(5.468))


def test_makers_serialise_round_trip():
    maker = ReferenceStaticsMaker(static_maker=StaticMaker(settings=SETTINGS))
    restored = ReferenceStaticsMaker.from_dict(maker.as_dict())
    assert restored.static_maker.settings == SETTINGS
    static = StaticMaker(settings=SETTINGS).make(si2(5.468), label="x")
    assert static.name == "dft static"
    assert type(static).from_dict(static.as_dict()).function_kwargs["settings"] == SETTINGS


@pytest.mark.dft
def test_reference_statics_fan_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    upstream = two_structures()
    statics = ReferenceStaticsMaker(static_maker=StaticMaker(settings=SETTINGS)).make(
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
        assert document.kpoints == [2, 2, 2]
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
    maker = RelaxMaker(settings=SETTINGS, fmax=0.01, max_steps=40)
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
