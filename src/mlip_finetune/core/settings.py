"""Run-time settings read from the environment (prefix ``MLIP_FINETUNE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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


def get_settings() -> MLIPFinetuneSettings:
    """Return settings read from the environment now (not cached, so tests can monkeypatch)."""
    return MLIPFinetuneSettings()
