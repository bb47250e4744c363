"""The old import path :mod:`mlip_finetune.data.utils` re-exports the real objects."""

from __future__ import annotations

import mlip_finetune.data.utils as shim
from mlip_finetune.data import frames, perturbations, supercells, trajectories


def test_old_path_reexports_the_same_objects():
    modules = (frames, perturbations, supercells, trajectories)
    for name in shim.__all__:
        owners = [module for module in modules if hasattr(module, name)]
        assert owners, name
        assert all(getattr(shim, name) is getattr(owner, name) for owner in owners), name


def test_readme_import_keeps_working():
    from mlip_finetune.data.utils import SupercellProtocol

    assert SupercellProtocol is supercells.SupercellProtocol
