"""Resolve a foundation MACE model once, hash it, and hand its path to every job.

Compute nodes are often offline (DESIGN.md, "Models and offline machines"): the model is
resolved on the submitting machine by mace's own name/cache logic
(:func:`mace.calculators.foundations_models.download_mace_mp_checkpoint`) or taken from a file
path, hashed, and then only referenced by path. No job downloads anything.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, Field

from mlip_finetune.core.errors import MlipFinetuneError
from mlip_finetune.core.provenance import sha256_file

logger = logging.getLogger(__name__)

#: The paper's foundation model (§4.3): MACE-MP-0b3, medium.
DEFAULT_FOUNDATION = "medium-0b3"
#: Value of ``--foundation-model`` that selects the CHGNet-distilled stand-in.
STANDIN = "standin"


class FoundationModelUnavailableError(MlipFinetuneError, RuntimeError):
    """The requested foundation model is neither on disk nor downloadable here."""


class FoundationModel(BaseModel):
    """A resolved foundation model: what it is and where its file lies."""

    name: str = Field(description="mace-mp model name, 'standin', or the file name.")
    path: str = Field(description="Absolute path of the MACE model file.")
    sha256: str = Field(description="SHA-256 of the model file.")
    is_standin: bool = Field(
        default=False,
        description="True for the CHGNet-distilled stand-in, which is NOT MACE-MP-0b3.",
    )
    description: str = Field(default="", description="Provenance in one line.")

    @property
    def display_name(self) -> str:
        """Name for tables; stand-ins are always labelled as such."""
        return f"{self.name} (stand-in, not MACE-MP)" if self.is_standin else self.name


def mace_mp_names() -> list[str]:
    """Return the foundation model names mace-torch knows how to fetch."""
    from mace.calculators.foundations_models import mace_mp_urls

    return sorted(mace_mp_urls)


def expected_cache_path(name: str) -> Path:
    """Return where mace caches the file of a named mace-mp model.

    Mirrors :func:`mace.calculators.foundations_models.download_mace_mp_checkpoint`: the URL's
    basename with everything but alphanumerics and ``_`` dropped, in ``$XDG_CACHE_HOME/mace``.

    Parameters
    ----------
    name
        A key of ``mace.calculators.foundations_models.mace_mp_urls``, e.g. ``"medium-0b3"``.

    Returns
    -------
    pathlib.Path
        E.g. ``~/.cache/mace/macemp0b3mediummodel`` for ``medium-0b3``.
    """
    from mace.calculators.foundations_models import mace_mp_urls
    from mace.tools.utils import get_cache_dir

    basename = Path(mace_mp_urls[name]).name
    return Path(get_cache_dir()) / "".join(c for c in basename if c.isalnum() or c == "_")


def resolve_foundation_model(spec: str = DEFAULT_FOUNDATION) -> FoundationModel:
    """Resolve a foundation model name or path to a hashed local file.

    Parameters
    ----------
    spec
        A file path to any MACE model, or a mace-mp name (``"medium-0b3"``, ``"medium-mpa-0"``,
        ...). The stand-in is built by ``build_standin_foundation`` (``mlip-finetune
        standin build``), a stage above this one, not here.

    Returns
    -------
    FoundationModel
        Name, absolute path and SHA-256.

    Raises
    ------
    FoundationModelUnavailableError
        If ``spec`` is a name whose file is not cached and cannot be downloaded (offline), or
        neither a known name nor an existing file. The message says where to put the file.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        path = path.resolve()
        return FoundationModel(
            name=path.name, path=str(path), sha256=sha256_file(path), description="user file"
        )
    names = mace_mp_names()
    if spec not in names:
        raise FoundationModelUnavailableError(
            f"Foundation model {spec!r} is neither an existing file nor a mace-mp model name "
            f"({', '.join(names)}). Pass a MACE model file path, or 'standin' for the offline "
            "CHGNet-distilled stand-in."
        )
    cached = expected_cache_path(spec)
    if not cached.is_file():
        from mace.calculators.foundations_models import download_mace_mp_checkpoint

        try:
            cached = Path(download_mace_mp_checkpoint(spec))
        except Exception as exc:
            raise FoundationModelUnavailableError(
                f"Foundation model {spec!r} is not cached and could not be downloaded ({exc}). "
                f"On an offline machine, copy the model file to {cached} (mace's own cache, "
                "$XDG_CACHE_HOME/mace) or pass its path with --foundation-model PATH. For local "
                "test runs without MACE-MP weights use --foundation-model standin."
            ) from exc
    return FoundationModel(
        name=spec,
        path=str(cached.resolve()),
        sha256=sha256_file(cached),
        description=f"mace-mp model {spec!r}",
    )
