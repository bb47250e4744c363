"""DFT codes and the engine registry (no DFT)."""

from __future__ import annotations

import pytest

from mlip_finetune.dft.engines import (
    ENGINES,
    DFTCalculationError,
    DFTCode,
    DFTEngine,
    UnknownEngineError,
    get_engine,
    tail,
)
from mlip_finetune.dft.gpaw.engine import GPAWEngine


def test_registry():
    assert "gpaw" in ENGINES
    engine = get_engine("gpaw")
    assert isinstance(engine, GPAWEngine)
    assert isinstance(engine, DFTEngine)
    assert engine.name == "gpaw"
    with pytest.raises(UnknownEngineError, match=r"'qe'.*known engines: gpaw"):
        get_engine("qe")
    assert issubclass(UnknownEngineError, ValueError)


def test_dft_codes_are_their_strings():
    assert [code.value for code in DFTCode] == ["gpaw", "vasp"]
    assert DFTCode("vasp") is DFTCode.VASP
    assert DFTCode.GPAW == "gpaw"
    with pytest.raises(ValueError, match="qe"):
        DFTCode("qe")


def test_registry_is_keyed_by_code():
    assert set(ENGINES) == {DFTCode.GPAW}
    assert all(isinstance(code, DFTCode) for code in ENGINES)
    assert isinstance(get_engine(DFTCode.GPAW), GPAWEngine)
    assert get_engine(DFTCode.GPAW).name == DFTCode.GPAW
    # VASP runs through atomate2, not as an engine
    with pytest.raises(UnknownEngineError, match=r"'vasp'.*known engines: gpaw\."):
        get_engine(DFTCode.VASP)
    assert get_engine("gpaw") is not get_engine("gpaw")  # a fresh instance each time


def test_calculation_error_quotes_the_log(tmp_path):
    log = tmp_path / "gpaw.txt"
    log.write_text("\n".join(f"line {i}" for i in range(40)), encoding="utf-8")
    assert tail(log, n_lines=2) == "line 38\nline 39"
    assert tail(tmp_path / "missing.txt") == ""
    error = DFTCalculationError("gpaw", tmp_path, "SCF did not converge", tail(log, 2))
    assert str(error).startswith(f"gpaw calculation in {tmp_path} failed: SCF did not converge")
    assert "--- last lines of the gpaw log ---\nline 38\nline 39" in str(error)
    assert str(DFTCalculationError("gpaw", tmp_path, "boom")).endswith("failed: boom")
    assert error.directory == tmp_path
    assert error.reason == "SCF did not converge"
