"""Energy references: E0s of MACE models and the DFT-to-foundation energy shift.

DFT codes have different energy zeros (GPAW's reference atoms vs VASP's, or another
functional's). Before fine-tuning, the DFT energies are moved onto the foundation's energy zero
by a per-element shift fitted by least squares (:func:`estimate_energy_shift`), and the
foundation's own E0s are passed to mace explicitly. We do this ourselves rather than through
mace's ``--E0s estimated`` because mace-torch 0.3.16 (a) indexes a 0-d tensor and fails for
single-element foundations and (b) copies the foundation's E0 buffer over the requested E0s
whenever the element sets have the same size (``load_foundations_elements`` copies every
state-dict entry of matching shape). Shifting the data is independent of both, and the shift is
recorded in the :class:`~mlip_finetune.schemas.fitting.FineTuneDocument`. The fit and the
shift themselves are :mod:`mlip_finetune.core.energy_zero`'s (shared with the forgetting
check).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlip_finetune.core.energy_zero import fit_energy_shift, shift_energies

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlip_finetune.schemas.dft import StaticDocument

__all__ = ["estimate_energy_shift", "model_e0s", "shift_energies"]


def model_e0s(model_path: str) -> dict[int, float]:
    """Read the isolated-atom energies stored in a MACE model file.

    Parameters
    ----------
    model_path
        MACE model file.

    Returns
    -------
    dict of int to float
        ``{Z: E0}`` in eV, for every element of the model (first head).
    """
    from mlip_finetune.core.calculators import mace_calculator

    model = mace_calculator(model_path, device="cpu").models[0]
    zs = [int(z) for z in model.atomic_numbers]
    energies = model.atomic_energies_fn.atomic_energies.detach().cpu().numpy()
    energies = energies.reshape(-1, len(zs))[0]
    return {z: float(e) for z, e in zip(zs, energies, strict=True)}


def estimate_energy_shift(
    foundation_model_path: str, statics: Sequence[StaticDocument]
) -> dict[int, float]:
    """Per-element shift from the foundation's energy zero to the DFT code's.

    :func:`mlip_finetune.core.energy_zero.fit_energy_shift` with the foundation model: solves
    ``A·δ ≈ E_DFT − E_foundation`` by least squares for one δ_Z per element, where ``A``
    holds the element counts of each structure. For a fixed stoichiometry only the
    composition-weighted sum of δ is determined; ``numpy.linalg.lstsq`` returns the
    minimum-norm solution, which gives the same energies for that material.

    Parameters
    ----------
    foundation_model_path
        Foundation MACE model file.
    statics
        Training structures with DFT energies (eV).

    Returns
    -------
    dict of int to float
        ``{Z: δ_Z}`` in eV per atom of element Z.

    Raises
    ------
    ValueError
        If ``statics`` is empty.
    """
    from mlip_finetune.core.calculators import mace_calculator

    return fit_energy_shift(mace_calculator(foundation_model_path), statics)
