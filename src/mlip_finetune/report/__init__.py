"""Report stage: plots and tables comparing models with the reference."""

from mlip_finetune.report.plots import plot_band_structures, plot_phonon_parity

__all__ = ["plot_band_structures", "plot_phonon_parity"]
