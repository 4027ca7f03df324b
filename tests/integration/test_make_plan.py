"""``make plan ENVIRONMENT=<suffix>`` on the applied sandbox stack: the command CI runs on a pull request, run as a
user runs it (a subprocess of make, the emulator given through the environment). After ``make deploy`` it must find
every name the stack uses held by its own state (a re-run is not a collision), save the plan outside ``cdktf.out``
and report nothing to change."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from lib.config import StackConfig

ROOT = Path(__file__).resolve().parents[2]


def test_make_plan_after_deploy_is_empty_and_no_name_collides(expected: StackConfig, endpoint: str) -> None:
    del endpoint  # ordering only: the sandbox must be running
    plan = ROOT / "plans" / f"{expected.stack_name}.tfplan"
    plan.unlink(missing_ok=True)
    result = subprocess.run(
        ["make", "--no-print-directory", "plan", f"ENVIRONMENT={expected.environment_suffix}"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[deploy] plan passed" in output, output
    assert "0 to create, 0 to update, 0 to replace, 0 to destroy" in output, output
    names = re.search(
        r"\[passed\] names: (\d+) names looked up, (\d+) held by this stack's state, 0 held outside", output
    )
    # Names the state holds are not looked up again: after a deploy, every name is the stack's own.
    assert names is not None and int(names.group(2)) > 0 and names.group(1) == "0", output
    assert "[deploy] apply" not in output, "make plan must stop after the plan"
    assert plan.is_file(), f"the plan is not saved at {plan}"
