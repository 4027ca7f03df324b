"""The boot rehearsal against its own emulator: the launch template's user data, rendered as the stack renders it,
run as root in the rehearsal's namespaces on an instance the group holds in ``Pending:Wait``.

One boot that works (the hook is completed with CONTINUE, the instance goes InService, the service answers; the
idempotency HMAC secret reaches the services' credential folders and nowhere else, and a rotation reaches them after a
restart), one with the Stripe processor against a localstripe (the instance session fetches the Stripe secret, the
service loads it as a credential, and its payment and refund are at localstripe), and the template broken in four
places, each failing in the step that names it: a package name, a settings key, a unit's command (in the artifact),
and a command inside the provisioning subshell, which abandons the instance.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import secrets
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tap_contract import runtime

from lib.artifact import OBJECT_KEY, load_artifact
from lib.blocks.user_data import render_user_data
from tools.dev.local_stripe import LocalStripe, stripe_credential
from tools.release.build_artifact import _tar_bytes  # pylint: disable=protected-access  # the builder's own tar
from tools.sandbox import lifecycle
from tools.sandbox.boot_phase import StripeBoot, pay_and_refund, stripe_secret_delivered
from tools.sandbox.emulator import MotoServer, client
from tools.sandbox.rehearsal.harness import (
    GUEST,
    BootResult,
    Database,
    Emulator,
    Instance,
    InstanceBoot,
    ensure_host_tools,
    rehearse,
)
from tools.sandbox.stripe_emulator import HostAddress, instance_read_secret

REGION = "us-east-1"
# The Stripe boot's localstripe: a host address as the sandbox's (tools/sandbox/stripe_emulator.py), not the same one.
STRIPE_ADDRESS = "10.213.0.2"
STRIPE_PARAMETER = "/tap/rehearsal/payment-api/runtime-stripe"
DB_HOST = "rehearsal-db.c0ffee.us-east-1.rds.amazonaws.com"
BUCKET = "rehearsal-artifacts"
PARAMETER = "/tap/rehearsal/payment-api/runtime"
HOOK = "payment-api-boot"
OS_LOG_GROUP = "/tap/rehearsal-os-security"
API_PORT = 8080
# Each boot's own network (10.213.<index>.0/30), as the sandbox's boot phase numbers its instances from 1.
INDEXES = {"works": 201, "package": 202, "setting": 203, "unit": 204, "subshell": 205, "stripe": 206}


@dataclass
class World:
    """The emulator's side of one rehearsal: what the stack would have created."""

    endpoint: str
    role_arn: str
    subnet_id: str
    database: Any
    folder: Path
    hmac_secret_arn: str
    login_secret_arn: str


