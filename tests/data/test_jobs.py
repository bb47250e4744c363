"""Tests of TrainingDataMaker: the full paper §4.2 protocol with a small random MACE."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
from jobflow import Flow, Job, JobStore, run_locally
from maggma.stores import MemoryStore
from monty.json import MontyDecoder, MontyEncoder
from pymatgen.core import Lattice, Structure

from mlip_finetune.core.provenance import sha256_file
from mlip_finetune.core.store import local_store
from mlip_finetune.data.jobs import (
    DATA_STORE_KEYS,
    FoundationModelMismatchError,
    TrainingDataMaker,
    UnsupportedElementError,
    generate_training_data,
    make_frame_structures,
)
from mlip_finetune.data.supercells import SupercellProtocol
from mlip_finetune.foundation import check_model_elements, model_elements
from mlip_finetune.schemas.data import TrainingDataDocument
from mlip_finetune.schemas.jobs import JobKind, JobTag, Stage, job_tag

SCALES = (-0.05, -0.025, 0.0, 0.025, 0.05)
FAST = {"protocol": SupercellProtocol.PRIMITIVE, "max_steps": 200, "fmax": 1e-2, "device": "cpu"}


def run_jobs(jobs, store, directory):
    """Run jobs locally in ``directory`` with ``store``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        run_locally(Flow(jobs), store=store, create_folders=True, ensure_success=True)


def run_maker(maker, structure, model_path, directory):
    """Run the maker's job locally in ``directory``; return the document read from the store."""
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    new_job = maker.make(structure, str(model_path), sha256_file(model_path))
    run_jobs([new_job], store, directory)
    return TrainingDataDocument.model_validate(store.get_output(new_job.uuid, load=True))


@pytest.fixture(scope="module")
def document(si_primitive, random_mace_si, tmp_path_factory, one_torch_thread):
    maker = TrainingDataMaker(**FAST)
    return run_maker(maker, si_primitive, random_mace_si, tmp_path_factory.mktemp("run"))


def jitter_volume_bounds(lattice, fraction):
    """Smallest and largest V'/V of jitter_lattice: corners of the 6-D box and its centre."""
    params = np.array(lattice.parameters)
    ratios = [1.0]
    for signs in itertools.product((-1, 1), repeat=6):
        jittered = Lattice.from_parameters(*(params * (1 + fraction * np.array(signs))))
        ratios.append(jittered.volume / lattice.volume)
    return min(ratios), max(ratios)


def test_maker_defaults_follow_the_paper():
    maker = TrainingDataMaker()
    assert maker.name == "training data"
    assert maker.protocol is SupercellProtocol.SMALL
    assert maker.volume_scales == SCALES
    assert (maker.rattle_amplitude, maker.lattice_jitter, maker.fmax) == (0.1, 0.02, 1e-4)
    assert (maker.n_frames, maker.energy_fraction, maker.validation_volume_scale) == (4, 0.9, 0)


def test_document_counts_and_split(document):
    assert document.formula == "Si"
    assert document.protocol == "primitive"
    assert document.supercell_matrix == np.eye(3, dtype=int).tolist()
    assert document.n_atoms_supercell == 2
    # the primitive fcc cell of diamond Si: three equal edges at 60°
    np.testing.assert_allclose(document.supercell_angles_degrees, [60.0] * 3, atol=1e-6)
    assert len(set(np.round(document.supercell_lengths_angstrom, 6))) == 1
    assert len(document.frames) == 20
    assert (document.n_train, document.n_validation) == (16, 4)
    assert sum(f.split == "train" for f in document.frames) == 16
    validation = [f for f in document.frames if f.split == "validation"]
    assert len(validation) == 4
    assert {f.volume_scale for f in validation} == {0.0}
    assert {f.trajectory_index for f in validation} == {2}
    assert document.seed == 42


def test_frames_are_energy_spaced_steps_of_each_trajectory(document):
    assert [r.volume_scale for r in document.relaxations] == list(SCALES)
    for record in document.relaxations:
        frames = [f for f in document.frames if f.trajectory_index == record.trajectory_index]
        assert [f.frame_index for f in frames] == [0, 1, 2, 3]
        steps = [f.relaxation_step for f in frames]
        assert steps[0] == 0
        assert steps == sorted(set(steps))
        assert steps[-1] <= record.n_steps
        assert frames[0].foundation_energy == record.energy_start
        drop = record.energy_end - record.energy_start
        assert drop < 0
        for frame in frames:
            target = record.energy_start + frame.frame_index / 3 * 0.9 * drop
            assert frame.foundation_energy <= target + 1e-12
        assert record.converged
        assert record.final_fmax < 1e-2


