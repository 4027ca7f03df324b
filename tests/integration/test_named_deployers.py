"""Any named deployer can plan, and only they (issue 25, "Only the first deployer can plan"): on the stack the
sandbox applied as its deployer role, ``make plan`` as a second one, an IAM Identity Center permission set's role
listed in ``DEPLOYER_PRINCIPAL_ARNS`` by its pattern, refreshes the artifact (a read the artifacts bucket refuses to
anyone not named) and finds nothing to change; ``make deploy`` as a role of the same shape that is not listed stops
at the account preflight's deployer check, before init, with the fix. Both run as a user runs them: a subprocess of
make, the identity given as the environment's credentials (``tools/sandbox/deployer_roles.py``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lib.config import StackConfig
from tools.sandbox.deployer_roles import (
    SECOND_DEPLOYER,
    SECOND_DEPLOYER_PATTERN,
    UNLISTED,
    SandboxRole,
    session_environment,
)
from tools.sandbox.emulator import client

ROOT = Path(__file__).resolve().parents[2]


def _make(target: str, role: SandboxRole, endpoint: str, config: StackConfig) -> str:
    """``make <target> ENVIRONMENT=<suffix>`` signed as a new session of ``role``: ``exit <code>`` and its output."""
    env = dict(os.environ)
    env.update(session_environment(client("sts", endpoint, config.aws_region), role, "second-deployer@example.com"))
    for unwanted in ("DEPLOY_POST_APPLY_HOOK", "AUTO_APPROVE"):  # a refused deploy must not get far enough to use them
        env.pop(unwanted, None)
    result = subprocess.run(
        ["make", "--no-print-directory", target, f"ENVIRONMENT={config.environment_suffix}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def test_a_second_named_deployer_plans_the_applied_stack(expected: StackConfig, endpoint: str) -> None:
    output = _make("plan", SECOND_DEPLOYER, endpoint, expected)
    assert output.startswith("exit 0\n"), output
    assert f"[passed] deployer: {SECOND_DEPLOYER.arn} (session " in output, output
    assert f"(by the pattern {SECOND_DEPLOYER_PATTERN})" in output, output
    # The refresh read the artifact object as this role: a 403 would have failed the plan.
    assert "[deploy] plan passed" in output and "0 to create, 0 to update, 0 to replace, 0 to destroy" in output, output


def test_an_unlisted_role_is_refused_before_anything_runs(expected: StackConfig, endpoint: str) -> None:
    output = _make("deploy", UNLISTED, endpoint, expected)
    assert not output.startswith("exit 0\n"), output  # make exits 2 when its recipe fails
    assert f"[failed] deployer: {UNLISTED.arn} (session " in output, output
    assert "is not on DEPLOYER_PRINCIPAL_ARNS" in output, output
    pattern = UNLISTED.arn.rsplit("_", 1)[0] + "_*"
    assert f"fix: run as a listed role; or add {pattern} to DEPLOYER_PRINCIPAL_ARNS" in output, output
    assert "[deploy] FAILED in step 'account'" in output and "[deploy] init" not in output, output
