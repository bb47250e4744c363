"""EOS, double-well and per-model band-structure figures from real small documents."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from mlip_finetune.evaluation.eos import DEFAULT_VOLUME_STRAINS, eos_document_from_energies
from mlip_finetune.evaluation.phonons import (
    displaced_supercells,
    model_forces,
    phonon_document_from_forces,
)
from mlip_finetune.report.property_plots import (
    birch_murnaghan_energy,
    plot_band_structures_per_model,
    plot_double_wells,
    plot_eos,
)
from mlip_finetune.schemas.phase_transitions import (
    ModeScan,
    PhaseTransitionDocument,
    PhaseTransitionSettings,
)

MIN_PNG_BYTES = 10_000


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _eos(label, b0, v0, outlier=None):
    volumes = v0 * (1.0 + np.asarray(DEFAULT_VOLUME_STRAINS))
    energies = birch_murnaghan_energy(volumes, -3.5, v0, b0, 4.5)
    if outlier is not None:
        energies[outlier] += 0.02  # 20 meV/atom off the curve
    return eos_document_from_energies(volumes, energies, 1, label)


def test_birch_murnaghan_energy_has_its_minimum_at_v0():
    volumes = np.linspace(10.0, 14.0, 401)
    energies = birch_murnaghan_energy(volumes, -3.0, 12.0, 140.0, 4.5)
    assert volumes[np.argmin(energies)] == pytest.approx(12.0, abs=0.01)
    assert energies.min() == pytest.approx(-3.0, abs=1e-6)
    doc = _eos("synthetic", 140.0, 12.0)
    assert doc.b0 == pytest.approx(140.0, rel=1e-4)  # same form as pymatgen's fit


def test_eos_plot_marks_outliers(tmp_path):
    docs = [_eos("dft", 140.0, 12.0), _eos("foundation", 120.0, 12.4, outlier=8)]
    assert [p.index for p in docs[1].excluded] == [8]
    path = plot_eos(docs, tmp_path / "eos" / "eos.png")
    assert _is_png(path)
    assert path.stat().st_size > MIN_PNG_BYTES
    with pytest.raises(ValueError, match="at least one"):
        plot_eos([], tmp_path / "x.png")


def _scan(label, qpoint, depth, shape=(21,)):
    amplitudes = np.linspace(-0.5, 0.5, shape[0])
    if len(shape) == 1:
        x = amplitudes / 0.3
        energies = depth * (x**4 - 2 * x**2)  # double well, minima at ±0.3 Å
    else:
        grid = np.meshgrid(amplitudes, amplitudes, indexing="ij")
        energies = depth * (grid[0] ** 2 + grid[1] ** 2)
    return ModeScan(
        qpoint=qpoint,
        label=label,
        band_indices=[0],
        supercell_matrix=[[2, 0, 0], [0, 2, 0], [0, 0, 2]],
        n_atoms=40,
        amplitudes=amplitudes.tolist(),
        mass_weighted_norms=[3.0] * len(shape),
        grid_shape=list(shape),
        energies=np.ravel(energies).tolist(),
        reference_energy=-5.0,
        minima=[],
        minima_on_boundary=[],
    )


def _phase_doc(label, scans, structure):
    return PhaseTransitionDocument(
        label=label,
        structure=structure,
        initial_space_group_symbol="Pm-3m",
        initial_space_group_number=221,
        initial_n_primitive_atoms=5,
        settings=PhaseTransitionSettings(),
        unstable_modes=[],
        scans=scans,
        pathways=[],
        new_phases=[],
        phase_keys=[],
        wall_time_s=0.0,
    )


def test_double_well_plot_one_panel_per_1d_mode(tmp_path, si_primitive):
    dft = _phase_doc(
        "dft",
        [_scan("Γ", [0, 0, 0], 5.0), _scan("R", [0.5, 0.5, 0.5], 2.0, shape=(9, 9))],
        si_primitive,
    )
    model = _phase_doc(
        "foundation",
        [_scan("Γ", [0, 0, 0], 3.0), _scan("M", [0.5, 0.5, 0.0], 1.0)],
        si_primitive,
    )
    q, u = dft.scans[0].double_well()
    assert min(u) == pytest.approx(-5.0, abs=0.2)  # depth of the synthetic well
    assert q[0] == pytest.approx(-1.5)  # amplitude × mass-weighted norm
    path = plot_double_wells([model, dft], tmp_path / "wells.png")
    assert _is_png(path)
    assert path.stat().st_size > MIN_PNG_BYTES
    # Γ and M have 1-D scans; R is 2-D and not drawn. Two panels side by side.
    import matplotlib as mpl

    image = mpl.image.imread(path)
    assert image.shape[1] == pytest.approx(2 * 4.0 * 150, abs=2)
    stable = _phase_doc("dft", [], si_primitive)
    assert plot_double_wells([stable], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


@pytest.fixture(scope="module")
def phonon_docs():
    al = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]])
    al = al.get_primitive_structure()
    matrix = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]
    phonon, supercells = displaced_supercells(al, matrix)
    forces = model_forces(supercells, EMT())
    out = []
    for label, scale in (("dft", 1.0), ("foundation", 0.9), ("lora full", 1.02)):
        phonon, _ = displaced_supercells(al, matrix)
        out.append(
            phonon_document_from_forces(phonon, [scale * f for f in forces], label, mesh=[6, 6, 6])
        )
    return out


def test_band_structure_png_per_model(tmp_path, phonon_docs):
    paths = plot_band_structures_per_model(phonon_docs, tmp_path / "bands")
    assert list(paths) == ["foundation", "lora full"]
    assert paths["lora full"].name == "bands_lora_full.png"
    for path in paths.values():
        assert path.is_file()
        assert _is_png(path)
        assert path.stat().st_size > MIN_PNG_BYTES
    with pytest.raises(ValueError, match="no document labelled"):
        plot_band_structures_per_model(phonon_docs[1:], tmp_path)
    with pytest.raises(ValueError, match="unique"):
        plot_band_structures_per_model([*phonon_docs, phonon_docs[1]], tmp_path)
