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
