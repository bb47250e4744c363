"""DFT reference phonons: the jobs, their wiring and tags, and the run-time fan-out."""

from __future__ import annotations

import pytest

from mlip_finetune.dft.jobs import RelaxMaker, StaticMaker
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.evaluation.phonons import displaced_supercells
from mlip_finetune.flows.reference import dft_reference_phonons, phonon_displacements
from mlip_finetune.schemas.jobs import JobKind, Stage, job_tag

MATRIX = [[2, 0, 0], [0, 2, 0], [0, 0, 2]]


@pytest.fixture
def settings():
    return DFTSettings.test()


def _reference(si_primitive, settings, relax=True):
    return dft_reference_phonons(
        si_primitive,
        MATRIX,
        [4, 4, 4],
        static_maker=StaticMaker(settings=settings),
        relax_maker=RelaxMaker(settings=settings, fmax=1e-2) if relax else None,
        displacement=0.02,
        fc_calculator="symfc",
    )


def _tag(job):
    tag = job_tag(job)
    return tag.kind, tag.stage


def test_reference_relaxes_displaces_and_assembles(si_primitive, settings):
    jobs, phonons = _reference(si_primitive, settings)
    relax, displaced, statics, assembled = jobs
    assert [j.name for j in jobs] == [
        "dft relax",
        "phonon displacements",
        "dft phonon statics",
        "dft phonons",
    ]
    assert phonons is assembled
    # the displacements are of the relaxed cell, the phonons of the same cell
    assert {r.uuid for r in displaced.input_references} == {relax.uuid}
    assert displaced.function_args[0].attributes == (("a", "structure"),)
    assert {r.uuid for r in statics.input_references} == {displaced.uuid}
    assert {r.uuid for r in assembled.input_references} == {relax.uuid, statics.uuid}
    assert assembled.function_kwargs["label"] == "dft"
    assert assembled.function_kwargs["mesh"] == [4, 4, 4]
    assert assembled.function_kwargs["fc_calculator"] == "symfc"
    assert assembled.function_args[1:3] == (MATRIX, 0.02)
    assert _tag(relax) == (JobKind.DFT, Stage.DFT_PHONONS)
    for job in (displaced, statics, assembled):
        assert _tag(job) == (JobKind.LIGHT, Stage.DFT_PHONONS), job.name


def test_phonon_statics_have_the_training_settings_and_their_own_name(si_primitive, settings):
    jobs, _ = _reference(si_primitive, settings)
    statics = jobs[2]
    static_maker = statics.function_kwargs["static_maker"]
    assert static_maker.name == "dft phonon displacement"
    assert static_maker.settings == settings
    # the fan-out replaces itself at run time by one DFT static per displacement
    structures = phonon_displacements.original(si_primitive, MATRIX, 0.02)
    response = statics.function(structures, **statics.function_kwargs)
    children = response.replace.jobs
    n = len(structures)
    assert [j.name for j in children] == [
        f"dft phonon displacement {i}/{n}" for i in range(1, n + 1)
    ]
    for child in children:
        assert _tag(child) == (JobKind.DFT, Stage.DFT_PHONONS)


def test_without_relaxation_the_input_cell_is_displaced(si_primitive, settings):
    jobs, phonons = _reference(si_primitive, settings, relax=False)
    assert [j.name for j in jobs] == ["phonon displacements", "dft phonon statics", "dft phonons"]
    assert jobs[0].input_references == ()
    assert jobs[0].function_args[0] == si_primitive
    assert phonons.function_args[0] == si_primitive


def test_phonon_displacements_are_phonopys(si_primitive):
    supercells = phonon_displacements.original(si_primitive, MATRIX, 0.02)
    _, expected = displaced_supercells(si_primitive, MATRIX, 0.02)
    assert len(supercells) == len(expected) >= 1
    for got, want in zip(supercells, expected, strict=True):
        assert len(got) == 8 * len(si_primitive)
        assert got == want
