"""Old import path of :mod:`mlip_finetune.core.provenance` (re-exports only)."""

from mlip_finetune.core.provenance import package_versions, sha256_file

__all__ = ["package_versions", "sha256_file"]
