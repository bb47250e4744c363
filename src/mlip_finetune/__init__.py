"""Fine-tune foundation MLIPs for one material's phonon and thermal properties."""

__version__ = "0.1.0"
