# ruff: noqa: INP001
"""Check the house rules that ruff and import-linter do not: module size and tests mirroring src.

Rules (docs/architecture.md):
- no module of ``src/mlip_finetune`` has more than :data:`MAX_LINES` lines;
- every module with code has a test module at the mirrored path:
  ``src/mlip_finetune/a/b.py`` ↔ ``tests/a/test_b.py``. Modules that only re-export names
  (an old import path kept for users) and ``__init__`` files need none.

Run: ``.venv/bin/python scripts/check_layout.py`` (part of ``scripts/test.sh``); exit code 1
lists every breach.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "mlip_finetune"
TESTS = ROOT / "tests"
MAX_LINES = 600

#: Module-level statements a pure re-export module may contain.
_REEXPORT_NODES = (ast.Import, ast.ImportFrom, ast.Expr, ast.Assign, ast.AnnAssign, ast.If)


def is_reexport(tree: ast.Module) -> bool:
    """Return True for a module that defines nothing: imports, ``__all__``, aliases, docstring."""
    for node in tree.body:
        if not isinstance(node, _REEXPORT_NODES):
            return False
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
            return False
        if isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            if not isinstance(value, ast.Name | ast.Attribute | ast.List | ast.Tuple | ast.Dict):
                return False
    return True


def mirrored_test(module: Path) -> Path:
    """Return the test module that mirrors a source module."""
    relative = module.relative_to(PACKAGE)
    return TESTS / relative.parent / f"test_{relative.name}"


def breaches() -> list[str]:
    """Return one line per breach of the rules above."""
    found = []
    for module in sorted(PACKAGE.rglob("*.py")):
        text = module.read_text(encoding="utf-8")
        n_lines = text.count("\n") + 1
        name = module.relative_to(ROOT)
        if n_lines > MAX_LINES:
            found.append(f"{name}: {n_lines} lines (at most {MAX_LINES})")
        if module.name == "__init__.py" or is_reexport(ast.parse(text)):
            continue
        test = mirrored_test(module)
        if not test.exists():
            found.append(f"{name}: no test module {test.relative_to(ROOT)}")
    return found


def main() -> int:
    """Print the breaches; return 1 if there are any."""
    found = breaches()
    for line in found:
        print(line)  # noqa: T201
    print(f"layout: {len(found)} breaches")  # noqa: T201
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
