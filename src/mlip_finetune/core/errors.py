"""The project's exception hierarchy: every error a user can cause or meet has a type here.

The command line prints ``str(exc)`` of any :class:`MlipFinetuneError` as one line and exits
with code 2 (no traceback unless ``-v``); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MlipFinetuneError(Exception):
    """Base of every error raised on purpose by mlip_finetune.

    Its message is a complete sentence that says what is wrong and what to do.
    """


class InputError(MlipFinetuneError, ValueError):
    """Bad user input: a structure, a model file, an option, a data file.

    Raised at the door (when a Flow is built or a command starts), before anything runs.
    Subclasses :class:`ValueError` so code that caught ``ValueError`` keeps working.
    """
