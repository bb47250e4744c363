"""Band-structure and parity plots from real (EMT) phonon documents."""

from __future__ import annotations

import matplotlib as mpl
import pytest

from mlip_finetune.report.plots import plot_band_structures, plot_phonon_parity

MATRIX = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]


@pytest.fixture(scope="module")
def docs(al_phonons):
    """EMT phonons of Al: DFT stand-in, foundation (forces ×0.9), transfer (×1.02)."""
    return [al_phonons[label] for label in ("dft", "foundation", "transfer")]


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_band_structure_plot(tmp_path, docs):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    path = plot_band_structures(docs[::-1], tmp_path / "plots" / "bands.png")
    assert path.is_file()
    assert _is_png(path)
    assert path.stat().st_size > 20_000
    image = mpl.image.imread(path)
    assert image.shape[1] == pytest.approx(7.0 * 150, abs=2)  # 7 in at 150 dpi
    assert plt.get_fignums() == before  # no pyplot state leaked


def test_band_structure_plot_rejects_different_paths(tmp_path, docs):
    other = docs[1].model_copy(update={"band_labels": ["Γ", "X"]})
    with pytest.raises(ValueError, match="band paths differ"):
        plot_band_structures([docs[0], other], tmp_path / "x.png")
    with pytest.raises(ValueError, match="at least one"):
        plot_band_structures([], tmp_path / "x.png")


def test_parity_plot(tmp_path, docs):
    path = plot_phonon_parity(docs[1], docs[0], tmp_path / "parity.png")
    assert _is_png(path)
    assert path.stat().st_size > 10_000
