"""`standin build`: builds (or loads) the stand-in for a structure file and says where it is."""

from typer.testing import CliRunner

from mlip_finetune.cli import app

runner = CliRunner(env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})


def test_standin_build_prints_the_model(tmp_path, monkeypatch, si_primitive, random_mace_si):
    import mlip_finetune.fitting.standin
    from mlip_finetune.foundation import FoundationModel

    built = {}
    standin = FoundationModel(
        name="standin", path=str(random_mace_si), sha256="0" * 64, is_standin=True
    )

    def build(structure, force=False):
        built["formula"], built["force"] = structure.composition.reduced_formula, force
        return standin

    monkeypatch.setattr(mlip_finetune.fitting.standin, "build_standin_foundation", build)
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(app, ["standin", "build", str(cif), "--force"])
    assert result.exit_code == 0, result.output
    assert built == {"formula": "Si", "force": True}
    assert f"path: {random_mace_si}" in result.output
    assert f"sha256: {'0' * 64}" in result.output
    assert "build/load time:" in result.output


def test_standin_build_prints_the_teacher_comparison(tmp_path, monkeypatch, si_primitive):
    from mlip_finetune.fitting import standin
    from mlip_finetune.foundation import FoundationModel

    model = tmp_path / "standin.model"
    model.write_bytes(b"weights")
    phonons = standin.TeacherPhonons(
        phonon_mae_thz=0.21,
        max_frequency_thz=12.9,
        teacher_max_frequency_thz=13.1,
        supercell_matrix=[[2, 0, 0], [0, 2, 0], [0, 0, 2]],
        n_atoms=16,
    )
    report = standin.StandinReport(
        model_path=str(model),
        sha256="0" * 64,
        elements=["Si"],
        formula="Si",
        n_structures=132,
        teacher="CHGNet 0.3.0",
        build_time_s=1.0,
        valid_force_mae=None,
        valid_energy_mae=None,
        teacher_phonons=phonons,
        settings={},
    )
    (tmp_path / "standin.json").write_text(report.model_dump_json())
    built = FoundationModel(name="standin", path=str(model), sha256="0" * 64, is_standin=True)
    monkeypatch.setattr(standin, "build_standin_foundation", lambda *_, **__: built)
    cif = tmp_path / "Si.cif"
    si_primitive.to(filename=str(cif))
    result = runner.invoke(app, ["standin", "build", str(cif)])
    assert result.exit_code == 0, result.output
    assert (
        "phonons vs teacher: MAE 0.21 THz (within the 0.3 THz target), ω_max 12.90 THz vs "
        "13.10 THz, 16-atom supercell"
    ) in result.output


def test_standin_build_missing_file(tmp_path):
    result = runner.invoke(app, ["standin", "build", str(tmp_path / "nope.cif")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
