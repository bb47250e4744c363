"""A stand-in training program for the tests: ``python -m tests.fitting.mace.program SPEC``.

SPEC is JSON: ``lines`` printed one by one (flushed), then ``env`` (variable names whose
values it prints on one line), then with ``probe`` its ``__name__``, working directory and
``sys.argv`` as JSON, then whether each module of ``loaded`` was imported before it ran,
then ``sleep`` seconds, then exit with ``exit``.
"""

import json
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    for line in spec.get("lines", []):
        print(line, flush=True)  # noqa: T201
    if spec.get("env"):
        print(*(os.environ.get(name) for name in spec["env"]), flush=True)  # noqa: T201
    if spec.get("probe"):
        print(json.dumps([__name__, str(Path.cwd()), sys.argv]), flush=True)  # noqa: T201
    if spec.get("loaded"):
        print(*(name in sys.modules for name in spec["loaded"]), flush=True)  # noqa: T201
    time.sleep(spec.get("sleep", 0))
    raise SystemExit(spec.get("exit", 0))
