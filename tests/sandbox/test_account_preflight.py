"""The account preflight against our moto server, on the synthesized development stack: what the emulator answers
for real (certificates, Elastic IPs, names), and what it reports as needing a real account (vCPU quota, CloudTrail)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tap_contract import examples

from lib.config import StackConfig
from tests.conftest import DEVELOPMENT_ENV, synth_stack
from tools.deploy.account import account_preflight, main
from tools.deploy.checks import FAILED, NEEDS_REAL_ACCOUNT, PASSED, Check
from tools.deploy.stack_view import backend_state
from tools.sandbox.certificate import SANDBOX_DOMAIN, import_sandbox_certificate
from tools.sandbox.deployer_roles import (
    DEPLOYER,
    DEPLOYER_PRINCIPAL_ARNS,
    UNLISTED,
    SandboxRole,
    create_roles,
    session_environment,
)
from tools.sandbox.emulator import MOTO_ACCOUNT_ID, aws_environment, client

SETTINGS = {**DEVELOPMENT_ENV, "API_DOMAIN": SANDBOX_DOMAIN, "DEPLOYER_PRINCIPAL_ARNS": DEPLOYER_PRINCIPAL_ARNS}
CONFIG = StackConfig.from_env(SETTINGS)
BUCKET = f"payment-artifacts-test-{MOTO_ACCOUNT_ID}"
ROLE = "payment-api-instance-test"
LOG_GROUP = "/payment/payment-api-test"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth_stack(tmp_path_factory.mktemp("synth"), dict(DEVELOPMENT_ENV))


@pytest.fixture
def emulator(moto_endpoint: str) -> Iterator[str]:
    """The module's moto server, emptied before each test (moto's own reset endpoint)."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    yield moto_endpoint


def signing_as(endpoint: str, role: SandboxRole) -> dict[str, str]:
    """The sandbox's deployer roles (created once after each reset) and a session of ``role``: make deploy runs as a
    role session, as on AWS (tools/sandbox/deployer_roles.py)."""
    iam = client("iam", endpoint)
    if not any(r["RoleName"] == DEPLOYER.name for r in iam.list_roles()["Roles"]):
        create_roles(iam)
    return session_environment(client("sts", endpoint), role, "preflight-test")


def preflight(
    endpoint: str,
    stack: dict[str, Any],
    certificate_arn: str,
    state: dict[str, Any] | None = None,
    role: SandboxRole = DEPLOYER,
) -> list[Check]:
    import boto3  # pylint: disable=import-outside-toplevel

    credentials = signing_as(endpoint, role)
    return account_preflight(
        stack,
        config=CONFIG,
        tfvars={"certificate_arn": certificate_arn},
        state=state,
        clients=lambda service, region: boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
        ),
        sandbox=True,
    )


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def address(stack: dict[str, Any], rtype: str, attribute: str, value: str) -> str:
    """The synthesized address of the ``rtype`` whose ``attribute`` starts with ``value``."""
    names = [name for name, body in stack["resource"][rtype].items() if str(body[attribute]).startswith(value)]
    assert len(names) == 1
    return f"{rtype}.{names[0]}"


def test_a_fresh_account_passes_and_says_what_needs_a_real_one(emulator: str, stack: dict[str, Any]) -> None:
    certificate = import_sandbox_certificate(client("acm", emulator))
    started = time.monotonic()
    checks = by_name(preflight(emulator, stack, certificate))
    elapsed = time.monotonic() - started
    assert {name: check.status for name, check in checks.items()} == {
        "credentials": PASSED,
        "deployer": PASSED,
        "certificate: ALB": PASSED,
        "Elastic IP quota": PASSED,
        "vCPU quota": NEEDS_REAL_ACCOUNT,
        "names": PASSED,
        "CloudTrail": NEEDS_REAL_ACCOUNT,
    }
    assert f"ISSUED in us-east-1 for {SANDBOX_DOMAIN}" in checks["certificate: ALB"].detail
    # The role's path came from iam:GetRole: the session ARN does not carry it.
    assert checks["deployer"].detail.startswith(f"{DEPLOYER.arn} (session arn:aws:sts::{MOTO_ACCOUNT_ID}:assumed-role/")
    # The development default has no processor egress, so no NAT gateway and no Elastic IP to count.
    eip = checks["Elastic IP quota"]
    assert eip.detail == "the stack allocates no Elastic IP (no NAT gateways: the payment processor needs no egress)"
    # 46, issue 28 item 4's five (two log groups, the session key's alias, the instance policy, the preferences),
    # item 1's three (the page-integrity role, its log group, its function), item 3's four (two roles, their
    # policies), item 7's AWS Backup role, issue 27's login-secret role policy, and the seven names of the lookups
    # added after them (two Firehose streams, the check's function, three EventBridge rules, the backup vault), and the
    # backup-failure rule
    assert checks["names"].detail.startswith("69 names looked up")
    assert elapsed < 30, f"the account preflight took {elapsed:.1f} s on the emulator"


