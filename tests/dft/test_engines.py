"""DFT codes and the engine registry (no DFT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlip_finetune.core.errors import InputError
from mlip_finetune.dft.engines import (
    ELEMENT_CHECKS,
    ENGINES,
    DFTCalculationError,
    DFTCode,
    DFTElementError,
    DFTEngine,
    UnknownEngineError,
    check_engine_elements,
    get_engine,
    gpaw_setup_file,
    gpaw_setup_name,
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


def test_gpaw_setups_are_found_where_gpaw_looks():
    pytest.importorskip("gpaw")
    import gpaw

    setup = gpaw_setup_file("Si", "PBE")
    assert setup is not None
    assert any(setup.parent == Path(p) for p in gpaw.setup_paths)
    assert setup.name.startswith("Si.PBE")
    assert gpaw_setup_name("PBE0") == "PBE"  # hybrids use the PBE setups
    assert gpaw_setup_file("Tc", "PBE") is None  # gpaw-data has no Tc


def test_gpaw_element_check():
    pytest.importorskip("gpaw")
    check_engine_elements("gpaw", ["Si", "O"], {"xc": "PBE"})
    with pytest.raises(DFTElementError, match=r"gpaw cannot compute Og, Tc \(Og: no PAW setup Og"):
        check_engine_elements(DFTCode.GPAW, ["Si", "Tc", "Og"], {"xc": "PBE"})
    with pytest.raises(DFTElementError, match=r"Si\.PBEsol"):
        check_engine_elements("gpaw", ["Si"], {"xc": "PBEsol"})  # no PBEsol setups shipped
    # the user's own setups: GPAW itself reports at run time
    check_engine_elements("gpaw", ["Tc"], {"xc": "PBE", "engine_kwargs": {"setups": "sg15"}})


def test_gpaw_setup_path_from_the_environment(tmp_path, monkeypatch):
    pytest.importorskip("gpaw")
    import gpaw

    (tmp_path / "Tc.PBE.gz").write_bytes(b"")
    monkeypatch.setattr(gpaw, "setup_paths", [tmp_path, *gpaw.setup_paths])
    assert gpaw_setup_file("Tc", "PBE") == tmp_path / "Tc.PBE.gz"
    check_engine_elements("gpaw", ["Tc"], {"xc": "PBE"})


def test_vasp_element_check(tmp_path, monkeypatch):
    from pymatgen.core import SETTINGS

    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)
    check_engine_elements("vasp", ["Si", "Fe"], {"potcar_functional": "PBE_54"})
    with pytest.raises(DFTElementError, match="no POTCAR symbol in atomate2's input set"):
        check_engine_elements("vasp", ["Og"], {})
    # with a POTCAR directory configured, the file must be there
    (tmp_path / "POT_GGA_PAW_PBE_54" / "Si").mkdir(parents=True)
    (tmp_path / "POT_GGA_PAW_PBE_54" / "Si" / "POTCAR").write_text("fake")
    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", str(tmp_path))
    check_engine_elements("vasp", ["Si"], {"potcar_functional": "PBE_54"})
    with pytest.raises(DFTElementError, match=r"no POTCAR Fe \(PBE_54\) in PMG_VASP_PSP_DIR"):
        check_engine_elements("vasp", ["Fe"], {"potcar_functional": "PBE_54"})


def test_codes_without_an_element_check_pass():
    check_engine_elements("mace", ["Og"])
    assert set(ELEMENT_CHECKS) == set(DFTCode)
    assert issubclass(DFTElementError, InputError)
