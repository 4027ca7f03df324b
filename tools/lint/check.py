"""``make check``: the fast lane while working: ruff, mypy and the unit tests of what changed, not of everything.

    python -m tools.lint.check [--base REF] [--plan]

What changed: the files that differ between the working tree (staged, unstaged and untracked) and the merge base of
HEAD with ``--base`` (``make check BASE=<ref>``; default: the branch's upstream, such as ``origin/main``, else
``main``, else ``HEAD``), so commits not yet pushed count as changed too.

What runs on them, in order, every step even after a failure, then a roll-up:

1. ``ruff check`` and ``ruff format --check`` on the changed Python files;
2. ``mypy`` on the subpackages that hold them (``lib/components``, ``tools/deploy``; a file of a top-level package
   such as ``tools/prereqs.py`` alone);
3. ``pytest`` on the unit tests of what changed (``AREAS`` below: ``lib/components/x.py`` -> ``tests/unit/components``,
   ``preflight/`` -> ``tests/unit/preflight``, ``tools/deploy/`` -> ``tests/unit/deploy``...; a changed test runs
   itself, a changed shared test module its folder; any other Python file, and a module of lib/ outside
   the components and blocks, the unit tests that name it, as ``tools.prereqs`` or ``tools/prereqs.py``).

``--plan`` prints what would run and runs nothing. ``make lint`` (pylint, function length, import contracts, every
file) and ``make test`` stay the full gates: this lane skips pylint, the slow part of ``make lint``, and every suite
that needs a server (sandbox, CLI, bindings, web).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = "tests/unit"
# Which unit-test folders a change under a prefix runs; the first matching prefix wins (most specific first).
# By name: a module there runs the unit tests that name it, and the folders only when none does (tests/unit/stack,
# the catch-all of lib/, takes about a minute on its own).
AREAS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("lib/components/", ("tests/unit/components",), False),
    # Blocks are exercised through the components that compose them.
    ("lib/blocks/", ("tests/unit/blocks", "tests/unit/components"), False),
    # The stack wires every component: its own tests (test_stack.py's wiring and the synth's safety), not by name.
    ("lib/tap_stack.py", ("tests/unit/stack",), False),
    ("tap.py", ("tests/unit/stack",), False),
    ("lib/", ("tests/unit/stack",), True),
    ("preflight/", ("tests/unit/preflight",), False),
    ("tools/deploy/", ("tests/unit/deploy",), False),
    ("services/payment_api/", ("tests/service/unit",), False),
    # The contract: its own tests, the service that reads through it and the stack component that writes with it.
    ("services/contract/", ("tests/unit/contract", "tests/service/unit", "tests/unit/components"), False),
)
# Test code every unit test may use: a change there runs the whole unit suite.
SHARED_TEST_CODE = ("tests/conftest.py", "tests/__init__.py", "tests/unit/__init__.py")


@dataclass
class Plan:
    """What ``make check`` runs for a set of changed paths."""

    python_files: list[str] = field(default_factory=list)
    mypy_targets: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


def _module_names(path: str) -> tuple[str, str]:
    """``tools/prereqs.py`` -> (``tools.prereqs``, ``tools/prereqs``): how a test names a module."""
    stem = path.removesuffix(".py").removesuffix("/__init__")
    return stem.replace("/", "."), stem


def _referring_tests(path: str, root: Path) -> list[str]:
    """The unit-test files that name ``path``'s module (an import or a path), so that a change runs them."""
    dotted, slashed = _module_names(path)
    pattern = re.compile(rf"(?<![\w.]){re.escape(dotted)}(?![\w])|{re.escape(slashed)}(?:\.py)?(?![\w])")
    return sorted(
        test.relative_to(root).as_posix()
        for test in (root / UNIT).rglob("test_*.py")
        if pattern.search(test.read_text(encoding="utf-8"))
    )


def unit_tests_for(path: str, root: Path = ROOT) -> tuple[list[str], bool]:
    """The tests a change of ``path`` runs (folders or files under ``root``) and whether a rule mapped it."""
    if path in SHARED_TEST_CODE:
        return [UNIT], True
    if path.startswith(("tests/unit/", "tests/service/unit/")):
        name = Path(path).name
        if name.startswith("test_") and name.endswith(".py"):
            return [path], True
        return [Path(path).parent.as_posix()], True  # a folder's conftest or shared builders: the folder
    for prefix, folders, by_name in AREAS:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            named = _referring_tests(path, root) if by_name and path.endswith(".py") else []
            return named or list(folders), True
    if path.endswith(".py"):
        found = _referring_tests(path, root)
        return found, bool(found)
    return [], False


def _mypy_target(path: str, root: Path) -> str:
    """The subpackage that holds ``path`` (``lib/components``, ``tools/deploy``, ``tests/unit/preflight``), else the
    file itself: a top-level package (``tools``, ``lib``, ``tests``) is the whole tree, not what changed."""
    folder = Path(path).parent
    return folder.as_posix() if len(folder.parts) >= 2 and (root / folder / "__init__.py").is_file() else path


