"""Figures of the property evaluation: EOS curves, U(Q) double wells, per-model band plots.

Same conventions as :mod:`mlip_finetune.report.plots`: every function builds its own
Agg-backed :class:`matplotlib.figure.Figure` (no ``pyplot`` state, no display), the reference
is drawn in black first, models in ``tab10`` colours, PNGs at 150 dpi.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from mlip_finetune.report.plots import (
    REFERENCE_COLOR,
    _figure,
    _palette,
    _save,
    plot_band_structures,
)
from mlip_finetune.units import EV_PER_A3_TO_GPA, EV_TO_MEV

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from matplotlib.axes import Axes

    from mlip_finetune.schemas.evaluation import PhononDocument
    from mlip_finetune.schemas.phase_transitions import ModeScan, PhaseTransitionDocument
    from mlip_finetune.schemas.properties import EOSDocument

#: Points of each fitted Birch–Murnaghan curve.
EOS_CURVE_POINTS: int = 200


def birch_murnaghan_energy(
    volumes: np.ndarray | Sequence[float], e0: float, v0: float, b0: float, b0_prime: float
) -> np.ndarray:
    """Third-order Birch–Murnaghan E(V) per atom, the form pymatgen fits (SI eq. 5).

    ``E = E0 + 9 V0 B0/16 [(η² − 1)³ B0' + (η² − 1)² (6 − 4η²)]`` with ``η = (V0/V)^(1/3)``.

    Parameters
    ----------
    volumes
        Volumes (Å³/atom).
    e0
        Minimum energy (eV/atom).
    v0
        Equilibrium volume (Å³/atom).
    b0
        Bulk modulus (GPa).
    b0_prime
        Its pressure derivative.

    Returns
    -------
    numpy.ndarray
        Energies (eV/atom), same shape as ``volumes``.
    """
    eta2 = (v0 / np.asarray(volumes, dtype=float)) ** (2.0 / 3.0)
    b0_ev = b0 / EV_PER_A3_TO_GPA
    return e0 + 9.0 * v0 * b0_ev / 16.0 * (
        (eta2 - 1.0) ** 3 * b0_prime + (eta2 - 1.0) ** 2 * (6.0 - 4.0 * eta2)
    )


def _ordered(docs: Sequence, reference_label: str) -> list:
    return sorted(docs, key=lambda doc: doc.label != reference_label)


def plot_eos(
    docs: Sequence[EOSDocument],
    path: str | Path,
    reference_label: str = "dft",
    title: str | None = None,
) -> Path:
    """E(V) points and Birch–Murnaghan fits of every model and the reference (paper §4.5).

    Energies are drawn relative to each document's own E0 (meV/atom), so models with
    different energy zeros share one axis; points excluded by the outlier rule are drawn as
    crosses. The legend gives B0 (GPa) and V0 (Å³/atom).

    Parameters
    ----------
    docs
        EOS documents, one per model and the reference.
    path
        Output PNG (150 dpi); parent directories are created.
    reference_label
        Label of the reference (drawn in black, first).
    title
        Figure title; default "Equation of state".

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``docs`` is empty.
    """
    if not docs:
        raise ValueError("plot_eos needs at least one document")
    figure = _figure(5.5, 4.2)
    ax = figure.subplots()
    colours = _palette()
    for doc in _ordered(docs, reference_label):
        is_ref = doc.label == reference_label
        colour = REFERENCE_COLOR if is_ref else next(colours)
        volumes = np.asarray(doc.volumes)
        energies = (np.asarray(doc.energies) - doc.e0) * EV_TO_MEV
        included = np.asarray(doc.included, dtype=bool)
        grid = np.linspace(volumes.min(), volumes.max(), EOS_CURVE_POINTS)
        curve = birch_murnaghan_energy(grid, doc.e0, doc.v0, doc.b0, doc.b0_prime) - doc.e0
        ax.plot(
            grid,
            curve * EV_TO_MEV,
            color=colour,
            lw=1.4 if is_ref else 1.0,
            ls="-" if is_ref else "--",
            label=f"{doc.label}: B0 = {doc.b0:.1f} GPa, V0 = {doc.v0:.2f} Å³",
        )
        ax.plot(volumes[included], energies[included], "o", color=colour, ms=4)
        if (~included).any():
            ax.plot(volumes[~included], energies[~included], "x", color=colour, ms=8, mew=1.5)
    ax.plot([], [], "x", color="0.4", ms=8, mew=1.5, label="excluded (outlier rule)")
    ax.set_xlabel("Volume (Å³/atom)")
    ax.set_ylabel("E − E0 (meV/atom)")
    ax.legend(fontsize="small")
    ax.set_title(title or "Equation of state")
    return _save(figure, path)


def _scan_key(scan: ModeScan) -> tuple[str, tuple[float, ...]]:
    return scan.label, tuple(round(q, 6) for q in scan.qpoint)


def _qpoint_text(qpoint: Sequence[float]) -> str:
    from fractions import Fraction

    return "(" + ", ".join(str(Fraction(q).limit_denominator(24)) for q in qpoint) + ")"


def _draw_double_wells(
    ax: Axes, key: tuple, docs: Sequence[PhaseTransitionDocument], reference_label: str
) -> None:
    colours = _palette()
    for doc in docs:
        is_ref = doc.label == reference_label
        colour = REFERENCE_COLOR if is_ref else next(colours)
        scans = [s for s in doc.scans if len(s.grid_shape) == 1 and _scan_key(s) == key]
        for i, scan in enumerate(scans):
            q, u = scan.double_well()
            ax.plot(
                q,
                u,
                "o-" if is_ref else "s--",
                color=colour,
                ms=3,
                lw=1.4 if is_ref else 1.0,
                label=doc.label if i == 0 else None,
            )
    ax.axhline(0.0, color="0.6", lw=0.6, ls=":")
    label, qpoint = key
    ax.set_title(f"{label} {_qpoint_text(qpoint)}", fontsize="medium")
    ax.set_xlabel("Q (Å·√amu)")
    ax.set_ylabel("U (meV/atom)")
    ax.legend(fontsize="small")


def plot_double_wells(
    docs: Sequence[PhaseTransitionDocument],
    path: str | Path,
    reference_label: str = "dft",
    title: str | None = None,
) -> Path | None:
    """U(Q) along every one-dimensional unstable mode, models against the reference.

    One panel per unstable mode (seekpath label and q-point) that any document scanned in
    one dimension (:meth:`~mlip_finetune.schemas.phase_transitions.ModeScan.double_well`:
    normal-coordinate amplitude Q in Å·√amu, energy per atom relative to the undistorted
    structure in meV/atom; paper Fig. 4b, 5b). Scans of degenerate (2-D and higher)
    subspaces have no single U(Q) curve and are not drawn.

    Parameters
    ----------
    docs
        Phase-transition documents of the models and the reference.
    path
        Output PNG (150 dpi).
    reference_label
        Label of the reference (black, first).
    title
        Figure title; default "Double wells along unstable modes".

    Returns
    -------
    pathlib.Path or None
        ``path``, or ``None`` (nothing written) when no document has a 1-D scan, e.g. a
        dynamically stable material.
    """
    ordered = _ordered(docs, reference_label)
    keys = list(
        dict.fromkeys(
            _scan_key(scan) for doc in ordered for scan in doc.scans if len(scan.grid_shape) == 1
        )
    )
    if not keys:
        return None
    n_cols = min(3, len(keys))
    n_rows = math.ceil(len(keys) / n_cols)
    figure = _figure(4.0 * n_cols, 3.3 * n_rows)
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False)).ravel()
    for ax, key in zip(axes, keys, strict=False):
        _draw_double_wells(ax, key, ordered, reference_label)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    figure.suptitle(title or "Double wells along unstable modes")
    return _save(figure, path)


def _file_label(label: str) -> str:
    """Return ``label`` made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "model"


def plot_band_structures_per_model(
    docs: Sequence[PhononDocument],
    directory: str | Path,
    reference_label: str = "dft",
    prefix: str = "bands",
) -> dict[str, Path]:
    """One band-structure + DOS PNG per model, each overlaid on the reference.

    Each file is :func:`~mlip_finetune.report.plots.plot_band_structures` of
    ``[reference, model]``, written to ``directory/<prefix>_<label>.png`` (label made safe
    for a file name); the combined plot of all models is that function on every document.

    Parameters
    ----------
    docs
        Phonon documents on the same band path, the reference among them.
    directory
        Output directory (created).
    reference_label
        Label of the reference document.
    prefix
        File-name prefix.

    Returns
    -------
    dict
        Model label → PNG path, one per non-reference document, in input order.

    Raises
    ------
    ValueError
        If no document is labelled ``reference_label``, two documents share a label, or
        band paths differ.
    """
    from pathlib import Path

    labels = [doc.label for doc in docs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"document labels must be unique, got {labels}")
    references = [doc for doc in docs if doc.label == reference_label]
    if not references:
        raise ValueError(f"no document labelled {reference_label!r} among {labels}")
    reference = references[0]
    out = {}
    for doc in docs:
        if doc.label == reference_label:
            continue
        path = Path(directory) / f"{prefix}_{_file_label(doc.label)}.png"
        out[doc.label] = plot_band_structures(
            [reference, doc],
            path,
            reference_label=reference_label,
            title=f"{reference.structure.composition.reduced_formula}: {doc.label} vs "
            f"{reference_label}",
        )
    return out


def model_plots(
    phonons: list,
    properties: list | None,
    dft_properties: object | None,
    out_dir: Path,
    label: str,
) -> dict[str, str]:
    """Write one band PNG per model, the EOS curves and the U(Q) double wells.

    Parameters
    ----------
    phonons
        PhononDocuments (or dicts), the reference labelled ``"dft"`` among them.
    properties, dft_properties
        ModelPropertiesDocuments of the models and of DFT (or dicts); None skips the EOS
        and double-well plots.
    out_dir
        Output directory.
    label
        Material label, the file-name prefix.

    Returns
    -------
    dict of str to str
        Plot name → PNG path.
    """
    from mlip_finetune.schemas.evaluation import PhononDocument
    from mlip_finetune.schemas.properties import ModelPropertiesDocument

    docs = [PhononDocument.model_validate(p) for p in phonons]
    plots = {
        f"bands {name}": str(path)
        for name, path in plot_band_structures_per_model(
            docs, out_dir, prefix=f"{label}_bands"
        ).items()
    }
    if properties and dft_properties is not None:
        props = [ModelPropertiesDocument.model_validate(p) for p in [dft_properties, *properties]]
        eos = [p.eos for p in props if p.eos is not None]
        if eos:
            plots["eos"] = str(plot_eos(eos, out_dir / f"{label}_eos.png"))
        phases = [p.phase_transitions for p in props if p.phase_transitions is not None]
        wells = plot_double_wells(phases, out_dir / f"{label}_double_wells.png") if phases else None
        if wells is not None:
            plots["double wells"] = str(wells)
    return plots
