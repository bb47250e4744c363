"""Run-time settings read from the environment (prefix ``MLIP_FINETUNE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MLIPFinetuneSettings(BaseSettings):
    """Settings of a local installation; every field can be set as ``MLIP_FINETUNE_<FIELD>``.

    Examples
    --------
    ``MLIP_FINETUNE_CACHE_DIR=/scratch/me/cache mlip-finetune run Si.cif``
    """

    model_config = SettingsConfigDict(env_prefix="MLIP_FINETUNE_")

    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "mlip_finetune",
        description="Where stand-in foundation models are cached.",
    )
    foundation_model: str = Field(
        default="medium-0b3",
        description="Default foundation: a mace-mp model name, a MACE file path, or 'standin'.",
    )
    device: str = Field(default="auto", description="Torch device: 'auto', 'cpu' or 'cuda'.")
    store_path: Path = Field(
        default=Path("mlip_finetune_runs") / "store",
        description="Directory of the embedded, file-backed results store (montydb).",
    )
    dft_cache_dir: Path | None = Field(
        default=None,
        description=(
            "Directory where finished GPAW calculations are kept and reused when a later "
            "calculation has the identical input (mlip_finetune.dft.gpaw.cache); unset: off."
        ),
    )

    gpaw_server: bool = Field(
        default=True,
        description=(
            "Run GPAW calculations in a server kept alive per process and rank count "
            "(mlip_finetune.dft.gpaw.server); false: a new mpirun and Python per calculation."
        ),
    )

    @field_validator("dft_cache_dir", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        """``MLIP_FINETUNE_DFT_CACHE_DIR=`` (empty) turns the cache off, not on in ``.``."""
        return None if value == "" else value


def get_settings() -> MLIPFinetuneSettings:
    """Return settings read from the environment now (not cached, so tests can monkeypatch)."""
    return MLIPFinetuneSettings()
