"""The sandbox's during-apply hook: ``make deploy`` runs it while Terraform applies (``DEPLOY_DURING_APPLY_HOOK``),
so the migration host the apply launches boots for real and the apply's wait on its result ends (issue 27).

    python -m tools.sandbox.migration_phase     # AWS_ENDPOINT_URL, AWS_REGION, ENVIRONMENT_SUFFIX from make deploy

moto runs no user data and has no instance-initiated shutdown. So this watches the emulator: when an instance launched
from the stack's migration launch template appears (moto tags it ``aws:ec2launchtemplate:id``), it runs the boot
rehearsal (tools/sandbox/rehearsal/) with that template version's user data, read back from the emulator and checked to
be the synthesized one, as the host's role, against the sandbox's one PostgreSQL 15 standing in for RDS under the RDS
host name with the master user of the secret the stack created (boot_phase.sandbox_database: the boot phase's API
instances then log in with the application login this host set). The script writes the result parameter itself (the
apply's wait reads it); when it powers off (the shutdown stand-in records it) this terminates the instance in the
emulator, which is what EC2 does under ``instance_initiated_shutdown_behavior = "terminate"``. A rehearsal that fails
terminates the host too, so the apply's wait fails at once ("terminated and wrote nothing") instead of at its timeout.

It runs until make deploy stops it (SIGTERM after the apply; a rehearsal under way is finished first, within make
deploy's 60 s) and exits 1 if a host's rehearsal failed. Logs:
``sandbox-logs/migration/<instance id>/``; the steps and the byte ranges of the emulator's log each rehearsal spanned
(the host's calls, not the deployer's: the deployer-policy check leaves them out) go to ``sandbox-logs/migration.json``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from tap_contract import runtime

from lib.config import stack_name_for
from tools.sandbox.boot_phase import (
    LOG_DIR,
    MOTO_LOG,
    database_inputs,
    sandbox_database,
    synthesized_template,
    synthesized_user_data,
)
from tools.sandbox.emulator import ROOT, client
from tools.sandbox.rehearsal.harness import BootResult, Database, Emulator, Instance, InstanceBoot, rehearse

REPORT = LOG_DIR / "migration.json"
TEMPLATE_PATH = "migration_host/launch_template"
SHUTDOWN_RECORD = "var/lib/rehearsal/shutdown"
POLL_SECONDS = 2.0
BOOT_TIMEOUT_SECONDS = 900
# The rehearsal namespaces' index (veth 10.213.<index>.0/30): above the boot phase's 1, 2, ... per instance.
FIRST_INDEX = 40


class MigrationPhaseError(RuntimeError):
    """A host's rehearsal failed or what the stack wrote does not fit together (the message says which)."""


# make deploy's SIGTERM (the apply ended): the watch stops after the rehearsal under way, which the apply may have
# outrun (the host's result is written before its power-off), so that each host's rehearsal is seen to its end.
STOP = threading.Event()


def _stop(_signum: int, _frame: FrameType | None) -> None:
    STOP.set()


def template_id(ec2: Any, name: str) -> str | None:
    """The migration launch template's id once the apply created it."""
    try:
        templates = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
    except ec2.exceptions.ClientError:
        return None
    return str(templates[0]["LaunchTemplateId"]) if templates else None