@pytest.fixture(scope="module")
def world(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from tools.dev.local_api.postgres import LocalPostgres  # pylint: disable=import-outside-toplevel
    from tools.dev.local_api.testca import development_ca  # pylint: disable=import-outside-toplevel

    try:
        ensure_host_tools()
    except Exception as err:  # pylint: disable=broad-exception-caught  # the reason is the skip message
        pytest.skip(f"the boot rehearsal cannot run here: {err}")
    iam = client("iam", moto_endpoint, REGION)
    role_arn = iam.create_role(
        RoleName="rehearsal-instance",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}
                ],
            }
        ),
    )["Role"]["Arn"]
    iam.create_instance_profile(InstanceProfileName="rehearsal-instance")
    iam.add_role_to_instance_profile(InstanceProfileName="rehearsal-instance", RoleName="rehearsal-instance")
    s3 = client("s3", moto_endpoint, REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})  # as the artifacts bucket
    password = secrets.token_urlsafe(16)
    secret_arn = client("secretsmanager", moto_endpoint, REGION).create_secret(
        Name="rehearsal-master", SecretString=json.dumps({"username": "rdsmaster", "password": password})
    )["ARN"]
    hmac_secret_arn = client("secretsmanager", moto_endpoint, REGION).create_secret(
        Name="rehearsal-idempotency-hmac", SecretString=secrets.token_urlsafe(48)
    )["ARN"]
    # The application's login secret: no version until a migration host (here: release_before_issue below) puts one.
    login_secret_arn = client("secretsmanager", moto_endpoint, REGION).create_secret(Name="rehearsal-app-db-login")[
        "ARN"
    ]
    # The contract's example of every setting, with this world's bucket, database and secret.
    value = runtime.example_parameter(
        {
            runtime.ARTIFACT_BUCKET: BUCKET,
            runtime.DB_HOST: DB_HOST,
            runtime.DB_PORT: 5432,
            runtime.DB_MASTER_USERNAME: "rdsmaster",
            runtime.DB_MASTER_SECRET_ARN: secret_arn,
            runtime.IDEMPOTENCY_SECRET_ARN: hmac_secret_arn,
            runtime.APP_LOGIN_SECRET_ARN: login_secret_arn,
            runtime.ENVIRONMENT: "development",
        }
    )
    client("ssm", moto_endpoint, REGION).put_parameter(Name=PARAMETER, Type="SecureString", Value=value)
    ec2 = client("ec2", moto_endpoint, REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    database = LocalPostgres(ca=development_ca(), host_names=[DB_HOST])
    database.start(bootstrap=False)
    database.rds_master("rdsmaster", password)
    try:
        folder = tmp_path_factory.mktemp("rehearsal")
        earlier_release(database, password, folder, client("secretsmanager", moto_endpoint, REGION), login_secret_arn)
        yield World(moto_endpoint, role_arn, subnet, database, folder, hmac_secret_arn, login_secret_arn)
    finally:
        database.stop()


def earlier_release(database: Any, password: str, folder: Path, secrets_manager: Any, login_arn: str) -> None:
    """What an earlier release's migration host left (boot/migration-host.sh, run here from the host's side): the
    roles, the schema at the artifact's head and the login secret's AWSCURRENT naming payment_app_a. An API instance
    boots only after that (the group depends on the host's run); the migration rehearsal then takes payment_app_b."""
    from tools.dev.local_api.postgres import DATABASE  # pylint: disable=import-outside-toplevel
    from tools.dev.local_api.process import run_cli  # pylint: disable=import-outside-toplevel

    env = {
        "PAYMENT_ENVIRONMENT": "development",
        "PAYMENT_PROCESSOR": "simulated",
        "PAYMENT_DB_HOST": "127.0.0.1",
        "PAYMENT_DB_PORT": str(database.port),
        "PAYMENT_DB_NAME": DATABASE,
        "PAYMENT_DB_SSLMODE": "verify-full",
        "PAYMENT_DB_SSLROOTCERT": str(database.ca_file),
    }
    master = {"PAYMENT_DB_MASTER_USER": "rdsmaster", "PAYMENT_DB_MASTER_PASSWORD": password}
    migrate_env, login = folder / "earlier-migrate.env", folder / "earlier-db-login"
    args = ["--instance-id", "i-0earlier", "--migrate-env", str(migrate_env), "--current-app-login", ""]
    done = run_cli({**env, **master}, "provision-roles", *args, "--app-credential", str(login))
    assert done.returncode == 0, done.stderr
    owner = dict(re.findall(r'^([A-Z_]+)="(.*)"$', migrate_env.read_text(encoding="utf-8"), re.M))
    migrated = run_cli({**env, **owner}, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    secrets_manager.put_secret_value(
        SecretId=login_arn,
        SecretString=login.read_text(encoding="utf-8"),
        VersionStages=["AWSCURRENT", "payment_app_a"],
    )
    login.unlink()
    migrate_env.unlink()


def archive_with(changes: dict[str, tuple[str, str]]) -> bytes:
    """The built development artifact with ``boot/<name>`` texts changed (old -> new, each found exactly once)."""
    entries: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(load_artifact().path.read_bytes()))) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member)
            assert extracted is not None
            entries[member.name] = extracted.read()
    for name, (old, new) in changes.items():
        (path,) = [path for path in entries if path.endswith(f"/boot/{name}")]
        text = entries[path].decode()
        assert text.count(old) == 1, f"{old!r} is not in {name} exactly once"
        entries[path] = text.replace(old, new).encode()
    return _tar_bytes(entries)


