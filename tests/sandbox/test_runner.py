"""The sandbox runner's reporting: what a user reads when a cycle passes or fails.

The full cycle itself is ``make sandbox`` (part of ``make test``); these tests pin the pieces whose output
other tools and people consume: the failure messages (the outputs file: tests/unit/deploy/test_outputs.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lib.config import ConfigError
from tools.sandbox import runner
from tools.sandbox.runner import (
    RealStateInTheWay,
    SandboxBusy,
    check_no_real_state,
    emulator_counts,
    exclusive_run,
    junit_counts,
    last_error,
    last_refusals,
    sandbox_config,
)


def test_failure_message_is_terraforms_first_error(tmp_path: Path) -> None:
    log = tmp_path / "apply.log"
    log.write_text(
        "aws_vpc.main: Creating...\n"
        "│ Error: creating RDS DB Instance (payment-db): DBInstanceAlreadyExists\n"
        "│ Error: second\n",
        encoding="utf-8",
    )
    assert last_error(log) == "Error: creating RDS DB Instance (payment-db): DBInstanceAlreadyExists"
    log.write_text("Apply complete!\n\n", encoding="utf-8")
    assert last_error(log) == "Apply complete!"


def test_a_failed_make_deploy_is_named_by_its_own_failure_line(tmp_path: Path) -> None:
    log = tmp_path / "deploy.log"
    log.write_text(
        "[deploy] plan ...\n│ Error: earlier noise\n[deploy] FAILED in step 'verify': make "
        "verify-deployment exited 1 (its output is above)\nmake: *** [Makefile:83: deploy] Error 1\n",
        encoding="utf-8",
    )
    assert last_error(log) == "[deploy] FAILED in step 'verify': make verify-deployment exited 1 (its output is above)"


def test_last_refusals_are_the_emulators_error_answers(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    assert not last_refusals(log)
    lines = [f"error answer 400 BAD REQUEST CreateThing: Code{i}: refused" for i in range(7)]
    log.write_text(
        "\n".join(["fidelity patch x: y", *lines, '127.0.0.1 - - "POST / HTTP/1.1" 200 -']), encoding="utf-8"
    )
    assert last_refusals(log, count=3) == lines[-3:]


def test_refusals_shown_are_the_failing_phases_and_not_routine_lookups(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    earlier = "error answer 400 BAD REQUEST CreateVpc: Earlier: from another phase\n"
    routine = (
        "error answer 404 NOT FOUND HEAD /bucket: \n"
        "error answer 400 BAD REQUEST DescribeDBInstances: DBInstanceNotFound: not found\n"
        "error answer 404 NOT FOUND GetBucketPolicy: NoSuchBucketPolicy: The bucket policy does not exist\n"
    )
    cause = "error answer 400 BAD REQUEST CreateDBInstance: DBInstanceAlreadyExists: exists"
    log.write_text(earlier + routine + cause + "\n", encoding="utf-8")
    assert last_refusals(log, since=len(earlier)) == [cause]


def test_progress_counts_completed_resources(tmp_path: Path) -> None:
    log = tmp_path / "apply.log"
    log.write_text(
        "aws_vpc.main: Creating...\naws_vpc.main: Creation complete after 1s [id=vpc-1]\n"
        "aws_subnet.a: Creation complete after 0s [id=subnet-1]\naws_db_instance.db: Still creating...\n",
        encoding="utf-8",
    )
    line = runner.progress_line("apply", log, 104, 45.2)
    assert line.startswith("[sandbox] apply: 2/104 resources, 45 s (follow ") and line.endswith("apply.log)")
    plan = tmp_path / "plan.log"
    plan.write_text("Plan: 104 to add, 0 to change, 0 to destroy.\n", encoding="utf-8")
    assert runner.planned_count(plan, 0) == 104 and runner.planned_count(tmp_path / "none.log", 0) is None


def test_junit_counts(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite tests="10" failures="1" errors="2" skipped="3"/></testsuites>', encoding="utf-8"
    )
    assert junit_counts(junit) == {"passed": 4, "failed": 1, "errors": 2, "skipped": 3}


def test_a_second_cycle_in_the_same_checkout_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / ".sandbox.lock"
    with exclusive_run(lock):
        with pytest.raises(SandboxBusy, match=rf"pid {os.getpid()}\) is running in this checkout"):
            with exclusive_run(lock):
                pass  # pragma: no cover - never entered
    with exclusive_run(lock):  # released when the first cycle ends
        assert lock.read_text(encoding="utf-8") == str(os.getpid())


def test_the_sandbox_honours_environment_suffix_and_is_always_development() -> None:
    assert sandbox_config({}).stack_name == "TapStacksandbox"
    config = sandbox_config(
        {"ENVIRONMENT_SUFFIX": "alice", "ENVIRONMENT_TYPE": "production", "TERRAFORM_STATE_BUCKET": "acme-tf-state"}
    )
    assert (config.stack_name, config.environment_type, config.state_bucket) == ("TapStackalice", "development", None)
    assert config.local_state_path.parent.name == "sandbox-state"
    with pytest.raises(ConfigError, match="ENVIRONMENT_SUFFIX=''"):
        sandbox_config({"ENVIRONMENT_SUFFIX": ""})


def test_the_sandbox_refuses_a_suffix_whose_real_state_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "PROJECT_ROOT", tmp_path)
    config = sandbox_config({"ENVIRONMENT_SUFFIX": "prod"})
    check_no_real_state(config)  # nothing there: fine
    (tmp_path / "terraform.TapStackprod.tfstate").write_text("{}", encoding="utf-8")
    with pytest.raises(RealStateInTheWay, match="may track a real deployment"):
        check_no_real_state(config)
    assert (tmp_path / "terraform.TapStackprod.tfstate").read_text(encoding="utf-8") == "{}"


def test_emulator_counts_read_the_journal(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    log.write_text(
        "retry CreateVpcEndpoint attempt 2 (invocation x): ...\n"
        "lost answer replayed: CreateVpcEndpoint attempt 2 gets attempt 1's 200 OK (not run twice)\n"
        "client token t repeated: CreateVpcEndpoint answered with the first call's result\n"
        "slow answer 200 OK CreateDBInstance after 12.0 s\n127.0.0.1 - - POST / 200\n",
        encoding="utf-8",
    )
    assert emulator_counts(log) == {
        "sdk_retries": 1,
        "lost_answers_replayed": 1,
        "token_replays": 1,
        "slow_answers": 1,
        "framing_mismatches": 0,
    }
    assert set(emulator_counts(tmp_path / "missing.log").values()) == {0}


def test_the_leftover_check_lists_what_make_destroy_kept_and_fails_on_anything_else(tmp_path: Path) -> None:
    report = tmp_path / "destroy.json"
    assert runner.kept_by_destroy(report) == {}  # make destroy never wrote one: nothing is expected
    report.write_text(
        '{"kept": [{"kind": "db-snapshot", "name": "payment-db-sandbox-final-20260101000000", "why": "final",'
        ' "later": "aws rds delete-db-snapshot"}]}',
        encoding="utf-8",
    )
    expected = runner.kept_by_destroy(report)
    assert expected == {"db-snapshot payment-db-sandbox-final-20260101000000": "final"}
    kept_only = ["db-snapshot payment-db-sandbox-final-20260101000000"]
    assert runner.sort_leftovers(kept_only, expected) == ([], kept_only, [])
    surprise = [*kept_only, "s3-bucket payment-logs-sandbox-123456789012"]
    assert runner.sort_leftovers(surprise, expected) == (["s3-bucket payment-logs-sandbox-123456789012"], kept_only, [])
    # A final snapshot make destroy announced but did not take fails the check too.
    assert runner.sort_leftovers([], expected) == ([], [], kept_only)


def test_a_failed_make_destroy_is_named_by_its_own_failure_line(tmp_path: Path) -> None:
    log = tmp_path / "destroy.log"
    log.write_text("[deploy] unprotect ...\n[destroy] FAILED in step 'unprotect': the destroy-mode plan\n", "utf-8")
    assert last_error(log) == "[destroy] FAILED in step 'unprotect': the destroy-mode plan"