def test_frame_energies_are_foundation_energies(document, random_mace_si):
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlip_finetune.calculators import mace_calculator

    frame = document.frames[6]
    atoms = AseAtomsAdaptor.get_atoms(frame.structure)
    atoms.calc = mace_calculator(random_mace_si, device="cpu")
    assert atoms.get_potential_energy() == pytest.approx(frame.foundation_energy, abs=1e-8)


def test_frame_volumes_follow_the_scaling(document, si_primitive):
    # jitter alone would move the volume by up to ~6 %, more than the scaling itself
    low, high = jitter_volume_bounds(si_primitive.lattice, 0.02)
    assert low < 0.95
    assert high > 1.05
    for record in document.relaxations:
        frames = [f for f in document.frames if f.trajectory_index == record.trajectory_index]
        volumes = [f.structure.volume for f in frames]
        np.testing.assert_allclose(volumes, volumes[0], rtol=1e-12)  # fixed-cell relaxation
        # the volume label is exact: V0·(1 + scale) of the unperturbed cell
        expected = si_primitive.volume * (1 + record.volume_scale)
        assert volumes[0] == pytest.approx(expected, rel=1e-9)
        # while the cell shape is jittered (not a pure isotropic scaling of the input)
        abc = np.array(frames[0].structure.lattice.abc) / expected ** (1 / 3)
        assert np.ptp(abc) > 0
    # rattled configurations differ between trajectories
    starts = [f.structure for f in document.frames if f.frame_index == 0]
    assert not np.allclose(starts[0].frac_coords, starts[1].frac_coords)


def test_same_seed_gives_identical_frames(document, si_primitive, random_mace_si, tmp_path):
    again = run_maker(TrainingDataMaker(**FAST), si_primitive, random_mace_si, tmp_path)
    assert [f.relaxation_step for f in again.frames] == [f.relaxation_step for f in document.frames]
    for first, second in zip(document.frames, again.frames, strict=True):
        assert first.foundation_energy == second.foundation_energy
        np.testing.assert_array_equal(first.structure.cart_coords, second.structure.cart_coords)
        np.testing.assert_array_equal(
            first.structure.lattice.matrix, second.structure.lattice.matrix
        )


def test_other_seed_gives_other_frames(document, si_primitive, random_mace_si, tmp_path):
    maker = TrainingDataMaker(**FAST, seed=7, volume_scales=(-0.05, 0.0))
    other = run_maker(maker, si_primitive, random_mace_si, tmp_path)
    assert (other.n_train, other.n_validation) == (4, 4)
    assert other.seed == 7
    start, reference = other.frames[0].structure, document.frames[0].structure
    assert not np.allclose(start.lattice.matrix, reference.lattice.matrix)
    assert not np.allclose(start.frac_coords, reference.frac_coords)


def test_job_serialises_with_its_maker(si_primitive, random_mace_si):
    maker = TrainingDataMaker(protocol=SupercellProtocol.LARGE, seed=3)
    new_job = maker.make(si_primitive, str(random_mace_si), "abc")
    assert new_job.name == "training data"
    restored = json.loads(json.dumps(new_job.as_dict(), cls=MontyEncoder), cls=MontyDecoder)
    assert isinstance(restored, Job)
    restored_maker = restored.function_kwargs["maker"]
    # JSON turns the tuple of volume scales into a list; the job converts it back
    assert replace(restored_maker, volume_scales=tuple(restored_maker.volume_scales)) == maker
    # a str Enum comes back as its value; the job converts it with SupercellProtocol(...)
    assert SupercellProtocol(restored_maker.protocol) is SupercellProtocol.LARGE


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"validation_volume_scale": 0.1}, "validation_volume_scale=0.1 is not one of"),
        ({"n_frames": 1}, "n_frames must be at least 2"),
        ({"protocol": "huge"}, "huge"),
        ({"volume_scales": (0.0,)}, "at least two volume scales"),
        ({"volume_scales": (0.0, 0.0, 0.05)}, "duplicates"),
        ({"energy_fraction": 0.0}, "energy_fraction"),
        ({"lattice_jitter": 0.3}, "lattice_jitter"),
        ({"max_steps": 0}, "max_steps"),
    ],
)
def test_bad_settings_fail_at_build_time(si_primitive, settings, match):
    with pytest.raises(ValueError, match=match):
        TrainingDataMaker(**settings).make(si_primitive, "model", "sha")