def boot(
    world: World,
    name: str,
    *,
    user_data: tuple[str, str] | None = None,
    artifact: dict[str, tuple[str, str]] | None = None,
    then: Callable[[BootResult, InstanceBoot], Any] | None = None,
    parameter: str = PARAMETER,
) -> tuple[BootResult, str]:
    """Upload the (changed) artifact, render the user data for it, launch a hooked group of one and rehearse."""
    import hashlib  # pylint: disable=import-outside-toplevel

    archive = archive_with(artifact or {}) if artifact else load_artifact().path.read_bytes()
    digest = hashlib.sha256(archive).hexdigest()
    # As the stack uploads a release: a new version of the one key, its sha256 in the metadata the boot selects by.
    key = OBJECT_KEY
    client("s3", world.endpoint, REGION).put_object(Bucket=BUCKET, Key=key, Body=archive, Metadata={"sha256": digest})
    group = f"rehearsal-{name}"
    values = {
        "API_PORT": str(API_PORT),
        "REGION": REGION,
        "ARTIFACT_KEY": key,
        "ARTIFACT_HASH": digest,
        "RUNTIME_PARAMETER": parameter,
        "LOG_GROUP": "/tap/rehearsal-api",
        "ASG_NAME": group,
        "LIFECYCLE_HOOK": HOOK,
        "OS_LOG_GROUP": OS_LOG_GROUP,
    }
    script = base64.b64decode(render_user_data("payment_api_user_data.sh", values)).decode()
    if user_data:
        assert script.count(user_data[0]) == 1, f"{user_data[0]!r} is not in the user data exactly once"
        script = script.replace(*user_data)
    autoscaling = client("autoscaling", world.endpoint, REGION)
    template = client("ec2", world.endpoint, REGION).create_launch_template(
        LaunchTemplateName=group, LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.small"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        VPCZoneIdentifier=world.subnet_id,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        LifecycleHookSpecificationList=[
            {
                "LifecycleHookName": HOOK,
                "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                "DefaultResult": "ABANDON",
                "HeartbeatTimeout": 1800,
            }
        ],
    )
    (instance_id,) = lifecycle.waiting_instances(autoscaling, group)
    result = rehearse(
        script,
        Instance(instance_id=instance_id, role_arn=world.role_arn, availability_zone="us-east-1a"),
        index=INDEXES[name],
        emulator=Emulator(endpoint=world.endpoint, region=REGION),
        database=Database(host_name=DB_HOST, port=5432, local_port=world.database.port),
        folder=world.folder / name,
        api_port=API_PORT,
        timeout=600,
        then=then,
    )
    return result, instance_id


def lifecycle_state(world: World, instance_id: str) -> str:
    found = client("autoscaling", world.endpoint, REGION).describe_auto_scaling_instances(InstanceIds=[instance_id])
    return found["AutoScalingInstances"][0]["LifecycleState"] if found["AutoScalingInstances"] else "gone"


CREDENTIAL_UNITS = ("payment-api.service", "payment-api-reconcile.service", "payment-api-purge.service")
FETCHED = "/run/payment-api-credentials"


def _mode_owner(boot: InstanceBoot, path: str) -> str:
    return boot.run_inside(f"stat -c '%a %U' {path}").strip()


def _credentials(boot: InstanceBoot, unit: str) -> dict[str, str]:
    """The unit's credential folder as the stand-in's LoadCredential= fills it (started as systemd would start it)."""
    if unit != "payment-api.service":
        boot.run_inside(f"systemctl start {unit}")
    folder = f"/run/credentials/{unit}"
    found = {"folder": _mode_owner(boot, folder)}
    for name in ("idempotency-hmac-current", "idempotency-hmac-previous"):
        found[name] = boot.run_inside(f"cat {folder}/{name}")
        found[f"{name} mode"] = _mode_owner(boot, f"{folder}/{name}")
    return found


