"""tools/deploy/migration_wait.py, the migration host's run: launch, then a bounded wait on the result parameter, with
fake EC2 and SSM clients (the sandbox runs it against the emulator with a rehearsed host)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tools.deploy import migration_wait
from tools.deploy.migration_wait import MigrationFailed, RunSettings, run, wait_for_result

SETTINGS = RunSettings(
    template_id="lt-1",
    template_version="3",
    subnet_id="subnet-1",
    result_parameter="/payment/dev/payment-api/migration/abc",
    log_group="/payment/payment-api-dev",
    wait_seconds=60,
    region="eu-west-1",
)


def _not_found(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ParameterNotFound", "Message": "no"}}, operation)


class FakeSsm:
    """The result parameter's successive values (the last one stays); no parameter to delete."""

    def __init__(self, values: list[str | None]) -> None:
        self.values: list[str | None] = values
        self.deleted: list[str] = []

    def get_parameter(self, **kwargs: str) -> dict[str, Any]:
        value = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        if value is None:
            raise _not_found("GetParameter")
        return {"Parameter": {"Name": kwargs["Name"], "Value": value}}

    def delete_parameter(self, **kwargs: str) -> None:
        self.deleted.append(kwargs["Name"])
        raise _not_found("DeleteParameter")


class FakeEc2:
    """One host, in ``state``; records launches and terminations."""

    def __init__(self, state: str = "running") -> None:
        self.state = state
        self.launched: list[dict[str, Any]] = []
        self.terminated: list[str] = []

    def run_instances(self, **kwargs: Any) -> dict[str, Any]:
        self.launched.append(kwargs)
        return {"Instances": [{"InstanceId": "i-0host"}]}

    def describe_instances(self, **kwargs: list[str]) -> dict[str, Any]:
        instance = {"InstanceId": kwargs["InstanceIds"][0], "State": {"Name": self.state}}
        return {"Reservations": [{"Instances": [instance]}]}

    def terminate_instances(self, **kwargs: list[str]) -> None:
        self.terminated += kwargs["InstanceIds"]


def test_the_run_forgets_an_earlier_outcome_launches_from_the_template_and_waits_for_ok(monkeypatch) -> None:
    monkeypatch.setattr(migration_wait.time, "sleep", lambda _seconds: None)
    ssm, ec2 = FakeSsm([None, None, "ok"]), FakeEc2()
    line = run(SETTINGS, ec2, ssm)
    assert ssm.deleted == [SETTINGS.result_parameter]
    assert ec2.launched == [
        {
            "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "3"},
            "SubnetId": "subnet-1",
            "MinCount": 1,
            "MaxCount": 1,
        }
    ]
    assert "= ok" in line and "i-0host" in line


def test_a_reported_failure_names_the_parameter_the_host_and_its_logs() -> None:
    failure = "failed: step 'migrations' (exit 1) on i-0host"
    with pytest.raises(MigrationFailed) as raised:
        wait_for_result(FakeEc2(), FakeSsm([failure]), SETTINGS, "i-0host", sleep=lambda _s: None)
    message = str(raised.value)
    assert failure in message and SETTINGS.result_parameter in message
    assert "aws ec2 get-console-output --instance-id i-0host" in message and "i-0host/migrate" in message


def test_a_host_gone_without_a_result_fails_at_once() -> None:
    with pytest.raises(MigrationFailed, match="i-0host is terminated and wrote nothing to /payment/dev"):
        wait_for_result(FakeEc2("terminated"), FakeSsm([None]), SETTINGS, "i-0host", sleep=lambda _s: None)


def test_the_wait_is_bounded_and_leaves_no_host_running() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ec2 = FakeEc2()
    with pytest.raises(MigrationFailed, match=r"no result in .* after 60 s \(MIGRATION_WAIT_SECONDS\)"):
        wait_for_result(ec2, FakeSsm([None]), SETTINGS, "i-0host", clock=lambda: now[0], sleep=sleep)
    assert ec2.terminated == ["i-0host"] and now[0] >= 60


def test_settings_missing_from_the_environment_say_who_sets_them() -> None:
    with pytest.raises(MigrationFailed, match=r"MIGRATION_SUBNET_ID.* not set: this runs as the migration host"):
        RunSettings.from_environment({"MIGRATION_LAUNCH_TEMPLATE_ID": "lt-1"})
    env = {
        "MIGRATION_LAUNCH_TEMPLATE_ID": "lt-1",
        "MIGRATION_LAUNCH_TEMPLATE_VERSION": "3",
        "MIGRATION_SUBNET_ID": "subnet-1",
        "MIGRATION_RESULT_PARAMETER": "/p",
        "MIGRATION_LOG_GROUP": "/g",
        "MIGRATION_WAIT_SECONDS": "soon",
        "AWS_REGION": "eu-west-1",
    }
    with pytest.raises(MigrationFailed, match="MIGRATION_WAIT_SECONDS='soon' is not a number"):
        RunSettings.from_environment(env)
    assert RunSettings.from_environment({**env, "MIGRATION_WAIT_SECONDS": "1800"}).wait_seconds == 1800
