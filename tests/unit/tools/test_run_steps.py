"""``make test``'s roll-up: every step with its time and result, the first failure ends the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

MAKEFILE = "ok:\n\t@echo fine\nbad:\n\t@exit 3\nafter:\n\t@echo never\n"


def test_the_roll_up_lists_every_step_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(MAKEFILE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tools.dev.run_steps", "-C", str(tmp_path), "ok", "bad", "after"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2  # make reports a failed recipe as 2
    roll_up = result.stdout.split("make test: roll-up", 1)[1]
    rows = {line.split()[0]: line for line in roll_up.strip().splitlines()[1:]}
    assert rows["ok"].endswith("passed") and rows["bad"].endswith("FAILED (exit 2)")
    assert rows["after"].endswith("not run") and rows["total"].endswith("FAILED")
    assert "never" not in result.stdout


def test_an_all_green_run_says_passed(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(MAKEFILE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tools.dev.run_steps", "-C", str(tmp_path), "ok"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.rstrip().endswith("PASSED")


def test_a_step_summary_line_goes_under_its_row(tmp_path: Path) -> None:
    makefile = 'summed:\n\t@echo "fuzz passed: 12 cases" > "$$MAKE_TEST_SUMMARY"\nplain:\n\t@echo fine\n'
    (tmp_path / "Makefile").write_text(makefile, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tools.dev.run_steps", "-C", str(tmp_path), "summed", "plain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = result.stdout.split("make test: roll-up", 1)[1].strip().splitlines()
    summed = next(index for index, line in enumerate(lines) if line.split()[0] == "summed")
    assert lines[summed + 1].strip() == "fuzz passed: 12 cases"
    assert lines[summed + 2].split()[0] == "plain"


def test_a_step_that_audited_nothing_is_not_audited_not_passed(tmp_path: Path) -> None:
    """``make audit`` where the advisory sources do not answer: exit 0, but the roll-up says "not audited"."""
    makefile = (
        'audit:\n\t@echo "advisory source unreachable (3 of 3 not audited)" > "$$MAKE_TEST_SUMMARY"\n'
        '\t@echo "not audited" > "$$MAKE_TEST_RESULT"\nok:\n\t@echo fine\n'
    )
    (tmp_path / "Makefile").write_text(makefile, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tools.dev.run_steps", "-C", str(tmp_path), "audit", "ok"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = {line.split()[0]: line for line in result.stdout.split("make test: roll-up", 1)[1].strip().splitlines()[1:]}
    assert rows["audit"].endswith("not audited") and rows["ok"].endswith("passed")
    assert rows["total"].endswith("PASSED (audit: not audited)")