def _written_anywhere(boot: InstanceBoot, result: BootResult, values: list[str]) -> list[str]:
    """Where on the instance's disk (the overlay's upper layer: all it wrote outside tmpfs) or in a log any of
    ``values`` appears: the boot log, the service logs, and the units' journals (the stand-in's, under /run)."""
    found = []
    for path in (boot.work / "upper").rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"disk: /{path.relative_to(boot.work / 'upper')}" for value in values if value.encode() in data]
    journals = boot.run_inside("cat /run/standin-systemd/*.journal 2>/dev/null || true")
    found += [f"journal: {value[:4]}..." for value in values if value in journals]
    found += [f"boot log: {value[:4]}..." for value in values if value in result.boot_log]
    return found


def check_hardening(result: BootResult, boot: InstanceBoot) -> None:
    """boot/hardening.sh (issue 28): the security updates of the AMI's release ran through dnf (the stand-in checks the
    release and applies nothing), ssm-user exists with no group but its own and no sudoers file, and the agent's
    configuration ships the authentication log and the audit log to the OS security log group."""
    release = boot.run_inside("cat /etc/amazon-linux-release").split()[3]
    log = result.boot_log
    assert f"boot: dnf upgrade --security --releasever={release} (at most 900 s)" in log, log[-3000:]
    assert re.search(r"boot: [0-9:]{8} security updates\n", log) and "warning: security updates" not in log
    assert boot.run_inside("id -nG ssm-user").split() == ["ssm-user"]
    assert boot.run_inside("ls /etc/sudoers.d 2>/dev/null | grep -c ssm-agent-users || true").strip() == "0"
    config = json.loads(boot.run_inside("cat /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"))
    shipped = {entry["file_path"]: entry for entry in config["logs"]["logs_collected"]["files"]["collect_list"]}
    for path, stream in (("/var/log/os-security/auth.log", "auth"), ("/var/log/audit/audit.log", "audit")):
        assert shipped[path]["log_group_name"] == OS_LOG_GROUP
        assert shipped[path]["log_stream_name"] == "{instance_id}/" + stream
    assert boot.run_inside("test -f /etc/systemd/system/payment-api-auth-log.service && echo installed").strip() == (
        "installed"
    )


INTEGRITY_LOG = "/var/log/os-security/file-integrity.log"


def _integrity_check(boot: InstanceBoot) -> list[str]:
    """Run the hourly check now (the stand-in's timer schedules nothing) as its timer would: the lines it added."""
    before = int(boot.run_inside(f"wc -l <{INTEGRITY_LOG}").strip())
    boot.run_inside("systemctl start payment-api-integrity.service", timeout=300)
    return boot.run_inside(f"tail -n +{before + 1} {INTEGRITY_LOG}").splitlines()