def launched_hosts(ec2: Any, template: str) -> list[dict[str, Any]]:
    """Instances of ``template`` that run (moto puts them in ``running`` at once)."""
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:aws:ec2launchtemplate:id", "Values": [template]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def host_spec(endpoint: str, region: str, host: dict[str, Any], stack: str) -> tuple[str, str]:
    """The user data of the template version the host was launched from (checked to be the synthesized one) and the
    role of its instance profile."""
    tags = {tag["Key"]: tag["Value"] for tag in host.get("Tags", [])}
    ec2 = client("ec2", endpoint, region)
    version = ec2.describe_launch_template_versions(
        LaunchTemplateId=tags["aws:ec2launchtemplate:id"], Versions=[tags["aws:ec2launchtemplate:version"]]
    )["LaunchTemplateVersions"][0]
    data = version["LaunchTemplateData"]
    user_data = base64.b64decode(data["UserData"]).decode("utf-8")
    if user_data != synthesized_user_data(stack, TEMPLATE_PATH):
        raise MigrationPhaseError(
            f"migration launch template version {version['VersionNumber']} holds other user data than the synthesized "
            "stack"
        )
    if data.get("InstanceInitiatedShutdownBehavior") != "terminate":
        raise MigrationPhaseError("the migration launch template does not terminate its host on shutdown")
    profile_name = data["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1]
    profile = client("iam", endpoint, region).get_instance_profile(InstanceProfileName=profile_name)
    return user_data, str(profile["InstanceProfile"]["Roles"][0]["Arn"])


def rehearse_host(endpoint: str, region: str, stack: str, host: dict[str, Any], index: int) -> list[str]:
    """One host: its user data in the rehearsal, against the sandbox's PostgreSQL; then terminated."""
    instance_id = host["InstanceId"]
    folder = LOG_DIR / "migration" / instance_id
    ec2 = client("ec2", endpoint, region)
    steps: list[str] = []
    try:
        user_data, role_arn = host_spec(endpoint, region, host, stack)
        parameter = _runtime_parameter(user_data)
        values, secret = database_inputs(endpoint, region, parameter)
        db_host, db_port = values[runtime.DB_HOST.key], int(values[runtime.DB_PORT.key])
        database = sandbox_database(db_host, secret)
        try:

            def then(result: BootResult, boot: InstanceBoot) -> None:
                if result.exit_status != 0:
                    tail = "\n".join(result.boot_log.splitlines()[-25:])
                    raise MigrationPhaseError(
                        f"{instance_id}: the migration host's user data exited {result.exit_status} in step "
                        f"{result.failed_step!r} after {result.seconds} s (logs: {folder.relative_to(ROOT)}/)\n{tail}"
                    )
                powered_off = boot.run_inside(f"cat /{SHUTDOWN_RECORD} 2>/dev/null || true").strip()
                if not powered_off:
                    raise MigrationPhaseError(f"{instance_id}: the user data ended without powering off")
                steps.append(f"{instance_id}: the user data ran in {result.seconds} s and powered off ({powered_off})")

            rehearse(
                user_data,
                Instance(instance_id=instance_id, role_arn=role_arn, availability_zone=_zone(host)),
                index=index,
                emulator=Emulator(endpoint=endpoint, region=region),
                database=Database(host_name=db_host, port=db_port, local_port=database.port),
                folder=folder,
                api_port=0,
                timeout=BOOT_TIMEOUT_SECONDS,
                then=then,
            )
        finally:
            database.stop(remove=False)
    finally:
        # EC2 terminates a host that powers off (shutdown behaviour terminate); a failed rehearsal ends it too, so the
        # apply's wait fails at once.
        ec2.terminate_instances(InstanceIds=[instance_id])
    result = _result(endpoint, region, user_data)
    steps.append(f"{instance_id}: terminated; its result parameter says {result!r}")
    if result != "ok":
        raise MigrationPhaseError(f"{instance_id}: the result parameter says {result!r}")
    return steps


def _runtime_parameter(user_data: str) -> str:
    line = next(line for line in user_data.splitlines() if line.startswith("RUNTIME_PARAMETER="))
    return line.split("=", 1)[1]


def _result(endpoint: str, region: str, user_data: str) -> str:
    line = next(line for line in user_data.splitlines() if line.startswith("RESULT_PARAMETER="))
    name = line.split("=", 1)[1]
    return str(client("ssm", endpoint, region).get_parameter(Name=name)["Parameter"]["Value"])


def _zone(host: dict[str, Any]) -> str:
    return str(host.get("Placement", {}).get("AvailabilityZone", ""))


def watch(endpoint: str, region: str, stack: str, steps: list[str], ranges: list[list[int]]) -> None:
    """Until stopped: rehearse each host the apply launches, once; ``ranges`` gets the emulator log's byte range of
    each rehearsal (the host's calls, and whatever the deployer called meanwhile: the apply is waiting on the host)."""
    ec2 = client("ec2", endpoint, region)
    name = synthesized_template(stack, TEMPLATE_PATH)["name"]
    seen: set[str] = set()
    template = None
    while not STOP.is_set():
        template = template or template_id(ec2, name)
        for host in launched_hosts(ec2, template) if template else []:
            if host["InstanceId"] not in seen:
                seen.add(host["InstanceId"])
                start = _moto_log_size()
                try:
                    steps += rehearse_host(endpoint, region, stack, host, FIRST_INDEX + len(seen))
                finally:
                    ranges.append([start, _moto_log_size()])
        STOP.wait(POLL_SECONDS)


def main() -> int:
    """Watch and rehearse until SIGTERM; exit 1 naming the host and the step that failed."""
    from tools.sandbox.rehearsal.harness import ensure_host_tools  # pylint: disable=import-outside-toplevel

    signal.signal(signal.SIGTERM, _stop)
    endpoint, region = os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_REGION"]
    stack = stack_name_for(os.environ["ENVIRONMENT_SUFFIX"])
    started = time.monotonic()
    steps: list[str] = []
    ranges: list[list[int]] = []
    report: dict[str, Any] = {}
    code = 0
    try:
        ensure_host_tools()
        watch(endpoint, region, stack, steps, ranges)
    except Exception as err:  # pylint: disable=broad-exception-caught  # said in one line; details in the logs
        print(f"[migration] failed: {err}", file=sys.stderr, flush=True)
        report["error"] = str(err)
        code = 1
    finally:
        report.update(steps=steps, seconds=round(time.monotonic() - started, 1), moto_log_ranges=ranges)
        LOG_DIR.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if steps:
        print("[migration] " + "\n[migration] ".join(steps), flush=True)
    return code


def _moto_log_size() -> int:
    return MOTO_LOG.stat().st_size if MOTO_LOG.is_file() else 0


if __name__ == "__main__":
    sys.exit(main())