def test_unsupported_elements(random_mace_si, one_torch_thread):
    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.69), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    with pytest.raises(UnsupportedElementError, match=r"no parameters for Na, Cl"):
        check_model_elements(random_mace_si, [11, 17])
    with pytest.raises(UnsupportedElementError, match="Na, Cl"):
        generate_training_data.original(
            nacl, str(random_mace_si), sha256_file(random_mace_si), TrainingDataMaker(**FAST)
        )


def test_supported_elements_pass(random_mace_nacl):
    nacl = Structure(Lattice.cubic(5.69), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    numbers = [site.specie.Z for site in nacl]
    assert set(numbers) <= set(model_elements(random_mace_nacl))
    assert check_model_elements(random_mace_nacl, numbers) is None
    assert check_model_elements(random_mace_nacl, [17]) is None  # a subset is enough


def test_model_hash_is_checked(si_primitive, random_mace_si):
    with pytest.raises(FoundationModelMismatchError, match="expected 0000"):
        generate_training_data.original(
            si_primitive, str(random_mace_si), "0000", TrainingDataMaker(**FAST)
        )


def test_jobs_are_tagged_like_their_routing(si_primitive, random_mace_si):
    data = TrainingDataMaker().make(si_primitive, str(random_mace_si), "abc")
    structures = make_frame_structures(data.output)
    # remote.job_kind / remote.stage_of of these names: gpu / data and light / data
    assert job_tag(data) == JobTag(kind=JobKind.GPU, stage=Stage.DATA)
    assert structures.name == "frame structures"
    assert job_tag(structures) == JobTag(kind=JobKind.LIGHT, stage=Stage.DATA)
    assert DATA_STORE_KEYS == ("frames",)
    assert data._kwargs == {"data": ["frames"]}


def test_frames_live_in_the_data_store_and_resolve_back(
    si_primitive, random_mace_si, tmp_path, one_torch_thread
):
    store = local_store(tmp_path / "store")  # the embedded store of `mlip-finetune run`
    maker = TrainingDataMaker(**FAST, volume_scales=(-0.05, 0.0), n_frames=2)
    data = maker.make(si_primitive, str(random_mace_si), sha256_file(random_mace_si))
    structures = make_frame_structures(data.output)
    run_jobs([data, structures], store, tmp_path)

    store.connect()
    main = store.docs_store.query_one({"uuid": data.uuid})["output"]
    # the main document keeps a reference, not the frames and their structures
    assert set(main["frames"]) >= {"blob_uuid", "store"}
    assert main["frames"]["store"] == "data"
    assert "Structure" not in json.dumps(main)
    assert (main["n_train"], main["n_validation"]) == (2, 2)
    assert len(main["relaxations"]) == 2
    blob = store.additional_stores["data"].query_one({"blob_uuid": main["frames"]["blob_uuid"]})
    assert blob["job_uuid"] == data.uuid
    assert len(blob["data"]) == 4
    assert blob["data"][0]["structure"]["@class"] == "Structure"

    # readers that load (results, report, downstream jobs) get the whole document back
    document = TrainingDataDocument.model_validate(store.get_output(data.uuid, load=True))
    assert len(document.frames) == 4
    (loaded,) = store.query({"uuid": data.uuid}, load=True)
    assert len(loaded["output"]["frames"]) == 4
    received = [Structure.from_dict(s) for s in store.get_output(structures.uuid, load=True)]
    assert received == [frame.structure for frame in document.frames]
    store.close()


def test_maker_job_serialises_its_data_store_keys(si_primitive, random_mace_si):
    new_job = TrainingDataMaker().make(si_primitive, str(random_mace_si), "abc")
    restored = Job.from_dict(json.loads(json.dumps(new_job.as_dict(), cls=MontyEncoder)))
    assert restored._kwargs == {"data": ["frames"]}
    assert job_tag(restored) == JobTag(kind=JobKind.GPU, stage=Stage.DATA)
