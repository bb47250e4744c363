"""The DFT cache: a GPAW calculation with an input identical to a finished one is reused.

The suite itself runs with the cache on (tests/conftest.py); these tests point it at their
own directory.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlip_finetune.dft.engines import DFTCalculationError, get_engine
from mlip_finetune.dft.gpaw import cache
from mlip_finetune.dft.gpaw.engine import LOG_FILE, OUTPUT_FILE
from mlip_finetune.dft.settings import DFTSettings

SETTINGS = DFTSettings.test()


def _spec(x: float) -> dict:
    return {"mode": "static", "atoms": {"positions": [[0.0, 0.0, x]]}, "calculator": {"a": 1}}


def test_key_changes_with_any_bit_of_the_input():
    assert cache.cache_key(_spec(0.1)) == cache.cache_key(_spec(0.1))
    assert cache.cache_key(_spec(0.1)) != cache.cache_key(_spec(np.nextafter(0.1, 1.0)))
    assert cache.cache_key(_spec(0.1)) != cache.cache_key({**_spec(0.1), "calculator": {"a": 2}})


def test_off_unless_the_directory_is_set(monkeypatch, tmp_path):
    monkeypatch.delenv("MLIP_FINETUNE_DFT_CACHE_DIR", raising=False)
    assert cache.cache_dir() is None
    monkeypatch.setenv("MLIP_FINETUNE_DFT_CACHE_DIR", "")
    assert cache.cache_dir() is None  # not the working directory
    monkeypatch.setenv("MLIP_FINETUNE_DFT_CACHE_DIR", str(tmp_path))
    assert cache.cache_dir() == tmp_path


def _refuse_gpaw(monkeypatch):
    """Make every GPAW launch fail, so that a result can only come from the cache."""

    def refuse(mpi_ranks):
        return ["false"]

    monkeypatch.setattr("mlip_finetune.dft.gpaw.engine.launch_prefix", refuse)


@pytest.mark.dft
def test_an_identical_calculation_is_reused_and_a_changed_one_computed(
    si_primitive, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLIP_FINETUNE_DFT_CACHE_DIR", str(tmp_path / "cache"))
    engine = get_engine("gpaw")
    rattled = si_primitive.copy()
    rattled.translate_sites([0], [0.03, -0.02, 0.01], frac_coords=False)
    first = engine.run_static(rattled, SETTINGS, tmp_path / "first")
    (entry,) = (tmp_path / "cache").iterdir()
    assert {OUTPUT_FILE, LOG_FILE, cache.META_FILE} <= {p.name for p in entry.iterdir()}

    with monkeypatch.context() as patch:
        _refuse_gpaw(patch)
        again = engine.run_static(rattled.copy(), SETTINGS, tmp_path / "again")
        np.testing.assert_array_equal(again.forces, first.forces)
        np.testing.assert_array_equal(again.stress, first.stress)
        assert again.energy == first.energy
        assert again.free_energy == first.free_energy
        assert again.wall_time == pytest.approx(first.wall_time)  # the calculation's own
        assert (tmp_path / "again" / LOG_FILE).read_text() == (
            tmp_path / "first" / LOG_FILE
        ).read_text()
        # another cutoff, or another position, is another calculation: GPAW is started
        for changed, settings in (
            (rattled, SETTINGS.model_copy(update={"ecut": 260.0})),
            (si_primitive, SETTINGS),
        ):
            with pytest.raises(DFTCalculationError, match="worker exited with code 1"):
                engine.run_static(changed, settings, tmp_path / "changed")
    # a failed calculation is not kept: one entry still
    assert len([p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]) == 1
