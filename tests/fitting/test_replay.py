"""Multi-head replay sets: the user's file subsampled, or prototypes labelled by the model."""

import numpy as np
import pytest
from ase.io import read, write

from mlip_finetune.core.provenance import sha256_file
from mlip_finetune.fitting.replay import (
    ReplayFileError,
    build_replay_file,
    prepare_replay_set,
    subsample_replay_file,
)
from mlip_finetune.fitting.strategies import default_settings


def _user_file(path, n=7):
    from ase.build import bulk
    from ase.calculators.emt import EMT

    frames = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.6 + 0.01 * i, cubic=True)
        atoms.rattle(0.05, seed=i)
        atoms.calc = EMT()
        atoms.get_stress()
        frames.append(atoms)
    write(path, frames)  # energy/forces/stress as ASE calculator results
    return frames


def test_user_replay_file_is_subsampled_and_checked(tmp_path):
    from ase.build import bulk

    frames = _user_file(tmp_path / "mine.xyz")
    out = subsample_replay_file(tmp_path / "mine.xyz", tmp_path / "replay.xyz", n=5, seed=3)
    chosen = read(out, index=":")
    assert len(chosen) == 5
    energies = {round(a.get_potential_energy(), 8) for a in frames}
    for atoms in chosen:
        assert round(atoms.info["REF_energy"], 8) in energies
        assert atoms.arrays["REF_forces"].shape == (4, 3)
        assert np.asarray(atoms.info["REF_stress"]).shape == (3, 3)
    write(tmp_path / "bare.xyz", [bulk("Cu")])
    with pytest.raises(ReplayFileError, match="lacks energy"):
        subsample_replay_file(tmp_path / "bare.xyz", tmp_path / "r2.xyz", n=1)
    with pytest.raises(ReplayFileError, match="does not exist"):
        subsample_replay_file(tmp_path / "nope.xyz", tmp_path / "r3.xyz", n=1)


def test_built_replay_file_holds_the_models_labels(tmp_path, random_mace_si):
    from mlip_finetune.core.calculators import mace_calculator

    path = build_replay_file(["Si"], str(random_mace_si), tmp_path / "replay.xyz", n=4, seed=2)
    frames = read(path, index=":")
    assert len(frames) == 4
    calc = mace_calculator(random_mace_si, device="cpu")
    for atoms in frames:
        energy = atoms.info["REF_energy"]
        atoms.calc = calc
        assert atoms.get_potential_energy() == pytest.approx(energy, abs=1e-8)


def test_replay_set_records_what_mace_reads(tmp_path, random_mace_si):
    _user_file(tmp_path / "mine.xyz")
    settings = default_settings("multihead").model_copy(
        update={"replay_file": str(tmp_path / "mine.xyz"), "n_replay": 3}
    )
    info = prepare_replay_set(settings, ["Cu"], str(random_mace_si), tmp_path, "cpu")
    assert info.path == str((tmp_path / "replay.xyz").resolve())
    assert info.sha256 == sha256_file(tmp_path / "replay.xyz")
    assert info.n_structures == 3
    assert info.source == str((tmp_path / "mine.xyz").resolve())
    (tmp_path / "built").mkdir()
    built = prepare_replay_set(
        settings.model_copy(update={"replay_file": None, "n_replay": 2}),
        ["Si"],
        str(random_mace_si),
        tmp_path / "built",
        "cpu",
    )
    assert built.n_structures == 2
    assert built.source.startswith("built")
