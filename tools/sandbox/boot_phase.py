"""The sandbox's post-apply hook: ``make deploy`` runs it (``DEPLOY_POST_APPLY_HOOK``) between the outputs and the
frontend, so the instances boot before ``make verify-deployment``, on the path a user's deploy takes.

    python -m tools.sandbox.boot_phase      # AWS_ENDPOINT_URL, AWS_REGION, ENVIRONMENT_SUFFIX from make deploy

The apply ends with the group's instances held in ``Pending:Wait`` by the launch lifecycle hook. For each of them this
runs the boot rehearsal (``tools/sandbox/rehearsal/``): the user data of the launch template version the group
launches, read back from the emulator and checked to be the synthesized one, run as root in the instance's own
namespaces. The script completes the hook itself (CONTINUE); then a payment and a refund go through the service it
started, and the instance must be ``InService``. A local PostgreSQL 15 stands in for RDS under the RDS host name,
with the master user and password of the secret the stack created: the same one (:func:`sandbox_database`) the
migration phase's host created the roles and the application login in during the apply, so the API logs in with the
login that host put into the app-login secret.

Each boot's logs stay in ``sandbox-logs/boot/<instance id>/``. The steps go to ``sandbox-logs/boot.json`` with the
byte range of the emulator's log the boot took (``moto_log_range``): they are the instances' calls, not the
deployer's, and the deployer-policy check leaves them out.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from botocore.credentials import Credentials
from tap_contract import runtime
from tap_contract.identity import Output

from lib.config import stack_name_for
from lib.synth_output import output_dir, stack_file
from tools.deploy.outputs import stack_outputs
from tools.operator_token import request_token, signed_proof
from tools.sandbox import lifecycle
from tools.sandbox.emulator import ROOT, client
from tools.sandbox.rehearsal.harness import (
    BootResult,
    Database,
    Emulator,
    Instance,
    InstanceBoot,
    ensure_host_tools,
    rehearse,
)
from tools.sandbox.stripe_emulator import instance_read_secret, payment_at_stripe

LOG_DIR = ROOT / "sandbox-logs"
MOTO_LOG = LOG_DIR / "moto.log"
# The one PostgreSQL of a sandbox run (the runner empties LOG_DIR at the start of each run).
SHARED_DATABASE = LOG_DIR / "database"
BOOT_REPORT = LOG_DIR / "boot.json"
# Which launch template version each instance was booted from (moto reports the group's current version for all).
BOOTED_VERSIONS = LOG_DIR / "boot-versions.json"
PAYMENT_AMOUNT = 2500
# pm_card_visa: the contract's test token that Stripe's test mode has under the same name (tests/service's token map).
PAYMENT = {"amount": PAYMENT_AMOUNT, "currency": "EUR", "payment_method": "pm_card_visa"}
BOOT_TIMEOUT_SECONDS = 900


class BootPhaseError(RuntimeError):
    """A boot failed or what the stack wrote does not fit together (the message says which)."""


@dataclass(frozen=True, kw_only=True)
class LaunchSpec:
    """What the group launches: the launch template version, its user data and the instance role."""

    version: str
    user_data: str
    role_arn: str
    api_port: int


def launch_spec(endpoint: str, region: str, asg_name: str) -> LaunchSpec:
    """The group's launch template version as the emulator holds it, and the role of its instance profile."""
    group = client("autoscaling", endpoint, region).describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])
    template = group["AutoScalingGroups"][0]["LaunchTemplate"]
    ec2 = client("ec2", endpoint, region)
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=[str(template["Version"])]
    )["LaunchTemplateVersions"]
    data = versions[0]["LaunchTemplateData"]
    user_data = base64.b64decode(data["UserData"]).decode("utf-8")
    profile_name = data["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1]
    profile = client("iam", endpoint, region).get_instance_profile(InstanceProfileName=profile_name)
    port = next(line for line in user_data.splitlines() if line.startswith("API_PORT="))
    return LaunchSpec(
        version=str(versions[0]["VersionNumber"]),
        user_data=user_data,
        role_arn=profile["InstanceProfile"]["Roles"][0]["Arn"],
        api_port=int(port.split("=", 1)[1]),
    )


def synthesized_template(stack_name: str, path_end: str) -> dict[str, Any]:
    """The launch template at construct path ``path_end`` (``compute/launch_template``, the API's;
    ``migration_host/launch_template``) in the stack make deploy synthesized (``CDKTF_OUTDIR``)."""
    stack = json.loads(stack_file(output_dir(os.environ, ROOT), stack_name).read_text(encoding="utf-8"))
    templates = stack["resource"]["aws_launch_template"]
    (template,) = [body for body in templates.values() if body["//"]["metadata"]["path"].endswith(path_end)]
    return dict(template)


def synthesized_user_data(stack_name: str, path_end: str = "compute/launch_template") -> str:
    """That launch template's user data, decoded."""
    return base64.b64decode(synthesized_template(stack_name, path_end)["user_data"]).decode("utf-8")


def database_inputs(endpoint: str, region: str, parameter_name: str) -> tuple[dict[str, str], dict[str, str]]:
    """The runtime parameter (what the instance reads) and the master secret it names."""
    parameter = client("ssm", endpoint, region).get_parameter(Name=parameter_name, WithDecryption=True)
    values = runtime.read_parameter(parameter["Parameter"]["Value"])  # checked as the instance's loader checks it
    secret = client("secretsmanager", endpoint, region).get_secret_value(
        SecretId=values[runtime.DB_MASTER_SECRET_ARN.key]
    )
    return values, json.loads(secret["SecretString"])


def operator_token(boot: InstanceBoot, address: str, role_arn: str) -> tuple[str, str]:
    """A token from the booted service for an emulator session of the stack's operator role (assumed with a
    SourceIdentity, as an operator's is; the emulator does not evaluate the trust policy's MFA condition, which the
    policy-evaluation test covers), its proof signed for the STS endpoint the instance sees (the emulator through the
    namespace's relay: the service, outside production, forwards to ``AWS_ENDPOINT_URL``). Returns the token and the
    session's ARN."""
    emulator = boot.emulator
    issued = client("sts", emulator.endpoint, emulator.region).assume_role(
        RoleArn=role_arn, RoleSessionName="sandbox-rehearsal", SourceIdentity="sandbox-rehearsal"
    )
    keys = issued["Credentials"]
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    seen_by_instance = f"http://{boot.host_ip}:{emulator.endpoint.rsplit(':', 1)[1].rstrip('/')}"
    try:
        answer = request_token(address, signed_proof(credentials, emulator.region, seen_by_instance))
    except RuntimeError as error:
        raise BootPhaseError(f"POST /v1/operator-tokens: {error}") from error
    return str(answer["token"]), str(issued["AssumedRoleUser"]["Arn"])


def pay_and_refund(
    result: BootResult, boot: InstanceBoot, operator_role_arn: str, stripe: StripeBoot | None = None
) -> list[str]:
    """One payment and a partial refund through the service the script started, as a client and as an operator
    proven by IAM (the refund's created_by must name the operator role's session); with the Stripe processor, both
    must be at the sandbox's localstripe."""
    token, session_arn = operator_token(boot, result.address, operator_role_arn)
    with httpx.Client(base_url=result.address, timeout=15) as http:
        paid = http.post("/v1/payments", json=PAYMENT, headers={"Idempotency-Key": f"sandbox-{uuid.uuid4()}"})
        if paid.status_code != 201:
            raise BootPhaseError(f"POST /v1/payments answered {paid.status_code}: {paid.text[:300]}")
        payment_id = paid.json()["id"]
        refunded = http.post(
            f"/v1/payments/{payment_id}/refunds",
            json={"amount": 1000, "reason": "requested_by_customer"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"sandbox-{uuid.uuid4()}"},
        )
        if refunded.status_code != 201:
            raise BootPhaseError(f"POST /v1/payments/{payment_id}/refunds answered {refunded.status_code}")
    refund_id = refunded.json()["id"]
    if refunded.json()["created_by"] != session_arn:
        raise BootPhaseError(f"the refund names {refunded.json()['created_by']!r}, not the session {session_arn}")
    steps = [f"payment {payment_id} and refund {refund_id} by {session_arn} through {result.address}"]
    if stripe is not None:
        steps.append(payment_at_stripe(stripe.api_base, payment_id, refund_id, PAYMENT_AMOUNT))
    return steps


@dataclass(frozen=True, kw_only=True)
class StripeBoot:
    """The Stripe processor as the runtime parameter names it: the secret the instance fetches and the emulator."""

    secret_arn: str
    """``stripe_secret_arn``: the instance role reads it at boot (payment-api-credentials.service)."""
    api_base: str
    """``stripe_api_base``: the sandbox's localstripe (tools/sandbox/stripe_emulator.py)."""

    @staticmethod
    def of(values: dict[str, str]) -> StripeBoot | None:
        """From the runtime parameter's values; None with the simulator."""
        if values[runtime.PROCESSOR.key] != "stripe":
            return None
        return StripeBoot(
            secret_arn=values[runtime.STRIPE_SECRET_ARN.key], api_base=values[runtime.STRIPE_API_BASE.key]
        )


def stripe_secret_delivered(boot: InstanceBoot, emulator: Emulator, stripe: StripeBoot) -> str:
    """The Stripe secret, as the operator's secret holds it, in the serving unit's credential ``stripe-secret``
    (LoadCredential=, fetched by root's payment-api-credentials.service); its value is never shown."""
    held = client("secretsmanager", emulator.endpoint, emulator.region).get_secret_value(SecretId=stripe.secret_arn)
    delivered = boot.run_inside("cat /run/credentials/payment-api.service/stripe-secret")
    if delivered != held["SecretString"]:
        raise BootPhaseError(f"payment-api.service's credential stripe-secret is not {stripe.secret_arn}'s value")
    mode = boot.run_inside("stat -c '%a %U' /run/credentials/payment-api.service/stripe-secret").strip()
    return f"the Stripe secret is payment-api.service's credential stripe-secret ({mode})"


def credentials_delivered(boot: InstanceBoot, emulator: Emulator, secret_arn: str) -> str:
    """The idempotency HMAC secret's AWSCURRENT, as the stack's secret holds it, in the serving unit's credential
    folder (``LoadCredential=``, fetched by root's payment-api-credentials.service)."""
    current = client("secretsmanager", emulator.endpoint, emulator.region).get_secret_value(SecretId=secret_arn)
    delivered = boot.run_inside("cat /run/credentials/payment-api.service/idempotency-hmac-current")
    if delivered != current["SecretString"]:
        raise BootPhaseError(
            f"payment-api.service's credential idempotency-hmac-current is not {secret_arn}'s AWSCURRENT version"
        )
    return f"the idempotency secret's AWSCURRENT ({current['VersionId']}) is payment-api.service's credential"


def secret_reads(since: int, secret_arn: str, session: str) -> list[str]:
    """The request log's ``GetSecretValue`` lines (any status) naming ``secret_arn`` (by ARN or by name) signed by
    ``session`` after byte ``since`` of the emulator's log."""
    named = secret_arn.split(":secret:", 1)[1]
    resources = {f"secret:{named}", f"secret:{named[:-7]}"}  # the ARN's name ends in "-" and 6 random characters
    with MOTO_LOG.open("rb") as handle:
        handle.seek(since)
        lines = handle.read().decode("utf-8", "replace").splitlines()
    return [
        line
        for line in lines
        if line.startswith("request secretsmanager GetSecretValue ")
        and line.endswith(f" by={session}")
        and line.split()[5] in resources
    ]


def logged_in_without_the_master_secret(since: int, values: dict[str, str], session: str) -> list[str]:
    """Issue 27: the instance's session never asked for the RDS master secret (not even refused), and it read the
    application's login secret (200): the request log after byte ``since`` says so, or a :class:`BootPhaseError`."""
    master, login = values[runtime.DB_MASTER_SECRET_ARN.key], values[runtime.APP_LOGIN_SECRET_ARN.key]
    asked = secret_reads(since, master, session)
    if asked:
        raise BootPhaseError(f"{session} asked for the RDS master secret: {asked[0]}")
    read = [line for line in secret_reads(since, login, session) if line.split()[4] == "200"]
    if not read:
        raise BootPhaseError(f"the request log shows no GetSecretValue of {login} by {session} answered 200")
    return [
        f"the request log: no GetSecretValue of the master secret by={session}",
        f"the request log: {read[0].split()[5]} read by={session} (200): the login it serves with",
    ]


def sandbox_database(db_host: str, master: dict[str, str]) -> Any:
    """The sandbox's one PostgreSQL standing in for RDS (a ``LocalPostgres`` in :data:`SHARED_DATABASE`), started:
    created with the RDS master user of the stack's secret the first time, started again with its data after that.
    The migration phase (the host creates the roles, migrates, sets the application login) and the boot phase (the API
    logs in with that login) take turns on it; each stops it with ``stop(remove=False)``."""
    from tools.dev.local_api.postgres import LocalPostgres  # pylint: disable=import-outside-toplevel  # heavy
    from tools.dev.local_api.testca import development_ca  # pylint: disable=import-outside-toplevel

    database = LocalPostgres(ca=development_ca(), host_names=[db_host], folder=SHARED_DATABASE)
    resumed = database.resumed
    database.start(bootstrap=False)
    if not resumed:
        database.rds_master(master["username"], master["password"])
    return database


def boot_instances(endpoint: str, region: str, stack: str, folder: Path) -> list[str]:
    """Rehearse every waiting instance's boot; returns the steps for the report."""
    outputs = stack_outputs(stack)
    asg_name = outputs[Output.ASG_NAME]
    spec = launch_spec(endpoint, region, asg_name)
    if spec.user_data != synthesized_user_data(stack):
        raise BootPhaseError(f"launch template version {spec.version} holds other user data than the synthesized stack")
    autoscaling = client("autoscaling", endpoint, region)
    waiting = lifecycle.waiting_instances(autoscaling, asg_name)
    steps = [f"launch template version {spec.version}: the synthesized user data ({len(spec.user_data)} bytes)"]
    replaced = None
    if not waiting:
        replaced, note = refresh_replacement(autoscaling, asg_name, spec.version)
        steps.append(note)
        waiting = lifecycle.waiting_instances(autoscaling, asg_name)
    values, secret = database_inputs(endpoint, region, outputs[Output.API_RUNTIME_PARAMETER_NAME])
    db_host, db_port = values[runtime.DB_HOST.key], int(values[runtime.DB_PORT.key])
    database = sandbox_database(db_host, secret)
    try:
        for index, instance_id in enumerate(waiting, start=1):
            steps += boot_one(
                spec,
                instance_id,
                index=index,
                emulator=Emulator(endpoint=endpoint, region=region),
                database=Database(host_name=db_host, port=db_port, local_port=database.port),
                folder=folder / instance_id,
                secret_arn=outputs[Output.IDEMPOTENCY_SECRET_ARN],
                runtime_values=values,
                stripe=StripeBoot.of(values),
                operator_role_arn=outputs[Output.OPERATOR_ROLE_ARN],
            )
    finally:
        database.stop(remove=False)
    _record_versions({instance_id: spec.version for instance_id in waiting}, drop=replaced)
    if replaced is not None:
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=replaced, ShouldDecrementDesiredCapacity=True)
        steps.append(f"{replaced} (an earlier version) terminated, the group's size back where it was")
    return steps


