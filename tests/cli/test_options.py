"""Shared command-line helpers: bad input fails readably; the stand-in fallback is loud."""

from typer.testing import CliRunner

from mlip_finetune.cli import app

runner = CliRunner(env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})


def test_missing_structure_file(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.cif")])
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_unreadable_structure_file(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a crystal\n")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code != 0
    assert "cannot read a crystal structure" in result.output


def test_unavailable_foundation_without_fallback(tmp_path, monkeypatch, si_primitive):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    import mace.calculators.foundations_models as fm

    def offline(model):
        raise OSError("offline")

    monkeypatch.setattr(fm, "download_mace_mp_checkpoint", offline)
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(app, ["run", str(cif), "--no-fallback"])
    assert result.exit_code == 2
    assert "macemp0b3mediummodel" in result.output.replace("\n", "")


def test_unavailable_foundation_falls_back_loudly(
    tmp_path, monkeypatch, capsys, si_primitive, random_mace_si
):
    import mace.calculators.foundations_models as fm

    import mlip_finetune.fitting.standin
    from mlip_finetune.cli import options
    from mlip_finetune.foundation import FoundationModel

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def offline(model):
        raise OSError("[Errno -2] Name or service not known")

    standin = FoundationModel(
        name="standin", path=str(random_mace_si), sha256="0" * 64, is_standin=True
    )
    monkeypatch.setattr(fm, "download_mace_mp_checkpoint", offline)
    monkeypatch.setattr(
        mlip_finetune.fitting.standin, "build_standin_foundation", lambda _structure: standin
    )
    monkeypatch.setattr(options.console, "width", 300)
    model = options.resolve_foundation("medium-0b3", si_primitive, allow_standin_fallback=True)
    assert model is standin
    out = capsys.readouterr().out
    assert "FOUNDATION MODEL UNAVAILABLE" in out
    assert "STAND-IN" in out
    assert "[Errno -2]" in out  # the reason is printed verbatim, not eaten as markup


def test_split_names():
    from mlip_finetune.cli.options import split_names

    assert split_names(None) is None
    assert split_names("transfer, lora,") == ("transfer", "lora")
    assert split_names("") == ()


def test_standin_spec_builds_the_standin(monkeypatch, si_primitive, random_mace_si):
    import mlip_finetune.fitting.standin
    from mlip_finetune.cli import options
    from mlip_finetune.foundation import FoundationModel

    standin = FoundationModel(
        name="standin", path=str(random_mace_si), sha256="0" * 64, is_standin=True
    )
    monkeypatch.setattr(
        mlip_finetune.fitting.standin, "build_standin_foundation", lambda _structure: standin
    )
    model = options.resolve_foundation("standin", si_primitive, allow_standin_fallback=False)
    assert model is standin