def _minimal(paths: Iterable[str]) -> list[str]:
    """Sorted, without duplicates and without a path inside another listed folder."""
    unique = sorted(set(paths))
    return [path for path in unique if not any(path.startswith(f"{other}/") for other in unique if other != path)]


def plan(changed: Sequence[str], root: Path = ROOT) -> Plan:
    """What runs for ``changed`` (paths relative to ``root``; deleted ones still map to their tests)."""
    result = Plan()
    tests: list[str] = []
    for path in changed:
        exists = (root / path).is_file()
        if path.endswith(".py") and exists:
            result.python_files.append(path)
            result.mypy_targets.append(_mypy_target(path, root))
        found, mapped = unit_tests_for(path, root)
        tests += [test for test in found if (root / test).exists()]
        if not mapped and path.endswith(".py"):
            result.unmapped.append(path)
    result.python_files.sort()
    result.mypy_targets = _minimal(result.mypy_targets)
    result.tests = _minimal(tests)
    return result


def _git(*args: str, root: Path) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=60).stdout


def base_commit(base: str | None, root: Path = ROOT) -> str:
    """The merge base of HEAD with ``base``, else with the upstream branch, else ``main``, else HEAD itself."""
    candidates = [base] if base else ["@{upstream}", "main"]
    for ref in candidates:
        found = subprocess.run(
            ["git", "merge-base", "HEAD", ref], cwd=root, capture_output=True, text=True, check=False, timeout=60
        )
        if found.returncode == 0:
            return found.stdout.strip()
        if base:
            raise SystemExit(
                f"tools.lint.check: BASE={base!r} is not a git reference this repository knows "
                f"({found.stderr.strip()}). Fix: name a branch, tag or commit, such as origin/main."
            )
    return _git("rev-parse", "HEAD", root=root).strip()


def changed_files(base: str, root: Path = ROOT) -> list[str]:
    """Paths that differ between ``base`` and the working tree, untracked files included."""
    diffed = _git("diff", "--name-only", "--no-renames", base, root=root).splitlines()
    untracked = _git("ls-files", "--others", "--exclude-standard", root=root).splitlines()
    return sorted(set(diffed) | set(untracked))


def steps(work: Plan) -> list[tuple[str, list[str]]]:
    """The commands for a plan, in order (a step with nothing to check is left out)."""
    python = sys.executable
    found: list[tuple[str, list[str]]] = []
    if work.python_files:
        found.append(("ruff check", [python, "-m", "ruff", "check", *work.python_files]))
        found.append(("ruff format --check", [python, "-m", "ruff", "format", "--check", *work.python_files]))
    if work.mypy_targets:
        # Not every override in pyproject.toml concerns a subset: no "unused section" note.
        found.append(("mypy", [python, "-m", "mypy", "--no-warn-unused-configs", *work.mypy_targets]))
    if work.tests:
        found.append(("unit tests", [python, "-m", "pytest", "-q", *work.tests]))
    return found


def _describe(work: Plan, base: str, changed: Sequence[str]) -> str:
    lines = [f"[check] {len(changed)} changed path(s) since {base[:12]} (and in the working tree)"]
    lines.append(f"[check] python files: {' '.join(work.python_files) or '(none)'}")
    lines.append(f"[check] mypy on: {' '.join(work.mypy_targets) or '(nothing)'}")
    lines.append(f"[check] unit tests: {' '.join(work.tests) or '(none mapped)'}")
    if work.unmapped:
        lines.append(f"[check] no unit test names these (make test covers them): {' '.join(work.unmapped)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Plan, print the plan, run every step, print the roll-up; exit 1 when a step failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=None, help="compare with the merge base of HEAD and this ref")
    parser.add_argument("--plan", action="store_true", help="print what would run, run nothing")
    args = parser.parse_args(argv)
    base = base_commit(args.base)
    changed = changed_files(base)
    work = plan(changed)
    print(_describe(work, base, changed), flush=True)
    if args.plan:
        return 0
    results = []
    for name, command in steps(work):
        started = time.monotonic()
        print(f"[check] {name}", flush=True)
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        results.append((name, time.monotonic() - started, "passed" if code == 0 else f"FAILED (exit {code})"))
    width = max([len(name) for name, _, _ in results] + [5])
    print(f"\nmake check: roll-up\n  {'step':<{width}}  {'time':>8}  result")
    for name, seconds, result in results:
        print(f"  {name:<{width}}  {seconds:7.1f}s  {result}")
    failed = any(result != "passed" for _, _, result in results)
    print(f"  {'total':<{width}}  {sum(s for _, s, _ in results):7.1f}s  {'FAILED' if failed else 'PASSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
