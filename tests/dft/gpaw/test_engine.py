"""The GPAW engine: parameter translation, worker command, and real GPAW runs on Si2.

The runs (marked ``dft``) use DFTSettings.test() and take a few seconds each.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlip_finetune.dft.engines import DFTCalculationError, get_engine
from mlip_finetune.dft.gpaw.engine import (
    LOG_FILE,
    OUTPUT_FILE,
    _atoms_dict,
    gpaw_parameters,
    worker_command,
)
from mlip_finetune.dft.magnetism import MP_DEFAULT_MAGMOM
from mlip_finetune.dft.settings import DFTSettings, kpoint_mesh

SETTINGS = DFTSettings.test()


def si2(a: float) -> Structure:
    """Diamond Si, primitive cell, lattice parameter a (Å)."""
    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])
    return conv.get_primitive_structure()


def rattled(structure: Structure, index: int, displacement) -> Structure:
    moved = structure.copy()
    moved.translate_sites([index], displacement, frac_coords=False, to_unit_cell=False)
    return moved


@pytest.fixture(scope="module")
def rattled_si2(si_primitive):
    return rattled(si_primitive, 0, [0.07, -0.04, 0.03])


@pytest.fixture(scope="module")
def rattled_result(rattled_si2, tmp_path_factory):
    directory = tmp_path_factory.mktemp("rattled")
    return get_engine("gpaw").run_static(rattled_si2, SETTINGS, directory)


@pytest.mark.dft
def test_static_si2(rattled_result, rattled_si2):
    result = rattled_result
    assert np.isfinite(result.energy)
    assert -12.0 < result.energy < -6.0  # about -5 eV/atom on GPAW's energy zero
    assert result.converged
    assert result.kpoints == kpoint_mesh(rattled_si2, SETTINGS.kspacing) == [4, 4, 4]
    assert result.ecut == SETTINGS.ecut  # Si's setup is soft: the minimum cutoff stays
    assert not result.spin_polarised
    assert result.magnetic_moment is None
    assert result.forces.shape == (2, 3)
    assert np.abs(result.forces).max() > 0.1  # the rattle produced real forces
    np.testing.assert_allclose(result.forces.sum(axis=0), 0.0, atol=1e-3)
    assert result.stress.shape == (3, 3)
    np.testing.assert_allclose(result.stress, result.stress.T, atol=1e-8)
    assert result.structure == rattled_si2
    assert result.n_steps == 0
    assert result.relax_converged is None
    assert (result.directory / LOG_FILE).is_file()
    assert (result.directory / OUTPUT_FILE).is_file()
    assert result.wall_time > 0


@pytest.mark.dft
def test_forces_are_minus_energy_gradient(rattled_si2, rattled_result, tmp_path):
    """F_x(atom 0) = -dE/dx by a central difference with ±0.01 Å (free energy)."""
    step = 0.01
    engine = get_engine("gpaw")
    energies = [
        engine.run_static(
            rattled(rattled_si2, 0, [sign * step, 0.0, 0.0]), SETTINGS, tmp_path / f"d{sign:+d}"
        ).free_energy
        for sign in (1, -1)
    ]
    finite_difference = -(energies[0] - energies[1]) / (2 * step)
    analytic = rattled_result.forces[0, 0]
    assert abs(analytic) > 0.1
    assert finite_difference == pytest.approx(analytic, rel=0.03)


@pytest.mark.dft
def test_compressed_cell_stress_is_compressive(tmp_path):
    engine = get_engine("gpaw")
    compressed = engine.run_static(si2(5.25), SETTINGS, tmp_path / "compressed").stress
    reference = engine.run_static(si2(5.55), SETTINGS, tmp_path / "reference").stress
    # Cubic symmetry: isotropic diagonal, no shear.
    np.testing.assert_allclose(np.diag(compressed), compressed[0, 0], atol=1e-5)
    np.testing.assert_allclose(compressed - np.diag(np.diag(compressed)), 0.0, atol=1e-5)
    assert np.trace(compressed) / 3 < -0.01  # eV/Å³: compressive, ASE sign convention
    assert np.trace(compressed) < np.trace(reference)


@pytest.mark.dft
def test_overlapping_atoms_raise_readable_error(tmp_path):
    lattice = Lattice.cubic(5.468)
    broken = Structure(lattice, ["Si", "Si"], [[0, 0, 0], [0, 0, 0.001]])
    serial = SETTINGS.model_copy(update={"mpi_ranks": 1})
    with pytest.raises(DFTCalculationError) as raised:
        get_engine("gpaw").run_static(broken, serial, tmp_path)
    message = str(raised.value)
    assert message.startswith(f"gpaw calculation in {tmp_path} failed: worker exited with code")
    assert "Atoms are too close" in message.splitlines()[0]  # GPAW's own exception
    assert raised.value.engine == "gpaw"
    assert raised.value.directory == tmp_path


@pytest.mark.dft
def test_unconverged_scf_raises(si_primitive, tmp_path):
    settings = SETTINGS.model_copy(update={"max_scf_iterations": 2})
    with pytest.raises(DFTCalculationError, match="SCF did not converge") as raised:
        get_engine("gpaw").run_static(si_primitive, settings, tmp_path)
    assert "|iter:   2|" in raised.value.log_tail  # GPAW's SCF table is quoted


@pytest.mark.dft
def test_spin_polarised_run_uses_site_magmoms(rattled_si2, rattled_result, tmp_path):
    """Zero initial moments from the 'magmom' site property reproduce the spin-paired run."""
    settings = SETTINGS.model_copy(update={"spin_polarised": True})
    structure = rattled_si2.copy(site_properties={"magmom": [0.0, 0.0]})
    spin = get_engine("gpaw").run_static(structure, settings, tmp_path)
    log = (tmp_path / LOG_FILE).read_text()
    assert "spinpol=True" in log
    assert "|iter:   1|" in log
    assert "( 0.0000,  0.0000,  0.0000) |" in log  # initial moments from the site property
    assert re.search(r"Total magnetic moment: \(0\.000000, 0\.000000, -?0\.000000\)", log)
    assert spin.energy == pytest.approx(rattled_result.energy, abs=1e-5)
    np.testing.assert_allclose(spin.forces, rattled_result.forces, atol=1e-4)


def test_default_initial_magmoms():
    structure = si2(5.468)
    assert _atoms_dict(structure, spinpol=True)["magmoms"] == [MP_DEFAULT_MAGMOM] * 2 == [0.6, 0.6]
    assert _atoms_dict(structure, spinpol=False)["magmoms"] is None
    iron = Structure(Lattice.cubic(2.83), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert _atoms_dict(iron, spinpol=True)["magmoms"] == [5.0, 5.0]  # MP's table


def test_disordered_structure_is_refused(tmp_path):
    disordered = Structure(Lattice.cubic(5.468), [{"Si": 0.5, "Ge": 0.5}], [[0, 0, 0]])
    with pytest.raises(ValueError, match="ordered structure"):
        get_engine("gpaw").run_static(disordered, SETTINGS, tmp_path)


def test_gpaw_parameters_translation_and_overrides():
    settings = DFTSettings.test().model_copy(
        update={
            "scf_forces_tol": 1e-3,
            "engine_kwargs": {"convergence": {"density": 1e-6}, "nbands": 12},
        }
    )
    params = gpaw_parameters(settings, [2, 3, 4])
    assert params["mode"] == {"name": "pw", "ecut": 250.0}
    assert params["kpts"] == {"size": [2, 3, 4], "gamma": True}
    assert params["occupations"] == {"name": "fermi-dirac", "width": 0.05}
    assert params["setups"] == {"default": "paw", "Mg": "2"}
    assert params["spinpol"] is False
    decided = gpaw_parameters(settings, [2, 3, 4], spinpol=True, ecut=650.0)
    assert (decided["spinpol"], decided["mode"]["ecut"]) == (True, 650.0)
    gaussian = settings.model_copy(update={"smearing": "gaussian", "smearing_width": 0.1})
    assert gpaw_parameters(gaussian, [1, 1, 1])["occupations"] == {
        "name": "methfessel-paxton",
        "order": 0,
        "width": 0.1,
    }
    assert params["convergence"] == {"energy": 1e-7, "forces": 1e-3, "density": 1e-6}
    assert params["nbands"] == 12
    assert params["xc"] == "PBE"
    monkhorst_pack = gpaw_parameters(settings.model_copy(update={"gamma_centred": False}), [2] * 3)
    assert monkhorst_pack["kpts"] == {"size": [2, 2, 2]}


def test_worker_command():
    serial = worker_command(1)
    assert serial[0] == sys.executable
    assert serial[1:3] == ["-m", "mlip_finetune.dft.gpaw.worker"]
    parallel = worker_command(2)
    assert parallel[1:3] == ["-np", "2"]
    assert parallel[3:] == serial
