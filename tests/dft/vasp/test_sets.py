"""The paper's VASP input sets (INCAR presets, k-point mesh), checked against the fake's rules."""

from __future__ import annotations

import math

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Kpoints

from mlip_finetune.dft.settings import DFTSettings, kpoint_mesh
from mlip_finetune.dft.vasp.sets import (
    ISPIN_AUTO,
    PAPER_RELAX_FMAX,
    VASP_ISMEAR,
    PaperRelaxSetGenerator,
    PaperStaticSetGenerator,
    gamma_mesh,
    kspacing_from_inverse_length,
    paper_relax_incar,
    paper_static_incar,
    phase_transition_static_incar,
    smearing_incar,
)
from tests.dft.test_magnetism import bcc_fe
from tests.dft.vasp_fake import (
    PAPER_STATIC_INCAR,
    PAPER_STATIC_TAGS,
    VaspInputDriftError,
    check_paper_inputs,
    si2,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


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


def test_presets_differ_where_the_paper_says():
    static, relax = paper_static_incar(), paper_relax_incar()
    assert {k for k in static | relax if static.get(k) != relax.get(k)} == {
        "ISYM",
        "NSW",
        "IBRION",
        "ISIF",
        "EDIFFG",
    }
    assert relax["EDIFFG"] == -PAPER_RELAX_FMAX
    phase = phase_transition_static_incar()
    assert {k for k in static if static[k] != phase[k]} == {"ENCUT", "EDIFF"}
    assert paper_static_incar(spin_polarised=True)["ISPIN"] == 2
    assert paper_static_incar(spin_polarised=False)["ISPIN"] == 1
    assert static["ISPIN"] == ISPIN_AUTO  # decided per structure


def test_magnetic_structures_get_ispin_2_and_atomate2s_magmom(tmp_path):
    vis = PaperStaticSetGenerator().get_input_set(bcc_fe(), potcar_spec=True)
    assert vis.incar["ISPIN"] == 2
    assert vis.incar["MAGMOM"] == [5.0, 5.0]  # the MP table of atomate2's base set
    # atomate2 adds LMAXMIX 4 (charge mixing up to l = 4) for d elements
    expected = PAPER_STATIC_INCAR | {"ISPIN": 2, "MAGMOM": [5.0, 5.0], "LMAXMIX": 4}
    assert dict(vis.incar) == expected
    vis.write_input(tmp_path)
    check_paper_inputs(tmp_path, PAPER_STATIC_TAGS)  # the fake's own rule agrees
    # a 'magmom' site property comes first, as in atomate2
    given = PaperStaticSetGenerator().get_input_set(bcc_fe(magmom=[2.2, -2.2]), potcar_spec=True)
    assert (given.incar["ISPIN"], given.incar["MAGMOM"]) == (2, [2.2, -2.2])
    relax = PaperRelaxSetGenerator().get_input_set(bcc_fe(), potcar_spec=True)
    assert (relax.incar["ISPIN"], relax.incar["MAGMOM"]) == (2, [5.0, 5.0])


def test_non_magnetic_structures_stay_spin_paired():
    incar = PaperStaticSetGenerator().get_input_set(si2(5.43), potcar_spec=True).incar
    assert incar["ISPIN"] == 1
    assert "MAGMOM" not in incar
    polarised = si2(5.43).copy(site_properties={"magmom": [1.0, 0.0]})
    incar = PaperStaticSetGenerator().get_input_set(polarised, potcar_spec=True).incar
    assert (incar["ISPIN"], incar["MAGMOM"]) == (2, [1.0, 0.0])


def test_fake_rejects_a_spin_paired_magnet(tmp_path):
    generator = PaperStaticSetGenerator(preset_incar=paper_static_incar(spin_polarised=False))
    generator.get_input_set(bcc_fe(), potcar_spec=True).write_input(tmp_path)
    with pytest.raises(VaspInputDriftError, match="ISPIN: expected 2, got 1"):
        check_paper_inputs(tmp_path, PAPER_STATIC_TAGS)


def test_smearing_is_the_dft_settings_one():
    paper = DFTSettings.paper()
    static = paper_static_incar()
    assert static["ISMEAR"] == VASP_ISMEAR[paper.smearing] == 0
    assert static["SIGMA"] == paper.smearing_width == 0.05
    assert smearing_incar("fermi-dirac", 0.1) == {"ISMEAR": -1, "SIGMA": 0.1}
    fermi = paper_static_incar(smearing="fermi-dirac", smearing_width=0.1)
    assert (fermi["ISMEAR"], fermi["SIGMA"]) == (-1, 0.1)
    with pytest.raises(ValueError, match="no VASP ISMEAR"):
        smearing_incar("cold", 0.1)


def test_gamma_mesh_is_the_engines_mesh():
    structure = si2(5.30)
    kpoints = gamma_mesh(structure, 0.1)
    assert kpoints.style == Kpoints.supported_modes.Gamma
    assert list(kpoints.kpts[0]) == kpoint_mesh(structure.lattice, 0.1)
    with pytest.raises(ValueError, match="positive"):
        kspacing_from_inverse_length(0.0)
    assert kspacing_from_inverse_length(0.1) == pytest.approx(0.2 * math.pi)


def test_set_generator_needs_a_structure_for_its_mesh():
    with pytest.raises(RuntimeError, match="No structure"):
        _ = PaperStaticSetGenerator().kpoints_updates