def test_a_certificate_in_another_region_fails(emulator: str, stack: dict[str, Any]) -> None:
    elsewhere = import_sandbox_certificate(client("acm", emulator, "us-west-2"))
    check = by_name(preflight(emulator, stack, elsewhere))["certificate: ALB"]
    assert check.status == FAILED
    assert "ISSUED in us-west-2" in check.detail
    assert "it is in us-west-2, but this one must be in us-east-1" in check.detail
    wrong_name = import_sandbox_certificate(client("acm", emulator), "other.example.com")
    check = by_name(preflight(emulator, stack, wrong_name))["certificate: ALB"]
    assert check.status == FAILED and f"it does not cover {SANDBOX_DOMAIN}" in check.detail
    missing = elsewhere.replace("us-west-2", "us-east-1")
    check = by_name(preflight(emulator, stack, missing))["certificate: ALB"]
    assert check.status == FAILED and "no such certificate in us-east-1" in check.detail


def test_names_held_outside_the_state_fail_with_their_import(emulator: str, stack: dict[str, Any]) -> None:
    certificate = import_sandbox_certificate(client("acm", emulator))
    client("s3", emulator).create_bucket(Bucket=BUCKET)
    client("iam", emulator).create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    client("logs", emulator).create_log_group(logGroupName=LOG_GROUP)
    cloudfront = client("cloudfront", emulator)
    oac = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": "payment-frontend-oac-test",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    headers = cloudfront.create_response_headers_policy(
        ResponseHeadersPolicyConfig={"Name": "payment-frontend-security-headers-test"}
    )["ResponseHeadersPolicy"]["Id"]
    checks = by_name(preflight(emulator, stack, certificate))
    expected = {
        address(stack, "aws_s3_bucket", "bucket", "payment-artifacts-"): BUCKET,
        address(stack, "aws_iam_role", "name", ROLE): ROLE,
        address(stack, "aws_cloudwatch_log_group", "name", LOG_GROUP): LOG_GROUP,
        address(stack, "aws_cloudfront_origin_access_control", "name", "payment-frontend-oac-"): oac,
        address(stack, "aws_cloudfront_response_headers_policy", "name", "payment-frontend-security-"): headers,
    }
    failed = {name.removeprefix("name: ") for name, check in checks.items() if check.status == FAILED}
    assert failed == set(expected)
    for held_address, import_id in expected.items():
        check = checks[f"name: {held_address}"]
        assert "exists in the account but not in this stack's state" in check.detail
        assert (
            f"terraform -chdir=cdktf.out/stacks/TapStacktest import -var 'certificate_arn={certificate}' "
            f"'{held_address}' '{import_id}'"
        ) in check.fix
    assert "names" not in checks  # the failures replace the summary


def test_the_same_names_in_the_state_pass(emulator: str, stack: dict[str, Any]) -> None:
    certificate = import_sandbox_certificate(client("acm", emulator))
    client("s3", emulator).create_bucket(Bucket=BUCKET)
    client("iam", emulator).create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    client("logs", emulator).create_log_group(logGroupName=LOG_GROUP)
    held = [
        ("aws_s3_bucket", "bucket", "payment-artifacts-", BUCKET),
        ("aws_iam_role", "name", ROLE, ROLE),
        ("aws_cloudwatch_log_group", "name", LOG_GROUP, LOG_GROUP),
    ]
    state = {
        "version": 4,
        "resources": [
            {
                "mode": "managed",
                "type": rtype,
                "name": address(stack, rtype, attribute, start).split(".", 1)[1],
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"attributes": {attribute: value, "id": value}}],
            }
            for rtype, attribute, start, value in held
        ],
    }
    checks = by_name(preflight(emulator, stack, certificate, state))
    assert checks["names"].status == PASSED
    assert checks["names"].detail == "66 names looked up, 3 held by this stack's state, 0 held outside it"


@pytest.fixture(scope="module")
def egress_stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The development stack with processor egress: one NAT gateway, and its address, per zone."""
    return synth_stack(
        tmp_path_factory.mktemp("synth-egress"),
        {**DEVELOPMENT_ENV, "PAYMENT_PROCESSOR_EGRESS_CIDRS": examples.PAYMENT_PROCESSOR_EGRESS_CIDRS},
    )


def test_the_elastic_ip_quota_counts_what_is_allocated(emulator: str, egress_stack: dict[str, Any]) -> None:
    """moto has no EC2 quotas in Service Quotas: AWS's default 5 stands."""
    certificate = import_sandbox_certificate(client("acm", emulator))
    ec2 = client("ec2", emulator)
    for _ in range(3):
        ec2.allocate_address(Domain="vpc")
    check = by_name(preflight(emulator, egress_stack, certificate))["Elastic IP quota"]
    assert check.status == FAILED
    assert check.detail == (
        "needs 3 new (the stack has 3 for its 3 NAT gateways; its state holds 0), 3 allocated in us-east-1, "
        "quota 5: 6 of 5 after apply"
    )
    assert "release unused Elastic IPs in us-east-1" in check.fix
    assert "allow servicequotas:GetServiceQuota so the preflight reads it" in check.fix  # the quota was assumed


