"""Refuse functions longer than ``LIMIT`` lines in the stack code (``make lint``).

Why: a component constructor that grows past a screen stops being a composition of building blocks and
becomes a list of resources nobody can review (``Frontend`` once had 142 lines). Pylint and ruff count
statements or branches, not lines, and a constructor is mostly one long statement per resource, so neither
catches it. The count runs from the ``def`` line to the last line of the body, docstring included.

    python -m tools.lint.function_length lib preflight
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

LIMIT = 60


def long_functions(root: Path, limit: int = LIMIT) -> Iterator[tuple[Path, int, str, int]]:
    """``(file, line, qualified name, length)`` of every function in ``root`` over ``limit`` lines."""
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    for source in files:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        yield from _walk(tree, source, "", limit)


def _walk(node: ast.AST, source: Path, prefix: str, limit: int) -> Iterator[tuple[Path, int, str, int]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > limit:
                    yield source, child.lineno, name, length
            yield from _walk(child, source, f"{name}.", limit)


def main(argv: list[str] | None = None) -> int:
    roots = [Path(arg) for arg in (argv if argv is not None else sys.argv[1:])] or [Path("lib")]
    found = [item for root in roots for item in long_functions(root)]
    for source, line, name, length in found:
        print(
            f"{source}:{line}: {name} has {length} lines (limit {LIMIT}). Fix: move a group of resources "
            "into a building block in lib/blocks/ or a private helper."
        )
    print(
        f"function length check {'FAILED' if found else 'passed'}: {len(found)} function(s) over {LIMIT} lines "
        f"in {', '.join(map(str, roots))}"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