def refresh_replacement(autoscaling: Any, asg_name: str, version: str) -> tuple[str, str]:
    """No instance waits, so this apply changed a group that runs: the provider started an instance refresh, which
    the emulator records but does not carry out. Do its first step: launch one instance from the new version (scale
    out by one, the hook holds it), and return the instance of an earlier version it replaces."""
    refreshes = autoscaling.describe_instance_refreshes(AutoScalingGroupName=asg_name)["InstanceRefreshes"]
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
    booted = _booted_versions()
    stale = [i["InstanceId"] for i in group["Instances"] if booted.get(i["InstanceId"], version) != version]
    if not refreshes or not stale:
        raise BootPhaseError(
            f"no instance of {asg_name} waits for its boot, and no instance refresh to version {version} is recorded "
            f"({len(refreshes)} refreshes; instances of earlier versions: {', '.join(stale) or 'none'})"
        )
    autoscaling.set_desired_capacity(
        AutoScalingGroupName=asg_name, DesiredCapacity=group["DesiredCapacity"] + 1, HonorCooldown=False
    )
    return stale[0], (
        f"instance refresh {refreshes[0]['InstanceRefreshId']} ({refreshes[0]['Status']}) to version {version}: "
        f"the emulator replaces no instance, so one is launched from it to replace {stale[0]}"
    )


