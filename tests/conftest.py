"""Shared fixtures: small MACE models the tests build themselves (DESIGN.md offline policy)."""

from __future__ import annotations

import numpy as np
import pytest


def build_random_mace(path, atomic_numbers, atomic_energies, r_max=4.5, seed=0):
    """Save a small, randomly initialised ScaleShiftMACE (2 interactions, 8x0e+8x1o)."""
    import mace  # noqa: F401  (mace before e3nn)
    import torch
    from e3nn import o3
    from mace.modules import ScaleShiftMACE, interaction_classes

    torch.manual_seed(seed)
    block = interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = ScaleShiftMACE(
        r_max=r_max,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=2,
        num_elements=len(atomic_numbers),
        hidden_irreps=o3.Irreps("8x0e+8x1o"),
        MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=np.asarray(atomic_energies, dtype=float),
        avg_num_neighbors=8.0,
        atomic_numbers=list(atomic_numbers),
        correlation=2,
        gate=torch.nn.functional.silu,
        atomic_inter_scale=1.0,
        atomic_inter_shift=0.0,
    ).to(torch.float64)
    torch.save(model, path)
    return path


@pytest.fixture(scope="session", autouse=True)
def dft_cache(tmp_path_factory):
    """The whole session shares one, initially empty, DFT cache (mlip_finetune.dft.gpaw.cache).

    End-to-end tests that build the same Si statics from the same tiny foundation compute
    each calculation once; set in ``os.environ`` so that CLI subprocesses and jobflow-remote
    workers use it too. Its own tests point it elsewhere.
    """
    path = tmp_path_factory.mktemp("dft_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLIP_FINETUNE_DFT_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def random_mace_si(tmp_path_factory):
    """Path to an untrained 2-layer MACE for Si (energies are smooth but meaningless)."""
    path = tmp_path_factory.mktemp("models") / "random_si.model"
    return build_random_mace(path, [14], [-5.4])


@pytest.fixture(scope="session")
def random_mace_nacl(tmp_path_factory):
    """Path to an untrained 2-layer MACE for Na and Cl."""
    path = tmp_path_factory.mktemp("models") / "random_nacl.model"
    return build_random_mace(path, [11, 17], [-1.3, -1.8])


@pytest.fixture(scope="session")
def si_primitive():
    """Diamond Si, primitive cell, a = 5.468 Å (PBE)."""
    from pymatgen.core import Lattice, Structure

    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.468), ["Si"], [[0, 0, 0]])
    return conv.get_primitive_structure()


def tiny_standin_settings():
    """Settings of a tiny, deliberately under-trained stand-in (few structures, few epochs)."""
    from mlip_finetune.fitting.standin import StandinSettings
    from mlip_finetune.schemas.fitting import TrainSettings

    return StandinSettings(
        n_material=24,
        n_elemental=0,
        n_harmonic=0,
        min_supercell_atoms=8,
        max_rattle=0.1,
        train=TrainSettings(
            lr=0.01,
            weight_decay=5e-7,
            E0s="average",
            max_num_epochs=6,
            batch_size=4,
            valid_batch_size=8,
            stress_weight=100.0,
            r_max=4.5,
            num_channels=16,
            max_L=1,
            correlation=2,
        ),
    )


@pytest.fixture(scope="session")
def tiny_standin(tmp_path_factory, si_primitive):
    """A tiny stand-in foundation for Si, distilled from CHGNet by the test itself.

    Deliberately under-trained (few structures, few epochs) so that fine-tuning on DFT data
    has something to improve; built with the real stand-in code path.
    """
    from mlip_finetune.fitting.standin import build_standin_foundation

    settings = tiny_standin_settings()
    return build_standin_foundation(
        si_primitive,
        cache_dir=tmp_path_factory.mktemp("cache"),
        settings=settings,
        compare_phonons=False,
    )
