"""Every failure of the seed analysis has a test that guards it: each number listed under "Seed failures" in
``docs/requirements.md`` is cited by at least one ``@pytest.mark.seed(n)`` in tests/, and no marker cites a number
that list does not have. Markers are read from the test sources (decorators and ``pytest.param(..., marks=...)``),
so a test that is skipped here still counts."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
REQUIREMENTS = ROOT / "docs" / "requirements.md"


def seed_numbers(requirements: str) -> list[int]:
    """The numbers of the "## Seed failures" section's list, in order."""
    section = requirements.split("\n## Seed failures\n", 1)
    assert len(section) == 2, 'docs/requirements.md has no "## Seed failures" section'
    body = section[1].split("\n## ", 1)[0]
    return [int(number) for number in re.findall(r"^(\d+)\. ", body, flags=re.MULTILINE)]


def _seed_arguments(node: ast.AST) -> Iterable[ast.Call]:
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "seed"
            and isinstance(call.func.value, ast.Attribute)
            and call.func.value.attr == "mark"
        ):
            yield call


def seed_markers(files: Iterable[Path]) -> dict[int, list[str]]:
    """``{n: ["path::test", ...]}`` for every ``pytest.mark.seed(n)`` on a test function of ``files``."""
    found: dict[int, list[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            for decorator in function.decorator_list:
                for call in _seed_arguments(decorator):
                    assert len(call.args) == 1 and not call.keywords, f"{path}:{call.lineno}: seed(n) takes one n"
                    (argument,) = call.args
                    value = argument.value if isinstance(argument, ast.Constant) else None
                    assert isinstance(value, int) and not isinstance(value, bool), (
                        f"{path}:{call.lineno}: seed(n) takes an integer literal"
                    )
                    found.setdefault(value, []).append(f"{path.name}::{function.name}")
    return found


def unguarded(numbers: list[int], markers: dict[int, list[str]]) -> tuple[list[int], list[int]]:
    """(seed failures without a marked test, marked numbers the list does not have)."""
    return sorted(set(numbers) - set(markers)), sorted(set(markers) - set(numbers))


def test_every_seed_failure_has_a_marked_test_and_every_marker_a_seed_failure() -> None:
    numbers = seed_numbers(REQUIREMENTS.read_text(encoding="utf-8"))
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 8, numbers
    markers = seed_markers(sorted((ROOT / "tests").rglob("test_*.py")))
    missing, unknown = unguarded(numbers, markers)
    assert not missing, f"seed failures without a @pytest.mark.seed(n) test: {missing}"
    assert not unknown, f"@pytest.mark.seed(n) cites numbers docs/requirements.md does not list: {unknown}"


def test_the_check_sees_a_missing_and_an_unknown_seed_failure(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\n\n@pytest.mark.seed(1)\ndef test_a():\n    pass\n\n\n"
        "@pytest.mark.parametrize('v', [pytest.param(1, marks=pytest.mark.seed(7))])\ndef test_b(v):\n    pass\n",
        encoding="utf-8",
    )
    numbers = seed_numbers("# R\n\n## Seed failures\n\nText.\n\n1. one\n2. two\n   continued\n\n## Other\n\n3. no\n")
    assert numbers == [1, 2]
    markers = seed_markers([tmp_path / "test_x.py"])
    assert markers == {1: ["test_x.py::test_a"], 7: ["test_x.py::test_b"]}
    assert unguarded(numbers, markers) == ([2], [7])
