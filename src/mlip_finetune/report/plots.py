"""Figures comparing model phonons with the reference (matplotlib, Agg, no pyplot state).

Every function builds its own :class:`matplotlib.figure.Figure` attached to an Agg canvas,
so nothing leaks into ``pyplot``'s global figure list and no display is needed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from matplotlib.figure import Figure

    from mlip_finetune.schemas.evaluation import PhononDocument
    from mlip_finetune.schemas.fitting import DataEfficiencyDocument

#: Resolution of every PNG written (dots per inch).
DPI: int = 150
#: Colour of the reference curves.
REFERENCE_COLOR: str = "black"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


def _tick_label(label: str) -> str:
    """``X_1`` → mathtext ``$X_1$``; ``Γ`` and ``X|U`` pass through with subscripts kept."""
    return "|".join(f"${part}$" if "_" in part else part for part in label.split("|"))


def _segment_x(doc: PhononDocument, kinks: np.ndarray) -> list[np.ndarray]:
    """Map each segment's distances linearly onto the reference segment [kinks[i], kinks[i+1]].

    Documents of slightly different lattices have slightly different path lengths; mapping
    segment by segment aligns the high-symmetry points of every curve.
    """
    xs = []
    for i, distances in enumerate(doc.band_distances):
        d = np.asarray(distances)
        span = d[-1] - d[0]
        fraction = (d - d[0]) / span if span > 0 else np.zeros_like(d)
        xs.append(kinks[i] + fraction * (kinks[i + 1] - kinks[i]))
    return xs


def plot_band_structures(
    docs: Sequence[PhononDocument],
    path: str | Path,
    reference_label: str = "dft",
    title: str | None = None,
) -> Path:
    """Overlay phonon band structures with a total-DOS panel on the right.

    Parameters
    ----------
    docs
        Documents on the same seekpath path (same ``band_labels``). The one labelled
        ``reference_label`` is drawn in black and first; the others in ``tab10`` colours.
    path
        Output PNG (150 dpi); parent directories are created.
    reference_label
        Label of the reference document (absent is fine: all are drawn in colours).
    title
        Figure title; default: the reduced formula of the first document.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``docs`` is empty or the documents have different band paths.
    """
    if not docs:
        raise ValueError("plot_band_structures needs at least one document")
    ordered = sorted(docs, key=lambda doc: doc.label != reference_label)
    first = ordered[0]
    for doc in ordered[1:]:
        if doc.band_labels != first.band_labels:
            raise ValueError(
                f"band paths differ: {doc.label!r} {doc.band_labels} vs "
                f"{first.label!r} {first.band_labels}"
            )
    kinks = np.array([first.band_distances[0][0]] + [seg[-1] for seg in first.band_distances])

    figure = _figure(7.0, 4.5)
    band_ax, dos_ax = figure.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [4, 1]})
    colours = _palette()
    for doc in ordered:
        is_ref = doc.label == reference_label
        colour = REFERENCE_COLOR if is_ref else next(colours)
        style = {"color": colour, "lw": 1.4 if is_ref else 1.0, "ls": "-" if is_ref else "--"}
        for x, freqs in zip(_segment_x(doc, kinks), doc.band_frequencies, strict=True):
            band_ax.plot(x, np.asarray(freqs), **style)
        band_ax.plot([], [], label=doc.label, **style)
        dos_ax.plot(np.asarray(doc.dos), np.asarray(doc.dos_frequencies), **style)

    for kink in kinks:
        band_ax.axvline(kink, color="0.7", lw=0.6)
    band_ax.axhline(0.0, color="0.5", lw=0.6, ls=":")
    band_ax.set_xticks(kinks, [_tick_label(label) for label in first.band_labels])
    band_ax.set_xlim(kinks[0], kinks[-1])
    lowest = min(min(np.min(seg) for seg in doc.band_frequencies) for doc in ordered)
    highest = max(max(np.max(seg) for seg in doc.band_frequencies) for doc in ordered)
    margin = 0.05 * (highest - min(lowest, 0.0))
    band_ax.set_ylim(min(lowest, 0.0) - margin, highest + margin)
    band_ax.set_ylabel("Frequency (THz)")
    band_ax.legend(loc="best", fontsize="small")
    dos_ax.set_xlabel("DOS (1/THz)")
    dos_ax.set_xlim(left=0.0)
    dos_ax.tick_params(labelleft=False)
    figure.suptitle(title or first.structure.composition.reduced_formula)
    return _save(figure, path)


def _palette() -> Iterator[tuple[float, float, float, float]]:
    """Endless cycle of the ``tab10`` colours."""
    from matplotlib import colormaps

    return itertools.cycle(colormaps["tab10"](i) for i in range(10))


def plot_phonon_parity(
    doc: PhononDocument,
    ref: PhononDocument,
    path: str | Path,
) -> Path:
    """Parity plot of mesh frequencies, model against reference, with the MAE in the title.

    Parameters
    ----------
    doc
        Model phonons.
    ref
        Reference phonons on the same mesh.
    path
        Output PNG (150 dpi).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the meshes differ (see
        :func:`~mlip_finetune.evaluation.metrics.phonon_frequency_mae`).
    """
    from mlip_finetune.evaluation.metrics import phonon_frequency_mae

    mae = phonon_frequency_mae(doc, ref)
    x = np.asarray(ref.mesh_frequencies).ravel()
    y = np.asarray(doc.mesh_frequencies).ravel()
    figure = _figure(4.5, 4.5)
    ax = figure.subplots()
    ax.scatter(x, y, s=4, alpha=0.5, color="tab:blue", rasterized=True)
    low, high = min(x.min(), y.min()), max(x.max(), y.max())
    ax.plot([low, high], [low, high], color=REFERENCE_COLOR, lw=0.8)
    ax.set_xlabel(f"{ref.label} frequency (THz)")
    ax.set_ylabel(f"{doc.label} frequency (THz)")
    ax.set_aspect("equal")
    ax.set_title(f"MAE = {mae:.3f} THz")
    return _save(figure, path)


def plot_data_efficiency(
    doc: DataEfficiencyDocument, path: str | Path, title: str | None = None
) -> Path:
    """Plot validation force MAE against the number of training structures (paper Fig. 2b).

    Parameters
    ----------
    doc
        :class:`~mlip_finetune.schemas.fitting.DataEfficiencyDocument`: one line per
        strategy, the foundation as a dashed horizontal line.
    path
        Output PNG; parent directories are created.
    title
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the document has no point.
    """
    from matplotlib import colormaps

    if not doc.points:
        raise ValueError("plot_data_efficiency needs at least one point.")
    figure = _figure(6.2, 3.6)
    ax = figure.add_subplot()
    colours = colormaps["tab10"].colors
    strategies = list(dict.fromkeys(p.strategy for p in doc.points))
    for colour, strategy in zip(itertools.cycle(colours), strategies, strict=False):
        points = sorted(
            (p for p in doc.points if p.strategy == strategy), key=lambda p: p.n_train_structures
        )
        ax.plot(
            [p.n_train_structures for p in points],
            [p.validation.force_mae_mev_per_angstrom for p in points],
            "o-",
            color=colour,
            label=str(getattr(strategy, "value", strategy)),
        )
    ax.axhline(
        doc.foundation_validation.force_mae_mev_per_angstrom,
        color="grey",
        ls="--",
        label="foundation",
    )
    ax.set_xlabel("training structures")
    ax.set_ylabel("validation force MAE (meV/Å)")
    ax.set_yscale("log")
    # outside the axes: the foundation line runs along the top, the curves fill the rest
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        ax.set_title(title)
    return _save(figure, path)