def check_file_integrity(result: BootResult, boot: InstanceBoot) -> None:
    """boot/integrity.sh (issue 28 item 4): AIDE's database of this boot's files, the hourly timer enabled and active,
    its log shipped to the OS security log group; the unchanged host reports no difference, and a changed service
    file and an added sudoers file are findings that the alarm's metric filter counts, naming both files."""
    from lib.components.file_integrity import FINDINGS_PATTERN  # pylint: disable=import-outside-toplevel
    from tests.unit.components.test_file_integrity import matches  # pylint: disable=import-outside-toplevel

    assert re.search(r"boot: AIDE database of this boot's files initialised in \d+ s", result.boot_log)
    assert boot.run_inside("systemctl is-active payment-api-integrity.timer").strip() == "active"
    assert boot.run_inside("ls /etc/systemd/system/timers.target.wants").split().count("payment-api-integrity.timer")
    config = json.loads(boot.run_inside("cat /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"))
    shipped = {entry["file_path"]: entry for entry in config["logs"]["logs_collected"]["files"]["collect_list"]}
    assert shipped[INTEGRITY_LOG]["log_group_name"] == OS_LOG_GROUP
    assert shipped[INTEGRITY_LOG]["log_stream_name"] == "{instance_id}/integrity"
    clean = _integrity_check(boot)
    assert [line.split(" ", 1)[1] for line in clean] == ["file-integrity: no differences"], clean
    boot.run_inside("echo '# changed after boot' >>/opt/payment-api/boot/fetch-credentials.sh")
    # AL2023 has /etc/sudoers.d; the rehearsal's Debian root may not (no sudo package): added with the file then.
    boot.run_inside(
        "install -d -m 0750 /etc/sudoers.d && echo 'ssm-user ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/ssm-agent-users"
    )
    found = _integrity_check(boot)
    counted = [line.split(" ", 1)[1] for line in found if matches(FINDINGS_PATTERN, line)]
    assert counted == ["file-integrity: finding: added entries", "file-integrity: finding: changed entries"], found
    report = "\n".join(line for line in found if "file-integrity: report: " in line)
    assert "/etc/sudoers.d/ssm-agent-users" in report and "/opt/payment-api/boot/fetch-credentials.sh" in report


def check_credentials(world: World, result: BootResult, boot: InstanceBoot) -> None:
    """AWSCURRENT reaches each unit's credential folder (0400, the unit's user), from a root-only folder on tmpfs,
    and is written nowhere else; after a rotation (put-secret-value) and a restart the old value is the previous
    one; the service starts with them (it refuses to serve without its current secret)."""
    assert result.exit_status == 0, result.boot_log[-3000:]
    secrets_manager = client("secretsmanager", world.endpoint, REGION)
    first = secrets_manager.get_secret_value(SecretId=world.hmac_secret_arn)["SecretString"]
    assert _mode_owner(boot, FETCHED) == "700 root"
    assert _mode_owner(boot, f"{FETCHED}/idempotency-hmac-current") == "400 root"
    assert boot.run_inside(f"findmnt -n -o FSTYPE --target {FETCHED}").strip() == "tmpfs"
    placeholder = boot.run_inside(f"cat {FETCHED}/idempotency-hmac-previous")
    # No rotation yet: a random placeholder (the file must exist; the service refuses one equal to the current).
    assert re.fullmatch(r"[0-9a-f]{64}", placeholder) and placeholder != first
    for unit in CREDENTIAL_UNITS:
        assert _credentials(boot, unit) == {
            "folder": "500 payment-api",
            "idempotency-hmac-current": first,
            "idempotency-hmac-current mode": "400 payment-api",
            "idempotency-hmac-previous": placeholder,
            "idempotency-hmac-previous mode": "400 payment-api",
        }, unit
    rotated = secrets.token_urlsafe(48)
    secrets_manager.put_secret_value(SecretId=world.hmac_secret_arn, SecretString=rotated)
    boot.run_inside("systemctl restart payment-api-credentials.service payment-api.service")
    after = _credentials(boot, "payment-api.service")
    assert (after["idempotency-hmac-current"], after["idempotency-hmac-previous"]) == (rotated, first)
    assert boot.run_inside("systemctl is-active payment-api.service").strip() == "active"
    assert _written_anywhere(boot, result, [first, rotated]) == []
    assert "credentials.env" in boot.run_inside("ls /etc/payment-api")
    assert world.hmac_secret_arn in boot.run_inside("cat /etc/payment-api/credentials.env")
    # The application's login: the secret's AWSCURRENT, a credential of the serving unit (0400, its user), the
    # service's only database login; the boot read no master secret and holds no owner login.
    login = secrets_manager.get_secret_value(SecretId=world.login_secret_arn)["SecretString"]
    assert boot.run_inside("cat /run/credentials/payment-api.service/db-login") == login
    assert _mode_owner(boot, "/run/credentials/payment-api.service/db-login") == "400 payment-api"
    assert json.loads(login)["username"] == "payment_app_a"
    assert boot.run_inside("ls /etc/payment-api").split() == ["common.env", "credentials.env"]
    assert _written_anywhere(boot, result, [json.loads(login)["password"]]) == []


