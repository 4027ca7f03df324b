"""tools/lint/check.py (``make check``): which ruff, mypy and unit-test targets a set of changed files maps to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.lint.check import AREAS, ROOT, SHARED_TEST_CODE, base_commit, changed_files, plan, steps, unit_tests_for

TREE = {
    "lib/__init__.py": "",
    "lib/config.py": "",
    "lib/components/__init__.py": "",
    "lib/components/compute.py": "",
    "lib/blocks/__init__.py": "",
    "lib/blocks/kms.py": "",
    "tap.py": "",
    "preflight/__init__.py": "",
    "preflight/rules_security.py": "",
    "tools/__init__.py": "",
    "tools/prereqs.py": "",
    "tools/unused.py": "",
    "tools/deploy/__init__.py": "",
    "tools/deploy/runner.py": "",
    "services/payment_api/src/payment_api/app.py": "",
    "tests/__init__.py": "",
    "tests/conftest.py": "",
    "tests/unit/__init__.py": "",
    "tests/unit/components/__init__.py": "",
    "tests/unit/components/test_compute.py": "",
    "tests/unit/blocks/__init__.py": "",
    "tests/unit/blocks/test_kms.py": "",
    "lib/naming.py": "",
    "tests/unit/stack/__init__.py": "",
    "tests/unit/stack/test_config.py": "from lib.config import StackConfig\n",
    "tests/unit/preflight/__init__.py": "",
    "tests/unit/preflight/builders.py": "",
    "tests/unit/preflight/test_rules_security.py": "",
    "tests/unit/deploy/__init__.py": "",
    "tests/unit/deploy/test_runner.py": "",
    "tests/unit/tools/__init__.py": "",
    "tests/unit/tools/test_first_hour.py": 'subprocess.run([sys.executable, "tools/prereqs.py"])\n',
    "tests/unit/tools/test_other.py": "from tools.prereqs_extra import x  # another module\n",
    "tests/service/unit/__init__.py": "",
    "tests/service/unit/test_app.py": "",
    "README.md": "",
}


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Path:
    for path, text in TREE.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ("lib/components/compute.py", ["tests/unit/components"]),
        ("lib/blocks/kms.py", ["tests/unit/blocks", "tests/unit/components"]),  # blocks run through the components
        ("lib/config.py", ["tests/unit/stack/test_config.py"]),  # lib/ outside components and blocks: by name
        ("lib/naming.py", ["tests/unit/stack"]),  # ... or the stack's folder when no test names it
        ("tap.py", ["tests/unit/stack"]),
        ("lib/tap_stack.py", ["tests/unit/stack"]),
        ("preflight/rules_security.py", ["tests/unit/preflight"]),
        ("tools/deploy/runner.py", ["tests/unit/deploy"]),
        ("services/payment_api/src/payment_api/app.py", ["tests/service/unit"]),
        ("tools/prereqs.py", ["tests/unit/tools/test_first_hour.py"]),  # the tests that name it, by path or import
        ("tests/unit/stack/test_config.py", ["tests/unit/stack/test_config.py"]),  # a changed test runs itself
        ("tests/unit/preflight/builders.py", ["tests/unit/preflight"]),  # shared test code: its folder
        ("tests/conftest.py", ["tests/unit"]),  # every unit test uses it
        ("README.md", []),
        ("tools/unused.py", []),
    ],
)
def test_a_changed_file_maps_to_its_unit_tests(tree: Path, changed: str, expected: list[str]) -> None:
    assert unit_tests_for(changed, tree)[0] == expected


def test_the_plan_merges_targets_and_names_what_no_test_covers(tree: Path) -> None:
    (tree / "tools" / "gone.py").unlink(missing_ok=True)  # a deleted file: no lint target, still mapped
    work = plan(
        [
            "tests/unit/components/test_compute.py",
            "lib/components/compute.py",
            "README.md",
            "tools/unused.py",
            "tools/prereqs.py",
            "preflight/gone.py",
        ],
        tree,
    )
    assert work.python_files == [
        "lib/components/compute.py",
        "tests/unit/components/test_compute.py",
        "tools/prereqs.py",
        "tools/unused.py",
    ]
    # subpackages as a whole; a module of a top-level package (tools) on its own, not the whole tree
    assert work.mypy_targets == ["lib/components", "tests/unit/components", "tools/prereqs.py", "tools/unused.py"]
    # the changed test is inside a folder that runs anyway: listed once
    assert work.tests == ["tests/unit/components", "tests/unit/preflight", "tests/unit/tools/test_first_hour.py"]
    assert work.unmapped == ["tools/unused.py"]
    assert [name for name, _ in steps(work)] == ["ruff check", "ruff format --check", "mypy", "unit tests"]
    assert not steps(plan(["README.md"], tree))


def test_every_folder_the_areas_name_exists_in_the_repository() -> None:
    """A test folder renamed without updating AREAS would silently run nothing for that area."""
    named = {folder for _, folders, _ in AREAS for folder in folders}
    assert named and all((ROOT / folder).is_dir() for folder in named), sorted(
        f for f in named if not (ROOT / f).is_dir()
    )
    assert all((ROOT / path).is_file() for path in SHARED_TEST_CODE)
    assert all((ROOT / prefix).exists() for prefix, _, _ in AREAS)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_changed_files_are_committed_staged_unstaged_and_untracked_since_the_base(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    _git(tmp_path, "checkout", "-q", "-b", "work")
    (tmp_path / "a.py").write_text("x = 2\n", encoding="utf-8")
    _git(tmp_path, "commit", "-qam", "committed on the branch")
    (tmp_path / "b.py").write_text("x = 2\n", encoding="utf-8")  # unstaged
    (tmp_path / "new.py").write_text("x = 1\n", encoding="utf-8")  # untracked
    (tmp_path / "c.py").unlink()  # deleted
    base = base_commit(None, tmp_path)  # no upstream here: the merge base with main
    assert changed_files(base, tmp_path) == ["a.py", "b.py", "c.py", "new.py"]
    with pytest.raises(SystemExit, match=r"BASE='nope' is not a git reference .* Fix: name a branch"):
        base_commit("nope", tmp_path)
