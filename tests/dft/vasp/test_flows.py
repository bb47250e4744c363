"""atomate2's VASP property flows with the paper's settings: inputs, volumes and routing."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Kpoints

from mlip_finetune.dft.vasp.flows import (
    paper_double_relax_maker,
    paper_elastic_maker,
    paper_eos_maker,
    paper_phonon_maker,
    paper_relax_maker,
)
from mlip_finetune.dft.vasp.jobs import is_vasp_job
from mlip_finetune.schemas.jobs import JobKind, Stage, job_tag
from tests.dft.vasp_fake import (
    PAPER_RELAX_TAGS,
    PAPER_STATIC_INCAR,
    VaspInputDriftError,
    check_paper_inputs,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


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
    jobs = {job.name: job for job, _ in maker.make(si_primitive).iterflow()}
    kinds = {name: job_tag(job).kind for name, job in jobs.items()}
    assert kinds["vasp relax 1"] == kinds["vasp relax 2"] == JobKind.DFT
    assert kinds["fit_elastic_tensor"] == JobKind.LIGHT
    assert {job_tag(job).stage for job in jobs.values()} == {Stage.OTHER}
    # the deformed-cell relaxations "vasp elastic relax i/N" are created at run time by
    # this job, which replays the tag of VASP jobs on them
    fan_out = jobs["run_elastic_deformations"]
    assert [u["callback_filter"] for u in fan_out.metadata_updates] == [None, is_vasp_job]


def test_paper_eos_maker_volumes_and_settings(tmp_path, si_primitive):
    maker = paper_eos_maker()
    strains = np.linspace(*maker.linear_strain, maker.number_of_frames)
    volumes = (1 + strains) ** 3 - 1  # evenly spaced linear strains: volumes within 0.1 %
    np.testing.assert_allclose(volumes[[0, -1]], [-0.05, 0.05], atol=1e-12)
    np.testing.assert_allclose(volumes, np.linspace(-0.05, 0.05, 11), atol=1e-3)
    point = _written_inputs(maker.eos_relax_maker, si_primitive, tmp_path / "point")
    check_paper_inputs(point, PAPER_RELAX_TAGS | {"ISIF": 4})  # fixed volume
    kinds = {job.name: job_tag(job).kind for job, _ in maker.make(si_primitive).iterflow()}
    points = [name for name in kinds if name.startswith("vasp eos relax deformation")]
    assert len(points) == 11
    assert {kinds[name] for name in points} == {JobKind.DFT}  # to the CPU worker
    assert kinds["vasp eos postprocessing"] == JobKind.LIGHT


def test_relax_helpers(tmp_path, si_primitive):
    fixed_cell = paper_relax_maker("vasp elastic relax", ISIF=2, EDIFFG=-1e-3)
    assert fixed_cell.name == "vasp elastic relax"
    directory = _written_inputs(fixed_cell, si_primitive, tmp_path / "fixed")
    check_paper_inputs(directory, PAPER_RELAX_TAGS | {"ISIF": 2, "EDIFFG": -1e-3})
    double = paper_double_relax_maker("vasp properties relax")
    jobs = [job for job, _ in double.make(si_primitive).iterflow()]
    assert [job.name for job in jobs] == ["vasp properties relax 1", "vasp properties relax 2"]
    assert {job_tag(job).kind for job in jobs} == {JobKind.DFT}
    # the phonon flow's displaced supercells are created at run time, tagged the same way
    phonon_jobs = {job.name: job for job, _ in paper_phonon_maker().make(si_primitive).iterflow()}
    assert job_tag(phonon_jobs["vasp static energy"]).kind is JobKind.DFT
    assert job_tag(phonon_jobs["run_phonon_displacements"]).kind is JobKind.LIGHT
    updates = phonon_jobs["run_phonon_displacements"].metadata_updates
    assert [u["callback_filter"] for u in updates] == [None, is_vasp_job]