def test_the_real_user_data_boots_the_service_and_completes_the_hook(world: World) -> None:
    def check(result: BootResult, inside: InstanceBoot) -> None:
        check_credentials(world, result, inside)
        check_hardening(result, inside)
        check_file_integrity(result, inside)  # last: it changes the instance's files

    result, instance_id = boot(world, "works", then=check)
    assert result.exit_status == 0, result.boot_log[-3000:]
    assert lifecycle_state(world, instance_id) == "InService"
    log = result.boot_log
    assert (
        log.index("CloudWatch agent") < log.index("boot: ", log.index("CloudWatch agent") + 1) < log.index("packages")
    )
    assert "lifecycle hook: CONTINUE" in log and "boot: FAILED" not in log
    api_log = (result.logs / "api.log").read_text(encoding="utf-8", errors="replace")
    assert "rdsmaster" not in api_log
    for value in _secret_values(world):
        assert value not in api_log and value not in log


@pytest.fixture(scope="module")
def local_stripe(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """localstripe on :data:`STRIPE_ADDRESS`, as the sandbox runs it; its URL."""
    del world  # its preconditions only (root, the host's tools): without them the module is skipped
    host = HostAddress(STRIPE_ADDRESS)
    host.add()
    emulator = LocalStripe(log_path=tmp_path_factory.mktemp("localstripe") / "localstripe.log", host=STRIPE_ADDRESS)
    try:
        yield emulator.start()
    finally:
        emulator.stop()
        host.remove()


def test_the_stripe_processor_boots_with_the_secret_the_instance_fetched_and_pays_at_localstripe(
    world: World, moto_server: MotoServer, local_stripe: str
) -> None:
    """The runtime parameter names the Stripe processor, the operator's Stripe secret and the emulator
    (stripe_api_base): the instance's own session reads the secret (the request log's by=), root hands it to the
    service as the credential stripe-secret, and the boot hook's payment and refund are at localstripe."""
    stripe_secret_arn = client("secretsmanager", world.endpoint, REGION).create_secret(
        Name="rehearsal/stripe", SecretString=stripe_credential()
    )["ARN"]
    parameter = json.loads(
        client("ssm", world.endpoint, REGION).get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    )
    parameter.update(
        {
            runtime.PROCESSOR.key: "stripe",
            runtime.STRIPE_SECRET_ARN.key: stripe_secret_arn,
            runtime.STRIPE_API_BASE.key: local_stripe,
        }
    )
    client("ssm", world.endpoint, REGION).put_parameter(
        Name=STRIPE_PARAMETER, Type="SecureString", Value=json.dumps(parameter)
    )
    stripe = StripeBoot(secret_arn=stripe_secret_arn, api_base=local_stripe)
    assert moto_server.log_path is not None
    since = moto_server.log_path.stat().st_size
    steps: list[str] = []

    def check(result: BootResult, inside: InstanceBoot) -> None:
        assert result.exit_status == 0, result.boot_log[-3000:]
        emulator = Emulator(endpoint=world.endpoint, region=REGION)
        steps.append(stripe_secret_delivered(inside, emulator, stripe))
        assert "PAYMENT_STRIPE_API_BASE" in inside.run_inside("cat /etc/payment-api/common.env")
        steps.extend(pay_and_refund(result, inside, parameter[runtime.OPERATOR_ROLE_ARN.key], stripe))

    result, instance_id = boot(world, "stripe", then=check, parameter=STRIPE_PARAMETER)
    assert result.exit_status == 0, result.boot_log[-3000:]
    assert lifecycle_state(world, instance_id) == "InService"
    assert steps[0].endswith("stripe-secret (400 payment-api)")
    assert steps[2].startswith("at localstripe: PaymentIntent pi_") and "refund re_" in steps[2]
    session = f"assumed-role/{world.role_arn.rsplit('/', 1)[1]}/{instance_id}"
    assert "by=" + session in instance_read_secret(moto_server.log_path, since, stripe_secret_arn, session)
    api_key = json.loads(
        client("secretsmanager", world.endpoint, REGION).get_secret_value(SecretId=stripe_secret_arn)["SecretString"]
    )["api_key"]
    api_log = (result.logs / "api.log").read_text(encoding="utf-8", errors="replace")
    assert api_key not in api_log and api_key not in result.boot_log


def _secret_values(world: World) -> list[str]:
    """Every version the idempotency secret has had (the rehearsal rotated it once)."""
    secrets_manager = client("secretsmanager", world.endpoint, REGION)
    versions = secrets_manager.list_secret_version_ids(SecretId=world.hmac_secret_arn)["Versions"]
    return [
        secrets_manager.get_secret_value(SecretId=world.hmac_secret_arn, VersionId=v["VersionId"])["SecretString"]
        for v in versions
    ]


@pytest.mark.parametrize(
    ("name", "step", "user_data", "artifact", "said"),
    [
        ("package", "packages", ("python3.11 nftables jq", "python3.11 nftabels jq"), None, "nftabels"),
        ("setting", "runtime settings", ("setting artifact_bucket)", "setting artifact_bucket_name)"), None, ""),
        (
            "unit",
            "systemd units",
            None,
            {"payment-api.service": ("venv/bin/payment-api serve", "venv/bin/payment-apj serve")},
            "payment-apj",
        ),
        (  # a command substitution: the boot's own values, read from the runtime parameter (issue 27: the API boot
            # runs no provision-roles any more, which used to be this case's subshell)
            "subshell",
            "users and settings",
            None,
            {"prepare.sh": ("tap_contract.runtime boot-variables", "tap_contract.runtime boot-variablez")},
            "usage: python -m tap_contract.runtime environment-file|boot-variables",
        ),
    ],
)
def test_a_broken_template_fails_the_step_that_names_it_and_abandons(
    world: World,
    *,
    name: str,
    step: str,
    user_data: tuple[str, str] | None,
    artifact: dict[str, tuple[str, str]] | None,
    said: str,
) -> None:
    result, instance_id = boot(world, name, user_data=user_data, artifact=artifact)
    assert result.exit_status not in (0, None), result.boot_log[-3000:]
    assert result.failed_step is not None and result.failed_step.startswith(step), result.boot_log[-3000:]
    assert said in result.boot_log
    assert "abandoning this instance" in result.boot_log and "lifecycle hook: CONTINUE" not in result.boot_log
    assert lifecycle_state(world, instance_id) != "InService"


def test_the_guest_refuses_a_root_that_is_not_its_own_overlay(world: World, tmp_path: Path) -> None:
    """guest.sh checks that what it mounted is an overlay with the rehearsal's own upper layer before it runs anything:
    here ``mount -t overlay`` is made to bind-mount an empty folder instead, and nothing runs."""
    del world  # the same preconditions (root, namespaces) as the boots above
    for name in ("upper", "work", "merged", "elsewhere", "bin"):
        (tmp_path / name).mkdir()
    fake = tmp_path / "bin" / "mount"
    fake.write_text(
        '#!/bin/bash\nif [ "$2" = overlay ]; then exec /usr/bin/mount --bind "'
        + str(tmp_path / "elsewhere")
        + '" "${@: -1}"; fi\nexec /usr/bin/mount "$@"\n'
    )
    fake.chmod(0o755)
    result = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "bash", str(GUEST), str(tmp_path), "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": f"{tmp_path / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    assert result.returncode == 97, result.stderr
    assert f"is not an overlay with the upper layer {tmp_path}/upper" in result.stderr
