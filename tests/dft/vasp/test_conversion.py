"""atomate2's VASP TaskDoc → StaticDocument: units, signs, site order, committed outputs."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Outcar, Vasprun

from mlip_finetune.dft.vasp.conversion import fmax_from_ediffg, site_order, vasp_stress_to_gpa
from mlip_finetune.units import EV_PER_A3_TO_GPA
from tests.dft.vasp_fake import REFERENCE_DIR, input_structure, reference

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_vasp_stress_sign_and_units():
    # VASP: a compressed cell has a positive pressure of 10 kBar = 1 GPa.
    compressed = np.diag([10.0, 10.0, 10.0])
    np.testing.assert_allclose(vasp_stress_to_gpa(compressed), -np.eye(3))
    with pytest.raises(ValueError, match="3, 3"):
        vasp_stress_to_gpa([1.0, 2.0, 3.0])


def test_site_order_maps_vasp_order_back():
    lattice = Lattice.cubic(5.5)
    caller = Structure(lattice, ["Cl", "Na", "Na"], [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0.0, 0.0]])
    vasp = Structure(lattice, ["Na", "Na", "Cl"], [[0.5, 0.0, 0.0], [1.0, 0, 0], [0.5, 0.5, 0.5]])
    assert site_order(caller, vasp) == [2, 1, 0]
    moved = vasp.copy()
    moved.translate_sites([2], [0.01, 0, 0], frac_coords=True)
    with pytest.raises(ValueError, match=r"Site 0 \(Cl"):
        site_order(caller, moved)


@pytest.mark.parametrize("case", ["si2_static", "nacl_static", "si2_relax"])
def test_committed_outputs_parse_to_the_gpaw_numbers(case):
    """pymatgen reads the written vasprun.xml/OUTCAR back to the GPAW numbers."""
    ref = reference(case)
    vasprun = Vasprun(REFERENCE_DIR / case / "outputs" / "vasprun.xml", parse_potcar_file=False)
    final = vasprun.ionic_steps[-1]
    assert len(vasprun.ionic_steps) == ref["n_steps"] + 1
    assert vasprun.final_energy == pytest.approx(ref["energy_ev"], abs=1e-9)
    assert final["e_fr_energy"] == pytest.approx(ref["free_energy_ev"], abs=1e-9)
    np.testing.assert_allclose(final["forces"], ref["forces_ev_per_a"], atol=1e-11)
    np.testing.assert_allclose(-0.1 * np.asarray(final["stress"]), ref["stress_gpa"], atol=1e-10)
    assert vasprun.converged
    assert list(vasprun.kpoints.kpts[0]) == ref["gpaw_kpoints"]
    outcar = Outcar(REFERENCE_DIR / case / "outputs" / "OUTCAR")
    assert outcar.final_energy == pytest.approx(ref["energy_ev"], abs=1e-9)


def test_fmax_from_ediffg():
    assert fmax_from_ediffg({"EDIFFG": -5e-4}) == pytest.approx(5e-4)
    assert fmax_from_ediffg({"EDIFFG": 1e-5}) is None  # an energy criterion
    assert fmax_from_ediffg({}) is None


@pytest.mark.dft
def test_reference_matches_a_fresh_gpaw_run(tmp_path):
    """The committed numbers are what GPAW gives today for the same structure and settings."""
    from mlip_finetune.dft.engines import get_engine
    from mlip_finetune.dft.settings import DFTSettings

    ref = reference("si2_static")
    settings = DFTSettings.model_validate(ref["gpaw_settings"])
    result = get_engine("gpaw").run_static(input_structure("si2_static"), settings, tmp_path)
    assert result.kpoints == ref["gpaw_kpoints"]
    assert result.energy == pytest.approx(ref["energy_ev"], abs=1e-5)
    np.testing.assert_allclose(result.forces, ref["forces_ev_per_a"], atol=1e-4)
    np.testing.assert_allclose(result.stress * EV_PER_A3_TO_GPA, ref["stress_gpa"], atol=5e-3)
