"""The migration host's run, called by Terraform (the ``terraform_data`` of ``lib/components/migration_host.py``,
a local-exec) while ``make deploy`` applies: launch one host from the migration launch template and wait, bounded, for
the result it writes.

    MIGRATION_LAUNCH_TEMPLATE_ID=lt-... MIGRATION_LAUNCH_TEMPLATE_VERSION=3 MIGRATION_SUBNET_ID=subnet-... \\
    MIGRATION_RESULT_PARAMETER=/tap/dev/payment-api/migration/<sha256> MIGRATION_LOG_GROUP=/tap/tap-api-dev \\
    MIGRATION_WAIT_SECONDS=1800 AWS_REGION=eu-west-1 python -m tools.deploy.migration_wait

The result parameter of this release is deleted first (a re-run after a failure must not read the old outcome), then
the host is launched; ``ok`` ends the run (exit 0), ``failed: ...`` fails it (exit 1), and so does the end of the wait
or a host that is gone without a result. Each failure names the parameter, the host and where its logs are.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

POLL_SECONDS = 5.0
OK = "ok"
ENDED_STATES = ("shutting-down", "terminated", "stopped")


class MigrationFailed(RuntimeError):
    """The host reported a failure, ended without a result, or the wait ended (the message says where to look)."""


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The local-exec's environment (``lib/components/migration_host.py`` writes it)."""

    template_id: str
    template_version: str
    subnet_id: str
    result_parameter: str
    log_group: str
    wait_seconds: float
    region: str

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> RunSettings:
        names = {
            "template_id": "MIGRATION_LAUNCH_TEMPLATE_ID",
            "template_version": "MIGRATION_LAUNCH_TEMPLATE_VERSION",
            "subnet_id": "MIGRATION_SUBNET_ID",
            "result_parameter": "MIGRATION_RESULT_PARAMETER",
            "log_group": "MIGRATION_LOG_GROUP",
            "wait_seconds": "MIGRATION_WAIT_SECONDS",
            "region": "AWS_REGION",
        }
        missing = [variable for variable in names.values() if not env.get(variable)]
        if missing:
            raise MigrationFailed(
                f"{', '.join(missing)} not set: this runs as the migration host's local-exec during make deploy "
                "(lib/components/migration_host.py sets them)"
            )
        values: dict[str, Any] = {field: env[variable] for field, variable in names.items()}
        try:
            values["wait_seconds"] = float(values["wait_seconds"])
        except ValueError as error:
            raise MigrationFailed(
                f"MIGRATION_WAIT_SECONDS={env['MIGRATION_WAIT_SECONDS']!r} is not a number"
            ) from error
        return cls(**values)


def where_to_look(settings: RunSettings, instance_id: str) -> str:
    """The host's logs: the console output (EC2 keeps it after termination for a while) and the log group's streams."""
    return (
        f"Read the host's boot: `aws ec2 get-console-output --instance-id {instance_id} --latest`, and the log group "
        f"{settings.log_group}, streams {instance_id}/boot and {instance_id}/migrate (docs/operating.md, "
        '"A failed migration"). Fix the cause and run make deploy again: it launches a new host.'
    )


def launch(ec2: Any, settings: RunSettings) -> str:
    """One host from the migration launch template, in the given app subnet; its instance id."""
    reservation = ec2.run_instances(
        LaunchTemplate={
            "LaunchTemplateId": settings.template_id,
            "Version": settings.template_version,
        },
        SubnetId=settings.subnet_id,
        MinCount=1,
        MaxCount=1,
    )
    instance_id: str = reservation["Instances"][0]["InstanceId"]
    return instance_id


def read_result(ssm: Any, name: str) -> str | None:
    """The result parameter's value, None while it does not exist."""
    try:
        value: str = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    return value


def host_state(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    state: str = reservations[0]["Instances"][0]["State"]["Name"] if reservations else "terminated"
    return state


def wait_for_result(
    ec2: Any,
    ssm: Any,
    settings: RunSettings,
    instance_id: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll the result parameter until ``ok`` (returned), ``failed: ...``, a host gone without result, or the end of
    the wait (each :class:`MigrationFailed`)."""
    deadline = clock() + settings.wait_seconds
    while True:
        result = read_result(ssm, settings.result_parameter)
        if result == OK:
            return result
        if result is not None:
            raise MigrationFailed(
                f"the migration host {instance_id} reported {result!r} in {settings.result_parameter}. "
                + where_to_look(settings, instance_id)
            )
        state = host_state(ec2, instance_id)
        if state in ENDED_STATES and read_result(ssm, settings.result_parameter) is None:
            raise MigrationFailed(
                f"the migration host {instance_id} is {state} and wrote nothing to {settings.result_parameter}. "
                + where_to_look(settings, instance_id)
            )
        if clock() >= deadline:
            raise MigrationFailed(
                f"no result in {settings.result_parameter} after {settings.wait_seconds:.0f} s "
                f"(MIGRATION_WAIT_SECONDS); {terminate(ec2, instance_id)}. " + where_to_look(settings, instance_id)
            )
        sleep(POLL_SECONDS)


def terminate(ec2: Any, instance_id: str) -> str:
    """End a host that overran the wait (its role reads the master secret: none is left running when we can help it)."""
    try:
        ec2.terminate_instances(InstanceIds=[instance_id])
    except ClientError as error:
        return (
            f"the host {instance_id} could not be terminated ({error.response['Error']['Code']}): terminate it "
            f"yourself (`aws ec2 terminate-instances --instance-ids {instance_id}`)"
        )
    return f"the host {instance_id} was terminated (its role reads the master secret: none is left running)"


def run(settings: RunSettings, ec2: Any, ssm: Any) -> str:
    """Forget an earlier outcome of this release, launch the host, wait for its result; a line for the log."""
    try:
        ssm.delete_parameter(Name=settings.result_parameter)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
    instance_id = launch(ec2, settings)
    print(f"[migration] host {instance_id} launched; waiting for {settings.result_parameter}", flush=True)
    started = time.monotonic()
    wait_for_result(ec2, ssm, settings, instance_id)
    return f"[migration] {settings.result_parameter} = ok after {time.monotonic() - started:.0f} s ({instance_id})"


def main() -> int:
    try:
        settings = RunSettings.from_environment(os.environ)
        session = boto3.session.Session(region_name=settings.region)
        print(run(settings, session.client("ec2"), session.client("ssm")), flush=True)
    except MigrationFailed as error:
        print(f"[migration] failed: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
