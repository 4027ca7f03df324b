"""The sandbox runner's reporting: what a user reads when a cycle passes or fails.

The full cycle itself is ``make sandbox`` (part of ``make test``); these tests pin the pieces whose output
other tools and people consume: the outputs file's shape, and the failure messages.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.sandbox.runner import SandboxBusy, exclusive_run, flatten_outputs, junit_counts, last_error, last_refusals


def test_outputs_file_is_keyed_by_stack_name_with_plain_values() -> None:
    raw = {"vpc_id": {"value": "vpc-1", "type": "string", "sensitive": False},
           "subnet_ids": {"value": ["a", "b"], "type": ["list", "string"], "sensitive": False}}
    assert flatten_outputs("TapStacksandbox", raw) == {"TapStacksandbox": {"subnet_ids": ["a", "b"],
                                                                           "vpc_id": "vpc-1"}}


def test_failure_message_is_terraforms_first_error(tmp_path: Path) -> None:
    log = tmp_path / "apply.log"
    log.write_text("aws_vpc.main: Creating...\n"
                   "│ Error: creating RDS DB Instance (payment-db): DBInstanceAlreadyExists\n"
                   "│ Error: second\n", encoding="utf-8")
    assert last_error(log) == "Error: creating RDS DB Instance (payment-db): DBInstanceAlreadyExists"
    log.write_text("Apply complete!\n\n", encoding="utf-8")
    assert last_error(log) == "Apply complete!"


def test_last_refusals_are_the_emulators_error_answers(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    assert not last_refusals(log)
    lines = [f"error answer 400 BAD REQUEST POST /  host=h: <Code>Code{i}</Code>" for i in range(7)]
    log.write_text("\n".join(["fidelity patch x: y", *lines, '127.0.0.1 - - "POST / HTTP/1.1" 200 -']),
                   encoding="utf-8")
    assert last_refusals(log, count=3) == lines[-3:]


def test_junit_counts(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite tests="10" failures="1" errors="2" skipped="3"/></testsuites>',
                     encoding="utf-8")
    assert junit_counts(junit) == {"passed": 4, "failed": 1, "errors": 2, "skipped": 3}


def test_a_second_cycle_in_the_same_checkout_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / ".sandbox.lock"
    with exclusive_run(lock):
        with pytest.raises(SandboxBusy, match=rf"pid {os.getpid()}\) is running in this checkout"):
            with exclusive_run(lock):
                pass  # pragma: no cover - never entered
    with exclusive_run(lock):  # released when the first cycle ends
        assert lock.read_text(encoding="utf-8") == str(os.getpid())
