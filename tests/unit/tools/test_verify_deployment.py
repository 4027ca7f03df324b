"""``make verify-deployment`` without an emulator: the first-boot wait, the HTTPS errors, the CLI's refusals.

The checks against the API are in tests/sandbox/test_verify_deployment.py (our moto server); the one here that
needs a target group's changing answers uses a scripted client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lib.config import StackConfig
from tools.deploy import verify
from tools.deploy.checks import FAILED, PASSED
from tools.deploy.verify import REQUIRED_OUTPUTS, check_alarms, check_api_path, check_target_health

CONFIG = StackConfig(environment_suffix="verify", api_domain="api.pay.example.com")
OUTPUTS = {name: f"{name}-value" for name in REQUIRED_OUTPUTS}


class ScriptedTargets:
    """DescribeTargetHealth answering one state list per call (the last one repeats)."""

    def __init__(self, *answers: list[tuple[str, str]]) -> None:
        self.answers, self.calls = list(answers), 0

    def describe_target_health(self, **_: Any) -> dict[str, Any]:
        states = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return {
            "TargetHealthDescriptions": [
                {
                    "Target": {"Id": target},
                    "TargetHealth": {
                        "State": state,
                        "Reason": "Target.ResponseCodeMismatch" if state == "unhealthy" else "",
                    },
                }
                for target, state in states
            ]
        }


def _run(elbv2: ScriptedTargets, wait: float, lines: list[str], **changes: Any) -> verify.Run:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    run = verify.Run(
        outputs=OUTPUTS,
        config=CONFIG,
        clients=lambda service, region: elbv2,
        sandbox=False,
        wait_seconds=wait,
        http_get=verify.https_get,
        progress=lines.append,
        sleep=sleep,
        clock=lambda: now[0],
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def test_the_first_boot_is_waited_for_with_progress() -> None:
    lines: list[str] = []
    elbv2 = ScriptedTargets([], [("i-1", "initial")], [("i-1", "initial")], [("i-1", "healthy"), ("i-2", "draining")])
    check = check_target_health(_run(elbv2, 900, lines))
    assert (check.status, check.detail) == (PASSED, "1 of 1 targets healthy")
    assert len(lines) == 3 and "no target registered" in lines[0] and "i-1 initial" in lines[1]
    assert "(15 s of 900 s)" in lines[1]


def test_a_target_that_never_passes_fails_after_the_wait_with_its_reason() -> None:
    lines: list[str] = []
    check = check_target_health(_run(ScriptedTargets([("i-1", "unhealthy")]), 60, lines))
    assert check.status == FAILED and check.detail == "after 60 s: i-1 unhealthy (Target.ResponseCodeMismatch)"
    assert "VERIFY_WAIT" in check.fix and "<instance id>/boot" in check.fix and "payment-api-boot" in check.fix
    assert len(lines) == 4  # 0, 15, 30, 45 s; the answer at 60 s is the last


def test_an_alb_that_does_not_answer_fails_naming_the_security_group() -> None:
    # Port 443 on loopback: nothing listens there on these machines, so the connection is refused at once.
    run = _run(ScriptedTargets([]), 0, [], outputs={**OUTPUTS, "alb_dns_name": "127.0.0.1"})
    check = check_api_path(run, "/health")
    assert check.status == FAILED and "security group" in check.fix
    assert check.looked_at == "GET https://api.pay.example.com/health (connected to 127.0.0.1)"


class PagedAlarms:
    """DescribeAlarms by name, refusing more names a call than AWS takes (100), as the API does."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.batches: list[int] = []

    def get_paginator(self, operation: str) -> PagedAlarms:
        assert operation == "describe_alarms"
        return self

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        names: list[str] = request["AlarmNames"]
        assert request["AlarmTypes"] == ["MetricAlarm"]
        if len(names) > 100:
            raise ValueError("ValidationError: AlarmNames takes at most 100 items")
        self.batches.append(len(names))
        alarms = [
            {"AlarmName": name, "ActionsEnabled": True, "AlarmActions": [self.topic], "StateValue": "OK"}
            for name in names
        ]
        return [{"MetricAlarms": alarms}]


def test_more_alarms_than_one_call_takes_are_asked_for_in_batches() -> None:
    names = [f"payment-alarm-{index}-verify" for index in range(150)]
    cloudwatch = PagedAlarms(topic="arn:aws:sns:us-east-1:123456789012:payment-alarms-verify")
    outputs = {**OUTPUTS, "alarm_names": names, "sns_topic_arn": cloudwatch.topic}
    check = check_alarms(_run(ScriptedTargets([]), 0, [], outputs=outputs, clients=lambda service, region: cloudwatch))
    assert (check.status, check.detail) == (PASSED, f"150 alarms, each notifying {cloudwatch.topic}")
    assert cloudwatch.batches == [100, 50]


def test_cli_refuses_a_stack_without_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs_file = tmp_path / "flat-outputs.json"
    outputs_file.write_text(json.dumps({"TapStackother": {}}), encoding="utf-8")
    monkeypatch.setenv("ENVIRONMENT_SUFFIX", "verify")
    monkeypatch.delenv("SANDBOX_ENDPOINT_URL", raising=False)
    assert verify.main(["--outputs-file", str(outputs_file)]) == 2
    assert "has no outputs for TapStackverify (it has: TapStackother)" in capsys.readouterr().err


def test_cli_refuses_a_negative_wait(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        verify.main(["--wait", "-1"])
    assert "give 0 or more seconds" in capsys.readouterr().err
