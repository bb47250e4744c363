#!/usr/bin/env bash
# Set-up command 2 of 2 (README): lint, format check, the house rules and the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .                    # incl. PLR0915 ≤ 40 statements, C901 ≤ 10 (pyproject)
.venv/bin/ruff format --check .
.venv/bin/lint-imports                    # layers only point down (.importlinter)
.venv/bin/python scripts/check_layout.py  # modules ≤ 600 lines, tests mirror src
exec .venv/bin/python -m pytest "$@"
