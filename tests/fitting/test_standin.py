"""The CHGNet-distilled stand-in foundation: structures, labels, cache key, the real build."""

import numpy as np
import pytest

from mlip_finetune.fitting.standin import (
    StandinSettings,
    _key,
    build_standin_foundation,
    compare_with_teacher,
    label_with_chgnet,
    read_standin_report,
    standin_structures,
)


def test_standin_structures(si_primitive):
    settings = StandinSettings(
        n_material=10, n_elemental=4, n_harmonic=3, min_supercell_atoms=8, seed=3
    )
    structures = standin_structures(si_primitive, settings)
    assert len(structures) == 17
    material = structures[:10]
    assert all(len(s) == 16 for s in material)  # 2-atom cell → 2×2×2 = 16 ≥ 8
    v0 = 8 * si_primitive.volume
    for s in material:
        # symmetric strain ≤ 4 % per component → volume within ~±13 %
        assert abs(s.volume / v0 - 1) < 0.13
        assert min(s.distance_matrix[np.triu_indices(len(s), 1)]) > 1.5
    # elemental cells alternate conventional fcc (4 atoms) and bcc (2 atoms)
    assert [len(s) for s in structures[10:14]] == [4, 2, 4, 2]
    assert all(s.composition.reduced_formula == "Si" for s in structures[10:])
    # the harmonic set: the 7 Å phonon supercell of the comparison, unstrained, rattled by
    # standard deviations within 0.005-0.03 Å (no atom moves more than 5σ)
    from mlip_finetune.evaluation.supercells import phonon_supercell_matrix

    matrix = phonon_supercell_matrix(si_primitive, 7.0)
    ideal = si_primitive.make_supercell(matrix, in_place=False)
    for rattled in structures[14:]:
        assert np.allclose(rattled.lattice.matrix, ideal.lattice.matrix)
        moved = np.linalg.norm(rattled.cart_coords - ideal.cart_coords, axis=1)
        assert 0.0 < moved.max() < 5 * 0.03 * np.sqrt(3)
        assert moved.mean() > 0.005
    again = standin_structures(si_primitive, settings)
    assert all(
        np.allclose(a.cart_coords, b.cart_coords) for a, b in zip(structures, again, strict=True)
    )


def test_tiny_standin_is_labelled_and_cached(tiny_standin, si_primitive):
    assert tiny_standin.is_standin
    assert "STAND-IN" in tiny_standin.description
    assert "CHGNet" in tiny_standin.description
    from mlip_finetune.core.calculators import mace_calculator

    atoms = si_primitive.to_ase_atoms()
    atoms.calc = mace_calculator(tiny_standin.path, device="cpu")
    # distilled from CHGNet: diamond Si sits near -5.4 eV/atom (MP-compatible energies)
    assert -6.5 < atoms.get_potential_energy() / len(atoms) < -4.0


def test_cache_key_ignores_settings_scratch_training_does_not_read(si_primitive):
    base = StandinSettings()
    lora = base.model_copy(update={"train": base.train.model_copy(update={"lora_rank": 64})})
    faster = base.model_copy(update={"train": base.train.model_copy(update={"lr": 0.1})})
    assert _key(si_primitive, lora) == _key(si_primitive, base)
    assert _key(si_primitive, faster) != _key(si_primitive, base)


def test_cache_key_is_stable(si_primitive):
    """The key is pinned: a changed key rebuilds every user's cached stand-in, so it may
    change only with what a stand-in is built from (last: the harmonic set, n_harmonic)."""
    assert _key(si_primitive, StandinSettings()) == "56a0530eea066880"


def test_cached_standin_is_found_and_checked(tiny_standin, si_primitive, tmp_path):
    from pathlib import Path

    directory = Path(tiny_standin.path).parent
    again = build_standin_foundation(
        si_primitive,
        cache_dir=directory.parent.parent,
        settings=_tiny_settings(directory),
        compare_phonons=False,
    )
    assert again == tiny_standin
    # a cache whose model does not match its recorded sha256 is refused
    copy = tmp_path / "standin" / directory.name
    copy.mkdir(parents=True)
    (copy / "standin.json").write_text((directory / "standin.json").read_text())
    (copy / "standin.model").write_bytes(b"not the model")
    with pytest.raises(RuntimeError, match="does not match its recorded sha256"):
        build_standin_foundation(
            si_primitive, cache_dir=tmp_path, settings=_tiny_settings(directory)
        )


def test_a_cached_standin_gets_its_phonons_compared_with_the_teacher(
    tiny_standin, si_primitive, tmp_path
):
    """The comparison `standin build` prints: CHGNet's Si phonons against the student's."""
    import shutil
    from pathlib import Path

    directory = Path(tiny_standin.path).parent
    copy = tmp_path / "standin" / directory.name
    shutil.copytree(directory, copy)
    assert read_standin_report(copy / "standin.model").teacher_phonons is None
    again = build_standin_foundation(
        si_primitive, cache_dir=tmp_path, settings=_tiny_settings(directory)
    )
    phonons = read_standin_report(again.path).teacher_phonons
    # CHGNet's diamond Si at a = 5.468 Å: ω_max about 13 THz (DFT 15.1, issue 12)
    assert 11.0 < phonons.teacher_max_frequency_thz < 15.0
    assert phonons.n_atoms >= 2 * 8  # a supercell of at least 7 Å
    assert 0.0 < phonons.phonon_mae_thz < 10.0
    # the tiny, under-trained student is much softer than its teacher: far off the target
    assert phonons.max_frequency_thz < phonons.teacher_max_frequency_thz
    assert not phonons.on_target
    assert "ABOVE the 0.3 THz target" in phonons.line()


def test_a_failed_teacher_comparison_leaves_the_standin_usable(
    tiny_standin, si_primitive, tmp_path, monkeypatch, caplog
):
    import shutil
    from pathlib import Path

    from mlip_finetune.fitting import standin

    def fail(*_, **__):
        raise ValueError("symfc: no solution")

    monkeypatch.setattr(standin, "compare_with_teacher", fail)
    directory = Path(tiny_standin.path).parent
    shutil.copytree(directory, tmp_path / "standin" / directory.name)
    again = build_standin_foundation(
        si_primitive, cache_dir=tmp_path, settings=_tiny_settings(directory)
    )
    assert again.sha256 == tiny_standin.sha256
    assert read_standin_report(again.path).teacher_phonons is None
    assert "could not be compared with the teacher's: symfc: no solution" in caplog.text


def test_the_teacher_compared_with_itself_has_no_phonon_error(tiny_standin, si_primitive):
    from mlip_finetune.core.calculators import mace_calculator

    same = compare_with_teacher(
        si_primitive, tiny_standin.path, teacher=mace_calculator(tiny_standin.path, "cpu")
    )
    assert same.phonon_mae_thz == pytest.approx(0.0, abs=1e-9)
    assert same.on_target


def _tiny_settings(directory):
    import json

    report = json.loads((directory / "standin.json").read_text())
    settings = {k: v for k, v in report["settings"].items() if k != "versions"}
    return StandinSettings.model_validate(settings)


def test_chgnet_labels_are_offline_and_say_so(si_primitive):
    (doc,) = label_with_chgnet([si_primitive])
    assert (doc.label, doc.engine, doc.kpoints) == ("chgnet 0", "chgnet", [1, 1, 1])
    # CHGNet on diamond Si: near MP's -5.4 eV/atom, symmetric cell → no forces
    assert -6.0 < doc.energy / len(si_primitive) < -5.0
    assert np.abs(doc.forces).max() < 1e-3
