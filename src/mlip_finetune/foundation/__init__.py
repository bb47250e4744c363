"""Foundation model: resolve a name or path once, hash it, check the elements it covers.

Compute nodes are often offline (DESIGN.md, "Models and offline machines"): the model is
resolved on the submitting machine (:mod:`mlip_finetune.foundation.resolve`), hashed, and
then only referenced by path. :mod:`mlip_finetune.foundation.elements` checks that a model
covers a structure's elements before any job is built. This layer imports only
:mod:`mlip_finetune.core`, :mod:`mlip_finetune.schemas` and :mod:`mlip_finetune.units`.
"""

from mlip_finetune.foundation.elements import (
    UnsupportedElementError,
    check_model_elements,
    model_elements,
)
from mlip_finetune.foundation.resolve import (
    DEFAULT_FOUNDATION,
    STANDIN,
    FoundationModel,
    FoundationModelUnavailableError,
    expected_cache_path,
    mace_mp_names,
    resolve_foundation_model,
)

__all__ = [
    "DEFAULT_FOUNDATION",
    "STANDIN",
    "FoundationModel",
    "FoundationModelUnavailableError",
    "UnsupportedElementError",
    "check_model_elements",
    "expected_cache_path",
    "mace_mp_names",
    "model_elements",
    "resolve_foundation_model",
]