def _booted_versions() -> dict[str, str]:
    if not BOOTED_VERSIONS.is_file():
        return {}
    versions: dict[str, str] = json.loads(BOOTED_VERSIONS.read_text(encoding="utf-8"))
    return versions


def _record_versions(booted: dict[str, str], drop: str | None) -> None:
    versions = {**_booted_versions(), **booted}
    versions.pop(drop or "", None)
    BOOTED_VERSIONS.write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def boot_one(
    spec: LaunchSpec,
    instance_id: str,
    *,
    index: int,
    emulator: Emulator,
    database: Database,
    folder: Path,
    secret_arn: str,
    runtime_values: dict[str, str],
    operator_role_arn: str,
    stripe: StripeBoot | None = None,
) -> list[str]:
    """One instance: rehearse its boot, pay and refund through it (with ``stripe``, at the sandbox's localstripe, the
    secret fetched by the instance's own session), and see the group put it InService."""
    steps: list[str] = []
    since = _moto_log_size()
    session = f"assumed-role/{spec.role_arn.rsplit('/', 1)[1]}/{instance_id}"
    autoscaling = client("autoscaling", emulator.endpoint, emulator.region)
    zone = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"][0]

    def then(result: BootResult, boot: InstanceBoot) -> None:
        if result.exit_status != 0:
            tail = "\n".join(result.boot_log.splitlines()[-25:])
            raise BootPhaseError(
                f"{instance_id}: the user data exited {result.exit_status} in step {result.failed_step!r} after "
                f"{result.seconds} s (logs: {folder.relative_to(ROOT)}/)\n{tail}"
            )
        steps.append(f"{instance_id}: the user data ran in {result.seconds} s and completed its hook")
        settings = boot.run_inside("cat /etc/payment-api/common.env").split()
        steps.append(f"{instance_id}: settings " + " ".join(line for line in settings if "POOL_MAX" in line))
        steps.append(f"{instance_id}: " + credentials_delivered(boot, emulator, secret_arn))
        steps.extend(
            f"{instance_id}: {step}" for step in logged_in_without_the_master_secret(since, runtime_values, session)
        )
        if stripe is not None:
            steps.append(f"{instance_id}: " + stripe_secret_delivered(boot, emulator, stripe))
            steps.append(f"{instance_id}: " + instance_read_secret(MOTO_LOG, since, stripe.secret_arn, session))
        steps.extend(pay_and_refund(result, boot, operator_role_arn, stripe))

    rehearse(
        spec.user_data,
        Instance(instance_id=instance_id, role_arn=spec.role_arn, availability_zone=zone["AvailabilityZone"]),
        index=index,
        emulator=emulator,
        database=database,
        folder=folder,
        api_port=spec.api_port,
        timeout=BOOT_TIMEOUT_SECONDS,
        then=then,
    )
    state = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
    if not state or state[0]["LifecycleState"] != "InService":
        raise BootPhaseError(f"{instance_id} is {state[0]['LifecycleState'] if state else 'gone'} after its boot")
    steps.append(f"{instance_id}: InService")
    return steps


def main() -> int:
    """Boot and pay; exit 1 naming the instance and the step that failed."""
    endpoint, region = os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_REGION"]
    stack = stack_name_for(os.environ["ENVIRONMENT_SUFFIX"])
    folder = LOG_DIR / "boot"
    start, started = _moto_log_size(), time.monotonic()
    steps: list[str] = []
    report: dict[str, Any] = {}
    try:
        ensure_host_tools()
        steps = boot_instances(endpoint, region, stack, folder)
    except Exception as err:  # pylint: disable=broad-exception-caught  # said in one line; details in the boot log
        print(f"[boot] failed: {err}\n(logs: {folder.relative_to(ROOT)}/)", file=sys.stderr)
        report["error"] = str(err)
        return 1
    finally:
        report.update(
            steps=steps, seconds=round(time.monotonic() - started, 1), moto_log_range=[start, _moto_log_size()]
        )
        LOG_DIR.mkdir(exist_ok=True)
        BOOT_REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("[boot] " + "\n[boot] ".join(steps), flush=True)
    return 0


def _moto_log_size() -> int:
    return MOTO_LOG.stat().st_size if MOTO_LOG.is_file() else 0


if __name__ == "__main__":
    sys.exit(main())
