"""The CloudWatch agent stand-in: a configuration outside our schema fails, naming the JSON path; a valid one starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.tools.sandbox.rehearsal.support import StandinRoot

CONFIG_PATH = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
CTL_ARGS = ("-a", "fetch-config", "-m", "ec2", "-s", "-c", f"file:{CONFIG_PATH}")


def boot_config() -> dict[str, Any]:
    """The configuration the boot writes today (lib/blocks/templates/payment_api_user_data.sh), markers filled in."""
    group = "/payment/test/api"
    return {
        "agent": {"run_as_user": "root"},
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {"file_path": "/var/log/payment-api/api.log", "log_group_name": group,
                         "log_stream_name": "{instance_id}/api"},
                        {"file_path": "/var/log/payment-api/migrate.log", "log_group_name": group,
                         "log_stream_name": "{instance_id}/migrate"},
                        {"file_path": "/var/log/payment-api-boot.log", "log_group_name": group,
                         "log_stream_name": "{instance_id}/boot", "retention_in_days": 30, "timezone": "UTC"},
                    ]
                }
            },
            "force_flush_interval": 5,
        },
    }  # fmt: skip


def fetch(root: StandinRoot, config: object) -> tuple[int, str]:
    root.write(CONFIG_PATH, config if isinstance(config, str) else json.dumps(config))
    result = root.run("agent", *CTL_ARGS)
    return result.returncode, result.stderr


def test_the_boots_configuration_is_accepted_and_the_agent_recorded_running(root: StandinRoot) -> None:
    code, stderr = fetch(root, boot_config())
    assert code == 0, stderr
    state = root.read("/run/standin-cloudwatch-agent").splitlines()
    assert state[0] == "running" and state[2] == f"config={CONFIG_PATH}"
    assert state[1].startswith("started_at_ns=")
    kept = root.read("/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d/file_amazon-cloudwatch-agent.json")
    assert json.loads(kept) == boot_config()
    status = json.loads(root.run("agent", "-a", "status").stdout)
    assert (status["status"], status["configstatus"]) == ("running", "configured")


def test_without_s_the_agent_is_configured_but_not_running(root: StandinRoot) -> None:
    root.write(CONFIG_PATH, json.dumps(boot_config()))
    assert root.run("agent", "-a", "fetch-config", "-m", "ec2", "-c", f"file:{CONFIG_PATH}").returncode == 0
    assert json.loads(root.run("agent", "-a", "status").stdout)["status"] == "stopped"


def broken(path: str, value: object) -> dict[str, Any]:
    """The boot's configuration with one change: ``path`` is a dotted path, a key ending in ``!`` is deleted."""
    config = boot_config()
    node: Any = config
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if last.endswith("!"):
        del node[last[:-1]]
    else:
        node[last] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("logs.logs_collected.files.collect_list.0.log_stream_nam", "x",
         "$.logs.logs_collected.files.collect_list[0].log_stream_nam: unknown key"),
        ("agent.run_as", "root", "$.agent.run_as: unknown key (allowed here: debug, logfile, region, run_as_user;"),
        ("logs.logs_collected.files.collect_list.2.retention_in_days", "30",
         "$.logs.logs_collected.files.collect_list[2].retention_in_days: expected integer, got str"),
        ("logs.logs_collected.files.collect_list.2.retention_in_days", 10,
         "$.logs.logs_collected.files.collect_list[2].retention_in_days: 10 is not one of [-1, 1, 3,"),
        ("logs.logs_collected.files.collect_list.0.log_stream_name", "{instance-id}/api",
         "{instance-id} is not a variable the agent substitutes"),
        ("logs.logs_collected.files.collect_list.1.log_group_name!", None,
         "$.logs.logs_collected.files.collect_list[1].log_group_name: required key missing"),
        ("logs.logs_collected.files.collect_list.2.timezone", "utc", '"utc" is not one of ["Local", "LOCAL", "UTC"]'),
        ("logs.force_flush_interval", 0, "$.logs.force_flush_interval: 0 is outside 1..172800"),
        ("logs.force_flush_interval", True, "$.logs.force_flush_interval: expected integer, got bool"),
        ("agent.run_as_user", "cwagent-nobody", "$.agent.run_as_user: user 'cwagent-nobody' does not exist"),
        ("logs.logs_collected.files.collect_list", [], "collect_list: needs at least 1 item(s)"),
        ("logs.logs_collected.files.collect_list.0.file_path", "var/log/api.log", "does not match ^/"),
    ],
)  # fmt: skip
def test_a_configuration_outside_the_schema_fails_naming_the_path(
    root: StandinRoot, path: str, value: object, message: str
) -> None:
    code, stderr = fetch(root, broken(path, value))
    assert code == 1
    assert message in stderr
    assert not (root.path / "run/standin-cloudwatch-agent").exists(), "a rejected configuration does not start"


def test_every_problem_is_reported_at_once(root: StandinRoot) -> None:
    config = broken("agent.bogus", 1)
    config["logs"]["extra"] = True
    _code, stderr = fetch(root, config)
    assert "(2 problem(s))" in stderr and "$.agent.bogus" in stderr and "$.logs.extra" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-a", "fetch-config", "-m", "ec2", "-c", "ssm:AmazonCloudWatch-linux"), "reads file:/path configurations"),
        (("-a", "fetch-config", "-m", "ec3", "-c", f"file:{CONFIG_PATH}"), "-m 'ec3': the agent accepts"),
        (("-a", "fetch-configs",), "-a 'fetch-configs': the stand-in supports fetch-config, status, stop"),
        (("-a", "fetch-config", "-m", "ec2", "-c", "file:/no/such.json"), "cannot read /no/such.json"),
        (("-a", "status", "-x"), "unknown argument '-x'"),
    ],
)  # fmt: skip
def test_bad_invocations_fail(root: StandinRoot, args: tuple[str, ...], message: str) -> None:
    result = root.run("agent", *args)
    assert result.returncode == 1
    assert message in result.stderr


def test_invalid_json_fails_with_the_position(root: StandinRoot) -> None:
    code, stderr = fetch(root, '{"logs": {')
    assert code == 1
    assert f"{CONFIG_PATH} is not valid JSON: Expecting property name enclosed in double quotes: line 1" in stderr