class _Quotas:
    """Service Quotas as an account with an applied EC2-VPC Elastic IP quota answers it (moto has no EC2 quotas)."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.asked: list[tuple[str, str]] = []

    def get_service_quota(self, **request: str) -> dict[str, Any]:
        """Called as boto3 is, with keyword arguments named as the API names them (ServiceCode, QuotaCode)."""
        self.asked.append((request["ServiceCode"], request["QuotaCode"]))
        return {"Quota": {**request, "Value": self.value}}


@pytest.mark.parametrize(("quota", "status"), [(8.0, PASSED), (7.0, FAILED)])
def test_the_elastic_ip_quota_of_service_quotas_counts_against_the_addresses_in_use(
    emulator: str, egress_stack: dict[str, Any], quota: float, status: str
) -> None:
    """A second stack in the region: its 3 NAT addresses besides the first stack's 3 (on moto's EC2) and 2 more,
    against the quota Service Quotas answers: 8 is enough, 7 is not."""
    certificate = import_sandbox_certificate(client("acm", emulator))
    ec2 = client("ec2", emulator)
    for _ in range(5):
        ec2.allocate_address(Domain="vpc")
    quotas = _Quotas(quota)
    checks = account_preflight(
        egress_stack,
        config=CONFIG,
        tfvars={"certificate_arn": certificate},
        state=None,
        clients=lambda service, region: quotas if service == "service-quotas" else client(service, emulator, region),
        sandbox=True,
    )
    check = by_name(checks)["Elastic IP quota"]
    assert quotas.asked == [("ec2", "L-0263D0A3")]
    assert check.status == status
    assert check.looked_at == "service-quotas:GetServiceQuota ec2 L-0263D0A3, ec2:DescribeAddresses in us-east-1"
    assert check.detail.endswith(f"5 allocated in us-east-1, quota {quota:.0f}: 8 of {quota:.0f} after apply")
    if status == FAILED:
        assert "request at least 8 for L-0263D0A3" in check.fix and "allow servicequotas" not in check.fix


def test_the_same_suffix_in_another_region_fails_naming_the_rule(emulator: str, stack: dict[str, Any]) -> None:
    """TapStacktest deployed in us-west-2 first: its bucket (account-id named, not region named) and its roles are
    the names this us-east-1 stack would create; the bucket cannot be adopted, the role could only be by mistake."""
    certificate = import_sandbox_certificate(client("acm", emulator))
    client("s3", emulator, "us-west-2").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    client("iam", emulator, "us-west-2").create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    checks = by_name(preflight(emulator, stack, certificate))
    bucket = checks[f"name: {address(stack, 'aws_s3_bucket', 'bucket', 'payment-artifacts-')}"]
    assert bucket.status == FAILED
    assert bucket.detail == (
        f"bucket {BUCKET} exists in us-west-2, not us-east-1: most likely the same ENVIRONMENT_SUFFIX deployed in "
        "another region, and this stack's provider cannot adopt it"
    )
    assert bucket.fix.startswith("pick another ENVIRONMENT_SUFFIX (the name cannot be imported): a suffix must be ")
    role = checks[f"name: {address(stack, 'aws_iam_role', 'name', ROLE)}"]
    assert role.status == FAILED
    assert "(the name is account-wide: a stack with ENVIRONMENT_SUFFIX=test in another region holds it too)" in (
        role.detail
    )
    assert "a suffix must be unique per account across regions" in role.fix
    assert "names" not in checks


def test_a_log_resource_policy_of_the_same_name_is_a_collision(emulator: str, stack: dict[str, Any]) -> None:
    """PutResourcePolicy overwrites a policy of the same name without an error: the preflight says so first."""
    certificate = import_sandbox_certificate(client("acm", emulator))
    client("logs", emulator).put_resource_policy(policyName="payment-waf-log-delivery-test", policyDocument="{}")
    checks = by_name(preflight(emulator, stack, certificate))
    held = address(stack, "aws_cloudwatch_log_resource_policy", "policy_name", "payment-waf-log-delivery-")
    check = checks[f"name: {held}"]
    assert check.status == FAILED
    assert check.looked_at == "logs:DescribeResourcePolicies payment-waf-log-delivery-test"
    assert f"'{held}' 'payment-waf-log-delivery-test'" in check.fix


def test_the_command_line(
    emulator: str,
    stack: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m tools.deploy.account``: boto3 finds the emulator through AWS_ENDPOINT_URL, as make deploy runs it;
    without --state it reads the state from the stack's (local) backend."""
    environ = {**aws_environment(emulator, base=SETTINGS), **signing_as(emulator, DEPLOYER)}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    folder = tmp_path / "TapStacktest"
    folder.mkdir()
    state_file = tmp_path / "terraform.TapStacktest.tfstate"
    local = {**stack, "terraform": {**stack["terraform"], "backend": {"local": {"path": str(state_file)}}}}
    (folder / "cdk.tf.json").write_text(json.dumps(local), encoding="utf-8")
    tfvars = tmp_path / "test.tfvars"
    tfvars.write_text(f'certificate_arn = "{import_sandbox_certificate(client("acm", emulator))}"\n', encoding="utf-8")
    assert main([str(folder), "--tfvars", str(tfvars)], environ) == 0
    out = capsys.readouterr().out
    assert out.startswith("account preflight\n") and "[needs a real account] vCPU quota" in out
    client("iam", emulator).create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    assert main([str(folder), "--tfvars", str(tfvars)], environ) == 1
    role_address = address(stack, "aws_iam_role", "name", ROLE)
    assert (
        f"terraform -chdir={folder} import -var-file={tfvars.resolve()} '{role_address}' '{ROLE}'"
        in capsys.readouterr().out
    )
    # The backend's state holds the role: a re-run, not a collision.
    state_file.write_text(
        json.dumps(
            {
                "version": 4,
                "resources": [
                    {
                        "mode": "managed",
                        "type": "aws_iam_role",
                        "name": role_address.split(".")[1],
                        "instances": [{"attributes": {"name": ROLE}}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    assert main([str(folder), "--tfvars", str(tfvars)], environ) == 0
    assert "1 held by this stack's state" in capsys.readouterr().out
    # An explicit --state wins (an empty file: no state yet).
    empty = tmp_path / "pulled.json"
    empty.write_text("", encoding="utf-8")
    assert main([str(folder), "--tfvars", str(tfvars), "--state", str(empty)], environ) == 1


def test_the_state_from_an_s3_backend(emulator: str, stack: dict[str, Any]) -> None:
    s3 = client("s3", emulator)
    s3.create_bucket(Bucket="acme-tf-state")
    remote = {
        **stack,
        "terraform": {
            **stack["terraform"],
            "backend": {
                "s3": {
                    "bucket": "acme-tf-state",
                    "key": "test/TapStacktest.tfstate",
                    "region": "us-east-1",
                    "encrypt": True,
                }
            },
        },
    }

    def clients(service: str, region: str) -> Any:
        return client(service, emulator, region)

    assert backend_state(remote, clients) is None
    s3.put_object(Bucket="acme-tf-state", Key="test/TapStacktest.tfstate", Body=b'{"version": 4, "resources": []}')
    assert backend_state(remote, clients) == {"version": 4, "resources": []}


@pytest.mark.parametrize(("private", "status"), [(False, PASSED), (True, FAILED)])
def test_the_hosted_zone_from_the_emulator(emulator: str, stack: dict[str, Any], private: bool, status: str) -> None:
    route53 = client("route53", emulator)
    request: dict[str, Any] = {"Name": "sandbox.example.com.", "CallerReference": f"preflight-{private}"}
    if private:
        request |= {
            "HostedZoneConfig": {"PrivateZone": True},
            "VPC": {
                "VPCRegion": "us-east-1",
                "VPCId": client("ec2", emulator).create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"],
            },
        }
    zone_id = route53.create_hosted_zone(**request)["HostedZone"]["Id"].rsplit("/", 1)[-1]  # the id alone
    config = StackConfig.from_env({**DEVELOPMENT_ENV, "API_DOMAIN": SANDBOX_DOMAIN, "HOSTED_ZONE_ID": zone_id})
    certificate = import_sandbox_certificate(client("acm", emulator))
    checks = by_name(
        account_preflight(
            stack,
            config=config,
            tfvars={"certificate_arn": certificate},
            state=None,
            clients=lambda service, region: client(service, emulator, region),
            sandbox=True,
        )
    )
    assert checks["hosted zone"].status == status
    assert checks["hosted zone"].detail.startswith(f"sandbox.example.com ({'private' if private else 'public'})")


def test_an_unlisted_role_fails_the_deployer_check(emulator: str, stack: dict[str, Any]) -> None:
    certificate = import_sandbox_certificate(client("acm", emulator))
    check = by_name(preflight(emulator, stack, certificate, role=UNLISTED))["deployer"]
    assert check.status == FAILED and f"{UNLISTED.arn} (session " in check.detail
    assert "is not on DEPLOYER_PRINCIPAL_ARNS" in check.detail and "add " in check.fix
