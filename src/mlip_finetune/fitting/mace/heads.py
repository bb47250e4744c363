"""Reading and reshaping MACE model files: one head of a multi-head model, the architecture."""

from __future__ import annotations

from pathlib import Path


def extract_head(model_path: str | Path, head: str, out_path: str | Path) -> Path:
    """Save one head of a multi-head MACE model as a plain single-head model.

    Uses mace's own :func:`mace.tools.scripts_utils.remove_pt_head` (what
    ``mace_select_head`` does).

    Parameters
    ----------
    model_path
        Multi-head MACE model file.
    head
        Head to keep, e.g. ``"Default"`` (the material's head in mace's multi-head mode).
    out_path
        Output model file.

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    ValueError
        If the model has no such head.
    """
    import mace  # noqa: F401  (mace before e3nn, DESIGN.md)
    import torch
    from mace.tools.scripts_utils import remove_pt_head

    model = torch.load(model_path, map_location="cpu", weights_only=False)
    heads = list(getattr(model, "heads", ["Default"]))
    if head not in heads:
        raise ValueError(f"{model_path} has heads {heads}, not {head!r}.")
    dtype = torch.get_default_dtype()
    try:
        torch.set_default_dtype(next(model.parameters()).dtype)
        single = remove_pt_head(model, head)
    finally:
        torch.set_default_dtype(dtype)
    torch.save(single, out_path)
    return Path(out_path)


def foundation_architecture(model_path: str | Path) -> dict[str, str]:
    """Read a MACE model's architecture as ``mace.cli.run_train`` arguments.

    Used to train from scratch with the foundation's architecture (paper §4.3: "from-scratch
    models ... same training parameters"), via mace's own
    :func:`mace.tools.scripts_utils.extract_config_mace_model`.

    Parameters
    ----------
    model_path
        MACE model file.

    Returns
    -------
    dict of str to str
        ``model``, ``r_max`` (Å), ``hidden_irreps``, ``MLP_irreps``, ``radial_MLP``,
        ``num_interactions``, ``correlation``, ``max_ell``, ``num_radial_basis``,
        ``num_cutoff_basis``, ``interaction``, ``interaction_first``.
    """
    from mace.tools.scripts_utils import extract_config_mace_model

    from mlip_finetune.core.calculators import mace_calculator

    model = mace_calculator(model_path, device="cpu").models[0]
    config = extract_config_mace_model(model)
    correlation = config["correlation"]
    if isinstance(correlation, list | tuple):
        correlation = correlation[0]
    return {
        "model": type(model).__name__,
        "r_max": str(float(config["r_max"])),
        "hidden_irreps": str(config["hidden_irreps"]),
        "MLP_irreps": str(config["MLP_irreps"]),
        "radial_MLP": str(list(config["radial_MLP"])),
        "num_interactions": str(int(config["num_interactions"])),
        "correlation": str(int(correlation)),
        "max_ell": str(int(config["max_ell"])),
        "num_radial_basis": str(int(config["num_bessel"])),
        "num_cutoff_basis": str(int(config["num_polynomial_cutoff"])),
        "interaction": config["interaction_cls"].__name__,
        "interaction_first": config["interaction_cls_first"].__name__,
    }
