"""tools/deploy/account.py against a small fake account: the answers a real account gives that the emulator cannot
(quotas below the need, certificates pending or elsewhere, trails), on the synthesized development stack."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError, NoCredentialsError
from tap_contract import examples

from lib.config import StackConfig
from tests.conftest import DEVELOPMENT_ENV, FRONTEND_CERTIFICATE, PRODUCTION_ENV, synth_stack
from tools.deploy.account import account_preflight, covers, main, read_inputs
from tools.deploy.account_names import NAME_LOOKUPS
from tools.deploy.checks import FAILED, NEEDS_REAL_ACCOUNT, PASSED, WARNING, Check
from tools.deploy.stack_view import StackInputError, backend_state

ACCOUNT = "123456789012"
EU_CERTIFICATE = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/eeeeeeee-0000-0000-0000-000000000003"
ALB_CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/aaaaaaaa-0000-0000-0000-000000000001"
# The deploying role: make deploy runs as a session of it, and DEPLOYER_PRINCIPAL_ARNS names it (with its path).
DEPLOYER_NAME = "payment-deploy"
DEPLOYER_ARN = f"arn:aws:iam::{ACCOUNT}:role/ci/{DEPLOYER_NAME}"


def client_error(code: str, operation: str = "Call") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"fake {code}"}}, operation)


# What a fresh account answers to each name lookup: the name does not exist.
ABSENT: dict[tuple[str, str], Any] = {
    ("s3", "head_bucket"): client_error("404", "HeadBucket"),
    ("iam", "get_role"): client_error("NoSuchEntity", "GetRole"),
    ("iam", "get_role_policy"): client_error("NoSuchEntity", "GetRolePolicy"),
    ("iam", "get_instance_profile"): client_error("NoSuchEntity", "GetInstanceProfile"),
    ("iam", "list_roles"): {"Roles": []},
    ("logs", "describe_log_groups"): {"logGroups": []},
    ("logs", "describe_resource_policies"): {"resourcePolicies": []},
    ("kms", "describe_key"): client_error("NotFoundException", "DescribeKey"),
    ("rds", "describe_db_instances"): client_error("DBInstanceNotFound", "DescribeDBInstances"),
    ("rds", "describe_db_subnet_groups"): client_error("DBSubnetGroupNotFoundFault", "DescribeDBSubnetGroups"),
    ("rds", "describe_db_parameter_groups"): client_error("DBParameterGroupNotFound", "DescribeDBParameterGroups"),
    ("elbv2", "describe_load_balancers"): client_error("LoadBalancerNotFound", "DescribeLoadBalancers"),
    ("elbv2", "describe_target_groups"): client_error("TargetGroupNotFound", "DescribeTargetGroups"),
    ("ssm", "get_parameter"): client_error("ParameterNotFound", "GetParameter"),
    ("ssm", "describe_document"): client_error("InvalidDocument", "DescribeDocument"),
    ("sns", "get_topic_attributes"): client_error("NotFound", "GetTopicAttributes"),
    ("firehose", "describe_delivery_stream"): client_error("ResourceNotFoundException", "DescribeDeliveryStream"),
    ("lambda", "get_function"): client_error("ResourceNotFoundException", "GetFunction"),
    ("events", "describe_rule"): client_error("ResourceNotFoundException", "DescribeRule"),
    ("backup", "describe_backup_vault"): client_error("ResourceNotFoundException", "DescribeBackupVault"),
    ("wafv2", "list_web_acls"): {"WebACLs": []},
    ("ec2", "describe_launch_templates"): client_error(
        "InvalidLaunchTemplateName.NotFoundException", "DescribeLaunchTemplates"
    ),
    ("autoscaling", "describe_auto_scaling_groups"): {"AutoScalingGroups": []},
    ("cloudfront", "list_origin_access_controls"): {"OriginAccessControlList": {"Items": []}},
    ("cloudfront", "list_response_headers_policies"): {"ResponseHeadersPolicyList": {"Items": []}},
}


@dataclass
class FakeAccount:
    """An account's answers: quotas, allocations, certificates, trails; ``answers`` overrides any call."""

    eip_quota: int = 5
    addresses: int = 0
    vcpu_quota: float | None = 64.0
    instances: list[dict[str, Any]] = field(default_factory=list)
    certificates: dict[str, dict[str, Any]] = field(default_factory=dict)
    trails: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)

    def clients(self, service: str, region: str) -> FakeClient:
        return FakeClient(self, service, region)

    def called(self, service: str, method: str) -> list[tuple[str, dict[str, Any]]]:
        return [(region, kwargs) for s, region, m, kwargs in self.calls if (s, m) == (service, method)]

    def answer(self, service: str, method: str, region: str, kwargs: dict[str, Any]) -> Any:
        standard: dict[tuple[str, str], Callable[[], Any]] = {
            ("sts", "get_caller_identity"): lambda: {
                "Account": ACCOUNT,
                "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{DEPLOYER_NAME}/ci",
            },
            ("acm", "describe_certificate"): lambda: self._certificate(region, kwargs["CertificateArn"]),
            ("ec2", "describe_account_attributes"): lambda: {
                "AccountAttributes": [
                    {
                        "AttributeName": "vpc-max-elastic-ips",
                        "AttributeValues": [{"AttributeValue": str(self.eip_quota)}],
                    }
                ]
            },
            ("ec2", "describe_addresses"): lambda: {
                "Addresses": [{"AllocationId": f"eipalloc-{i}"} for i in range(self.addresses)]
            },
            ("ec2", "describe_instance_types"): lambda: {
                "InstanceTypes": [
                    {"InstanceType": name, "VCpuInfo": {"DefaultVCpus": {"t3.medium": 2, "t3.xlarge": 4}[name]}}
                    for name in kwargs["InstanceTypes"]
                ]
            },
            ("ec2", "describe_instances"): lambda: {"Reservations": [{"Instances": self.instances}]},
            ("service-quotas", "get_service_quota"): lambda: self._service_quota(kwargs["QuotaCode"]),
            ("service-quotas", "get_aws_default_service_quota"): lambda: {"Quota": {"Value": 5.0}},
            ("cloudtrail", "describe_trails"): lambda: {"trailList": self.trails},
            ("cloudtrail", "get_trail_status"): lambda: {
                "IsLogging": any(t["TrailARN"] == kwargs["Name"] and t.get("logging") for t in self.trails)
            },
        }
        if (service, method) == ("iam", "get_role") and kwargs["RoleName"] == DEPLOYER_NAME:
            return {"Role": {"Arn": DEPLOYER_ARN}}  # the deployer check's read of the caller's own role
        answer = self.answers.get((service, method), ABSENT.get((service, method)))
        if answer is None and (service, method) in standard:
            return standard[(service, method)]()
        if answer is None:
            raise AssertionError(f"the fake account has no answer for {service}.{method}")
        if isinstance(answer, Exception):
            raise answer
        return answer(**kwargs) if callable(answer) else answer

    def _certificate(self, region: str, arn: str) -> dict[str, Any]:
        if arn not in self.certificates or arn.split(":")[3] != region:
            raise client_error("ResourceNotFoundException", "DescribeCertificate")
        return {"Certificate": {"CertificateArn": arn, **self.certificates[arn]}}

    def _service_quota(self, code: str) -> dict[str, Any]:
        """L-1216C47A (vCPUs; None: never applied) and L-0263D0A3 (Elastic IPs)."""
        value = {"L-1216C47A": self.vcpu_quota, "L-0263D0A3": float(self.eip_quota)}[code]
        if value is None:
            raise client_error("NoSuchResourceException", "GetServiceQuota")
        return {"Quota": {"QuotaCode": code, "Value": value}}


class FakeClient:
    """A boto3 client stand-in: every call goes to the account's answers and is recorded."""

    def __init__(self, account: FakeAccount, service: str, region: str) -> None:
        self.account, self.service, self.region = account, service, region
        self.meta = SimpleNamespace(region_name=region)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.account.calls.append((self.service, self.region, method, kwargs))
            return self.account.answer(self.service, method, self.region, kwargs)

        return call


def issued(domain: str, *alternatives: str, status: str = "ISSUED") -> dict[str, Any]:
    return {"DomainName": domain, "SubjectAlternativeNames": [domain, *alternatives], "Status": status}


DEV_CONFIG = StackConfig.from_env(
    {**DEVELOPMENT_ENV, "API_DOMAIN": "api.pay.example.com", "DEPLOYER_PRINCIPAL_ARNS": DEPLOYER_ARN}
)


def run(
    stack: dict[str, Any],
    account: FakeAccount,
    *,
    config: StackConfig = DEV_CONFIG,
    tfvars: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    sandbox: bool = False,
) -> list[Check]:
    """The preflight on ``account``; the tfvars default to an ALB certificate the account has."""
    values = {"certificate_arn": ALB_CERTIFICATE} if tfvars is None else tfvars
    return account_preflight(stack, config=config, tfvars=values, state=state, clients=account.clients, sandbox=sandbox)


def named(checks: list[Check], name: str) -> Check:
    found = [check for check in checks if check.name == name]
    assert len(found) == 1, f"{name}: {[check.name for check in checks]}"
    return found[0]


def ready_account(**changes: Any) -> FakeAccount:
    account = FakeAccount(
        certificates={ALB_CERTIFICATE: issued("api.pay.example.com")},
        trails=[
            {
                "Name": "org",
                "TrailARN": "arn:aws:cloudtrail:us-east-1:999999999999:trail/org",
                "IsMultiRegionTrail": True,
                "IsOrganizationTrail": True,
                "HomeRegion": "us-east-1",
                "logging": True,
            }
        ],
    )
    for name, value in changes.items():
        setattr(account, name, value)
    return account


# ---------------------------------------------------------------------------------------------- a ready account
def test_a_ready_account_passes_everything(dev_synth_json: dict[str, Any]) -> None:
    checks = run(dev_synth_json, ready_account())
    assert {check.name: check.status for check in checks} == {
        "credentials": PASSED,
        "deployer": PASSED,
        "certificate: ALB": PASSED,
        "Elastic IP quota": PASSED,
        "vCPU quota": PASSED,
        "names": PASSED,
        "CloudTrail": PASSED,
    }
    assert "organization trail" in named(checks, "CloudTrail").detail
    assert named(checks, "deployer").detail.startswith(f"{DEPLOYER_ARN} (session arn:aws:sts::")


@pytest.fixture(scope="module")
def egress_synth_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The development stack with processor egress: its 3 NAT gateways each hold an Elastic IP."""
    return synth_stack(
        tmp_path_factory.mktemp("synth-egress"),
        {**DEVELOPMENT_ENV, "PAYMENT_PROCESSOR_EGRESS_CIDRS": examples.PAYMENT_PROCESSOR_EGRESS_CIDRS},
    )


@pytest.fixture(scope="module")
def eu_synth_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The development stack in eu-west-1: its CloudFront WAF, log group and key stay in us-east-1."""
    return synth_stack(tmp_path_factory.mktemp("synth-eu"), {**DEVELOPMENT_ENV, "AWS_REGION": "eu-west-1"})


def test_every_named_resource_is_looked_up_in_its_provider_region(eu_synth_json: dict[str, Any]) -> None:
    account = ready_account(certificates={EU_CERTIFICATE: issued("api.pay.example.com")})
    config = StackConfig.from_env({**DEVELOPMENT_ENV, "AWS_REGION": "eu-west-1", "API_DOMAIN": "api.pay.example.com"})
    checks = run(eu_synth_json, account, config=config, tfvars={"certificate_arn": EU_CERTIFICATE})
    regions = {"aws.us_east_1": "us-east-1", None: "eu-west-1"}
    looked_up = 0
    for lookup in NAME_LOOKUPS:
        bodies = eu_synth_json["resource"].get(lookup.rtype, {}).values()
        calls = [  # the deployer check's own iam:GetRole is no name lookup
            call
            for call in account.called(lookup.service, xform_name(lookup.call.split(":")[1]))
            if call[1] != {"RoleName": DEPLOYER_NAME}
        ]
        assert sorted(region for region, _ in calls) == sorted(regions[body.get("provider")] for body in bodies)
        looked_up += len(calls)
    assert {region for region, _ in account.called("logs", "describe_log_groups")} == {"us-east-1", "eu-west-1"}
    names = named(checks, "names")
    assert looked_up == 70 and names.detail.startswith("70 names looked up, 0 held by this stack's state")
    assert "iam:GetRole x9" in names.looked_at and "s3:HeadBucket x4" in names.looked_at
    assert dict(account.called("wafv2", "list_web_acls")) == {
        "us-east-1": {"Scope": "CLOUDFRONT", "Limit": 100},
        "eu-west-1": {"Scope": "REGIONAL", "Limit": 100},
    }
    assert named(checks, "certificate: ALB").status == PASSED
    # The WAF log resource policy of each region with WAF logging: the stack's and CloudFront's us-east-1.
    assert {region for region, _ in account.called("logs", "describe_resource_policies")} == {"us-east-1", "eu-west-1"}
    assert account.called("service-quotas", "get_service_quota") == [
        ("eu-west-1", {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"})
    ]  # the vCPU quota of the stack's region (no NAT, so no Elastic IP to count)
    # The ALB's certificate is judged by the stack's region, not us-east-1's.
    checks = run(eu_synth_json, ready_account(), config=config)
    assert "it is in us-east-1, but this one must be in eu-west-1" in named(checks, "certificate: ALB").detail


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (client_error("InvalidClientTokenId", "GetCallerIdentity"), "GetCallerIdentity answered InvalidClientTokenId"),
        (NoCredentialsError(), "no answer from AWS: Unable to locate credentials"),
    ],
)
def test_a_failed_identity_stops_before_any_other_call(
    dev_synth_json: dict[str, Any], error: Exception, says: str
) -> None:
    account = ready_account(answers={("sts", "get_caller_identity"): error})
    checks = run(dev_synth_json, account)
    assert [(check.name, check.status) for check in checks] == [("credentials", FAILED)]
    assert says in checks[0].detail and checks[0].fix
    assert {service for service, *_ in account.calls} == {"sts"}


# ---------------------------------------------------------------------------------------------- quotas
def test_vcpu_quota_below_the_need_fails_with_its_figures(dev_synth_json: dict[str, Any]) -> None:
    # 8 vCPUs run in the region, 4 of them this group's: the peak is 6 x 2 vCPUs x 200 % = 24, so 8 - 4 + 24 = 28.
    group = {"Key": "aws:autoscaling:groupName", "Value": "payment-api-asg-test"}
    instances = [
        {"InstanceType": "t3.medium", "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2}, "Tags": [group]},
        {"InstanceType": "t3.medium", "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2}, "Tags": [group]},
        {"InstanceType": "m5.large", "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2}},
        {"InstanceType": "c5.large", "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2}},
        {"InstanceType": "p3.2xlarge", "CpuOptions": {"CoreCount": 4, "ThreadsPerCore": 2}},  # another quota
    ]
    check = named(run(dev_synth_json, ready_account(vcpu_quota=16.0, instances=instances)), "vCPU quota")
    assert check.status == FAILED
    assert "6 x t3.medium (2 vCPUs) x 200 % during an instance refresh = 24 vCPUs" in check.detail
    assert "8 running in us-east-1 (this group's: 4), quota 16" in check.detail and "28 of 16" in check.detail
    # (16 - 8 + 4) / (2 x 2) = 3 instances fit.
    assert "at least 28 vCPUs for L-1216C47A" in check.fix and "asg_max_size = 3" in check.fix
    assert "environments/test.tfvars" in check.fix


def test_the_tfvars_size_wins_over_the_default(dev_synth_json: dict[str, Any]) -> None:
    account = ready_account(vcpu_quota=12.0)
    check = named(
        run(
            dev_synth_json,
            account,
            tfvars={"certificate_arn": ALB_CERTIFICATE, "asg_max_size": 2, "instance_type": "t3.xlarge"},
        ),
        "vCPU quota",
    )
    assert check.status == FAILED and "2 x t3.xlarge (4 vCPUs) x 200 % during an instance refresh = 16" in check.detail
    assert "16 of 12" in check.detail
    assert account.called("ec2", "describe_instance_types")[0][1] == {"InstanceTypes": ["t3.xlarge"]}
    check = named(
        run(
            dev_synth_json,
            ready_account(vcpu_quota=16.0),
            tfvars={"certificate_arn": ALB_CERTIFICATE, "asg_max_size": 4},
        ),
        "vCPU quota",
    )
    assert check.status == PASSED and "16 of 16" in check.detail


def test_vcpu_quota_never_applied_reads_the_aws_default(dev_synth_json: dict[str, Any]) -> None:
    check = named(run(dev_synth_json, ready_account(vcpu_quota=None)), "vCPU quota")
    assert check.status == FAILED and "quota 5" in check.detail


def test_vcpu_quota_and_trail_need_a_real_account_in_the_sandbox(dev_synth_json: dict[str, Any]) -> None:
    account = ready_account(vcpu_quota=1.0)
    checks = run(dev_synth_json, account, sandbox=True)
    assert named(checks, "vCPU quota").status == NEEDS_REAL_ACCOUNT
    assert "= 24 vCPUs" in named(checks, "vCPU quota").detail
    assert named(checks, "CloudTrail").status == NEEDS_REAL_ACCOUNT
    # Neither quota is asked: the vCPU quota needs a real account, and this stack has no Elastic IP to count.
    assert account.called("service-quotas", "get_service_quota") == []
    assert not account.called("cloudtrail", "describe_trails")


def test_a_stack_without_processor_egress_needs_no_elastic_ip(dev_synth_json: dict[str, Any]) -> None:
    account = ready_account(eip_quota=0, addresses=9)
    check = named(run(dev_synth_json, account), "Elastic IP quota")
    assert check.status == PASSED and "allocates no Elastic IP" in check.detail
    assert not account.called("ec2", "describe_addresses")


def test_eip_quota_below_the_need_fails_with_its_figures(egress_synth_json: dict[str, Any]) -> None:
    check = named(run(egress_synth_json, ready_account(eip_quota=5, addresses=4)), "Elastic IP quota")
    assert check.status == FAILED
    assert check.detail == (
        "needs 3 new (the stack has 3 for its 3 NAT gateways; its state holds 0), 4 allocated in us-east-1, "
        "quota 5: 7 of 5 after apply"
    )
    assert check.looked_at == "service-quotas:GetServiceQuota ec2 L-0263D0A3, ec2:DescribeAddresses in us-east-1"
    assert "at least 7 for L-0263D0A3" in check.fix and "SINGLE_NAT_GATEWAY=true" in check.fix
    assert "allow servicequotas" not in check.fix  # the quota was read, not assumed


def test_a_raised_eip_quota_lets_a_second_stack_in(egress_synth_json: dict[str, Any]) -> None:
    """A second stack in one region and account: the first one's 3 NAT addresses and this one's 3, within a raised
    quota of 10 (the default 5 would refuse it: the test above)."""
    check = named(run(egress_synth_json, ready_account(eip_quota=10, addresses=3)), "Elastic IP quota")
    assert check.status == PASSED and check.detail.endswith("3 allocated in us-east-1, quota 10: 6 of 10 after apply")


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (client_error("AccessDeniedException", "GetServiceQuota"), "answered AccessDeniedException"),
        (NoCredentialsError(), "answered NoCredentialsError"),
    ],
)
def test_an_unreadable_eip_quota_is_aws_default_and_says_so(
    egress_synth_json: dict[str, Any], answer: Exception, says: str
) -> None:
    account = ready_account(eip_quota=50, addresses=3, answers={("service-quotas", "get_service_quota"): answer})
    check = named(run(egress_synth_json, account), "Elastic IP quota")
    assert check.status == FAILED and check.detail.endswith("quota 5: 6 of 5 after apply")
    assert check.looked_at.startswith(f"AWS's default (Service Quotas L-0263D0A3 {says})")
    assert "allow servicequotas:GetServiceQuota so the preflight reads it" in check.fix


def test_an_eip_quota_never_applied_reads_the_aws_default(egress_synth_json: dict[str, Any]) -> None:
    account = ready_account(
        addresses=2,
        answers={
            ("service-quotas", "get_service_quota"): client_error("NoSuchResourceException", "GetServiceQuota"),
            ("service-quotas", "get_aws_default_service_quota"): {"Quota": {"Value": 5.0}},
        },
    )
    check = named(run(egress_synth_json, account), "Elastic IP quota")
    assert check.status == PASSED and check.detail.endswith("quota 5: 5 of 5 after apply")
    assert check.looked_at.startswith("service-quotas:GetServiceQuota ec2 L-0263D0A3")


def test_eip_addresses_the_state_holds_are_not_needed_again(egress_synth_json: dict[str, Any]) -> None:
    eips = sorted(egress_synth_json["resource"]["aws_eip"])
    state = {
        "version": 4,
        "resources": [
            {"mode": "managed", "type": "aws_eip", "name": name, "instances": [{"attributes": {"id": f"eipalloc-{i}"}}]}
            for i, name in enumerate(eips)
        ],
    }
    check = named(run(egress_synth_json, ready_account(eip_quota=5, addresses=5), state=state), "Elastic IP quota")
    assert check.status == PASSED and "needs 0 new (the stack has 3 for its 3 NAT gateways; its state holds 3)" in (
        check.detail
    )


# ---------------------------------------------------------------------------------------------- certificates
def test_a_missing_alb_certificate_names_the_tfvars_file(dev_synth_json: dict[str, Any]) -> None:
    check = named(run(dev_synth_json, ready_account(), tfvars={}), "certificate: ALB")
    assert check.status == FAILED and "environments/test.tfvars" in check.fix and "certificate_arn = " in check.fix


@pytest.mark.parametrize(
    ("arn_region", "certificate", "problem"),
    [
        ("us-west-2", issued("api.pay.example.com"), "it is in us-west-2, but this one must be in us-east-1"),
        ("us-east-1", issued("api.pay.example.com", status="PENDING_VALIDATION"), "status PENDING_VALIDATION"),
        ("us-east-1", issued("other.example.com"), "it does not cover api.pay.example.com"),
        ("us-east-1", issued("*.example.com"), "it does not cover api.pay.example.com"),
    ],
)
def test_a_certificate_that_will_not_serve_fails(
    dev_synth_json: dict[str, Any], arn_region: str, certificate: dict[str, Any], problem: str
) -> None:
    arn = f"arn:aws:acm:{arn_region}:{ACCOUNT}:certificate/bbbbbbbb-0000-0000-0000-000000000002"
    account = ready_account(certificates={arn: certificate})
    check = named(run(dev_synth_json, account, tfvars={"certificate_arn": arn}), "certificate: ALB")
    assert check.status == FAILED and problem in check.detail
    if "PENDING" in problem:
        assert "DNS validation records" in check.fix and "then set" not in check.fix
    else:
        assert "then set certificate_arn in environments/test.tfvars to its ARN" in check.fix
    assert account.called("acm", "describe_certificate") == [(arn_region, {"CertificateArn": arn})]


def test_a_wildcard_and_an_alternative_name_cover_the_domain(dev_synth_json: dict[str, Any]) -> None:
    for certificate in (issued("*.pay.example.com"), issued("pay.example.com", "api.pay.example.com")):
        account = ready_account(certificates={ALB_CERTIFICATE: certificate})
        assert named(run(dev_synth_json, account), "certificate: ALB").status == PASSED


def test_acm_wildcard_matching() -> None:
    assert covers("*.example.com", "api.example.com")
    assert covers("API.Example.com", "api.example.com.")
    assert not covers("*.example.com", "example.com")
    assert not covers("*.example.com", "a.b.example.com")
    assert not covers("*.example.com", ".example.com")


def test_the_cloudfront_certificate_must_be_in_us_east_1(synth_json: dict[str, Any]) -> None:
    config = StackConfig.from_env(PRODUCTION_ENV)
    alb = {"certificate_arn": ALB_CERTIFICATE}
    account = ready_account(
        certificates={ALB_CERTIFICATE: issued("api.pay.example.com"), FRONTEND_CERTIFICATE: issued("pay.example.com")}
    )
    checks = run(synth_json, account, config=config, tfvars=alb)
    assert named(checks, "certificate: CloudFront").status == PASSED
    assert ("us-east-1", {"CertificateArn": FRONTEND_CERTIFICATE}) in account.called("acm", "describe_certificate")
    # StackConfig already refuses a FRONTEND_CERTIFICATE_ARN outside us-east-1; the account shows what it cannot.
    account = ready_account(
        certificates={ALB_CERTIFICATE: issued("api.pay.example.com"), FRONTEND_CERTIFICATE: issued("shop.example.com")}
    )
    check = named(run(synth_json, account, config=config, tfvars=alb), "certificate: CloudFront")
    assert check.status == FAILED and "it does not cover pay.example.com" in check.detail
    assert "FRONTEND_CERTIFICATE_ARN" in check.fix
    check = named(run(synth_json, ready_account(), config=config, tfvars=alb), "certificate: CloudFront")
    assert check.status == FAILED and "no such certificate in us-east-1" in check.detail


# ---------------------------------------------------------------------------------------------- names
def _state_with(rtype: str, name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 4,
        "resources": [{"mode": "managed", "type": rtype, "name": name, "instances": [{"attributes": attributes}]}],
    }


def test_a_name_held_outside_the_state_fails_with_its_import(dev_synth_json: dict[str, Any]) -> None:
    ((alb, _body),) = dev_synth_json["resource"]["aws_alb"].items()
    arn = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/payment-alb-test/50dc6c495c0c9188"
    account = ready_account(
        answers={
            ("elbv2", "describe_load_balancers"): {
                "LoadBalancers": [{"LoadBalancerName": "payment-alb-test", "LoadBalancerArn": arn}]
            }
        }
    )
    check = named(run(dev_synth_json, account), f"name: aws_alb.{alb}")
    assert check.status == FAILED and "payment-alb-test exists in the account" in check.detail
    assert (
        f"terraform -chdir=cdktf.out/stacks/TapStacktest import -var 'certificate_arn={ALB_CERTIFICATE}' "
        f"'aws_alb.{alb}' '{arn}'"
    ) in check.fix
    assert "ENVIRONMENT_SUFFIX" in check.fix
    # A load balancer's name is the region's: no word about other regions.
    assert "another region" not in check.detail and "across regions" not in check.fix


def test_existing_session_manager_preferences_are_reported_with_both_ways_out(dev_synth_json: dict[str, Any]) -> None:
    """Issue 28 item 4: SSM-SessionManagerRunShell is one per account and region, so a second stack (or preferences
    saved in the console) makes the first apply fail; the preflight names the document and says to import it or set
    MANAGE_SESSION_PREFERENCES=false, not to change the suffix (the name has none)."""
    ((document, body),) = dev_synth_json["resource"]["aws_ssm_document"].items()
    assert body["name"] == "SSM-SessionManagerRunShell"
    account = ready_account(
        answers={("ssm", "describe_document"): {"Document": {"Name": "SSM-SessionManagerRunShell", "Status": "Active"}}}
    )
    check = named(run(dev_synth_json, account), f"name: aws_ssm_document.{document}")
    assert check.status == FAILED and "SSM-SessionManagerRunShell exists in the account" in check.detail
    assert f"import -var 'certificate_arn={ALB_CERTIFICATE}' 'aws_ssm_document.{document}' " in check.fix
    assert "'SSM-SessionManagerRunShell'" in check.fix or "SSM-SessionManagerRunShell" in check.fix
    assert "MANAGE_SESSION_PREFERENCES=false" in check.fix and "ENVIRONMENT_SUFFIX" not in check.fix
    assert account.called("ssm", "describe_document") == [("us-east-1", {"Name": "SSM-SessionManagerRunShell"})]


@pytest.mark.parametrize(
    ("location", "status"),
    [(None, "exists in the account"), ("EU", "exists in eu-west-1, not us-east-1"), ("us-west-2", "in us-west-2")],
)
def test_a_bucket_in_another_region_cannot_be_imported(
    dev_synth_json: dict[str, Any], location: str, status: str
) -> None:
    """HeadBucket answers for a bucket of any region (the SDK follows the redirect): its location tells whether this
    stack's provider could adopt it, or whether the same suffix is deployed in another region."""
    account = ready_account(
        answers={("s3", "head_bucket"): {}, ("s3", "get_bucket_location"): {"LocationConstraint": location}}
    )
    failures = [check for check in run(dev_synth_json, account) if check.name.startswith("name: aws_s3_bucket.")]
    assert len(failures) == 4 and all(check.status == FAILED and status in check.detail for check in failures)
    assert all("a suffix must be unique per account across regions" in check.fix for check in failures)
    if location is None:  # us-east-1, the stack's region: adoptable, and also perhaps another region's stack
        assert all("terraform -chdir=" in check.fix and "account-wide" in check.detail for check in failures)
    else:
        assert all("terraform" not in check.fix for check in failures)


def test_a_role_of_the_same_suffix_says_the_suffix_rule(dev_synth_json: dict[str, Any]) -> None:
    account = ready_account(answers={("iam", "get_role"): lambda RoleName: {"Role": {"RoleName": RoleName}}})
    failures = [check for check in run(dev_synth_json, account) if check.name.startswith("name: aws_iam_role.")]
    # the instance, migration host, flow-log, RDS monitoring, operator, page-integrity and AWS Backup roles, and the
    # log shipping's two
    assert len(failures) == 9
    for check in failures:
        assert "(the name is account-wide: a stack with ENVIRONMENT_SUFFIX=test in another region holds it too)" in (
            check.detail
        )
        assert check.fix.endswith(
            "otherwise pick another ENVIRONMENT_SUFFIX: a suffix must be unique per account across regions (IAM, S3 "
            "and CloudFront names, and the us-east-1 resources of CloudFront's firewall, are shared by every region's "
            "stack of one suffix)"
        )


def test_a_name_the_state_holds_is_not_looked_up(dev_synth_json: dict[str, Any]) -> None:
    ((alb, _body),) = dev_synth_json["resource"]["aws_alb"].items()
    account = ready_account()
    checks = run(dev_synth_json, account, state=_state_with("aws_alb", alb, {"name": "payment-alb-test"}))
    assert named(checks, "names").status == PASSED and "1 held by this stack's state" in named(checks, "names").detail
    assert not account.called("elbv2", "describe_load_balancers")


def test_a_name_the_state_holds_at_another_address_says_state_mv(dev_synth_json: dict[str, Any]) -> None:
    ((alb, _body),) = dev_synth_json["resource"]["aws_alb"].items()
    check = named(
        run(dev_synth_json, ready_account(), state=_state_with("aws_alb", "old_alb", {"name": "payment-alb-test"})),
        f"name: aws_alb.{alb}",
    )
    assert check.status == FAILED and f"state mv 'aws_alb.old_alb' 'aws_alb.{alb}'" in check.fix


@pytest.mark.parametrize(("code", "says"), [("403", "another AWS account"), ("301", "in another region")])
def test_a_bucket_name_held_elsewhere_cannot_be_imported(dev_synth_json: dict[str, Any], code: str, says: str) -> None:
    account = ready_account(answers={("s3", "head_bucket"): client_error(code, "HeadBucket")})
    failures = [check for check in run(dev_synth_json, account) if check.name.startswith("name: aws_s3_bucket.")]
    assert len(failures) == 4 and all(check.status == FAILED for check in failures)
    assert all(says in check.detail and "terraform" not in check.fix for check in failures)


def test_role_policy_and_service_linked_role_import_ids(dev_synth_json: dict[str, Any]) -> None:
    slr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_test"
    account = ready_account(
        answers={
            ("iam", "get_role_policy"): lambda RoleName, PolicyName: {"RoleName": RoleName, "PolicyName": PolicyName},
            ("iam", "list_roles"): {"Roles": [{"RoleName": "AWSServiceRoleForAutoScaling_test", "Arn": slr}]},
        }
    )
    checks = run(dev_synth_json, account)
    fixes = " ".join(check.fix for check in checks if check.status == FAILED)
    assert "'payment-api-instance-test:payment-api-install-test'" in fixes
    assert f"'{slr}'" in fixes
    assert account.called("iam", "list_roles")[0][1] == {"PathPrefix": "/aws-service-role/autoscaling.amazonaws.com/"}


def test_a_denied_lookup_names_the_permission(dev_synth_json: dict[str, Any]) -> None:
    account = ready_account(answers={("ssm", "get_parameter"): client_error("AccessDeniedException", "GetParameter")})
    failures = [check for check in run(dev_synth_json, account) if check.name.startswith("name: aws_ssm_parameter.")]
    assert failures and all(
        "ssm:GetParameter" in check.fix and "deploying principal" in check.fix for check in failures
    )


# ---------------------------------------------------------------------------------------------- zone and trail
def _with_zone(zone_id: str, environ: dict[str, str]) -> StackConfig:
    config = StackConfig.from_env(environ)
    if not hasattr(config, "hosted_zone_id"):  # before the HOSTED_ZONE_ID setting lands in StackConfig
        object.__setattr__(config, "hosted_zone_id", zone_id)
    return config


@pytest.mark.parametrize(
    ("zone", "status", "says"),
    [
        ({"Name": "pay.example.com.", "Config": {"PrivateZone": False}}, PASSED, "pay.example.com (public)"),
        ({"Name": "example.com.", "Config": {"PrivateZone": False}}, PASSED, "example.com (public)"),
        ({"Name": "pay.example.com.", "Config": {"PrivateZone": True}}, FAILED, "private zone"),
        ({"Name": "other.org.", "Config": {"PrivateZone": False}}, FAILED, "API_DOMAIN=api.pay.example.com is not in"),
    ],
)
def test_the_hosted_zone(synth_json: dict[str, Any], zone: dict[str, Any], status: str, says: str) -> None:
    config = _with_zone("Z0123456789", {**PRODUCTION_ENV, "HOSTED_ZONE_ID": "Z0123456789"})
    account = ready_account(
        certificates={ALB_CERTIFICATE: issued("api.pay.example.com"), FRONTEND_CERTIFICATE: issued("pay.example.com")},
        answers={("route53", "get_hosted_zone"): {"HostedZone": {"Id": "Z0123456789", **zone}}},
    )
    check = named(run(synth_json, account, config=config), "hosted zone")
    assert check.status == status and says in check.detail


def test_a_missing_hosted_zone_fails(dev_synth_json: dict[str, Any]) -> None:
    config = _with_zone("Z404", {**DEVELOPMENT_ENV, "API_DOMAIN": "api.pay.example.com", "HOSTED_ZONE_ID": "Z404"})
    account = ready_account(answers={("route53", "get_hosted_zone"): client_error("NoSuchHostedZone")})
    check = named(run(dev_synth_json, account, config=config), "hosted zone")
    assert check.status == FAILED and "HOSTED_ZONE_ID" in check.fix


def test_no_hosted_zone_no_check(dev_synth_json: dict[str, Any]) -> None:
    assert not [check for check in run(dev_synth_json, ready_account()) if check.name == "hosted zone"]


def test_no_logging_trail_is_a_warning_not_a_failure(dev_synth_json: dict[str, Any]) -> None:
    for trails in (
        [],
        [
            {
                "Name": "t",
                "TrailARN": "arn:aws:cloudtrail:us-east-1:1:trail/t",
                "HomeRegion": "us-east-1",
                "logging": False,
            }
        ],
        [
            {
                "Name": "w",
                "TrailARN": "arn:aws:cloudtrail:us-west-2:1:trail/w",
                "HomeRegion": "us-west-2",
                "IsMultiRegionTrail": False,
                "logging": True,
            }
        ],
    ):
        check = named(run(dev_synth_json, ready_account(trails=trails)), "CloudTrail")
        assert check.status == WARNING and "no trail is logging in us-east-1" in check.detail


# ---------------------------------------------------------------------------------------------- command line
def test_cli_bad_input_exits_2(
    tmp_path: Path, dev_synth_json: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    environ = dict(DEVELOPMENT_ENV)
    folder = tmp_path / "TapStacktest"
    assert main([str(folder)], environ) == 2
    assert "run the synth first" in capsys.readouterr().err
    folder.mkdir()
    (folder / "cdk.tf.json").write_text(json.dumps(dev_synth_json), encoding="utf-8")
    assert main([str(tmp_path)], environ) == 2
    assert "is not the folder of TapStacktest" in capsys.readouterr().err
    tfvars = tmp_path / "test.tfvars"
    tfvars.write_text('certificate_arn = "x"\nsubnets = ["a"]\n', encoding="utf-8")
    assert main([str(folder), "--tfvars", str(tfvars)], environ) == 2
    assert f"{tfvars}:2:" in capsys.readouterr().err
    state = tmp_path / "state.json"
    state.write_text("[]", encoding="utf-8")
    assert main([str(folder), "--state", str(state)], environ) == 2
    assert "not an object" in capsys.readouterr().err
    assert main([str(folder)], {**environ, "ENVIRONMENT_SUFFIX": "Bad_Suffix"}) == 2
    assert "ENVIRONMENT_SUFFIX" in capsys.readouterr().err


def test_cli_reads_tfvars_over_tf_var_environment(tmp_path: Path, dev_synth_json: dict[str, Any]) -> None:
    folder = tmp_path / "TapStacktest"
    folder.mkdir()
    (folder / "cdk.tf.json").write_text(json.dumps(dev_synth_json), encoding="utf-8")
    tfvars = tmp_path / "test.tfvars"
    tfvars.write_text("asg_max_size = 3\n", encoding="utf-8")
    environ = {
        **DEVELOPMENT_ENV,
        "TF_VAR_asg_max_size": "9",
        "TF_VAR_certificate_arn": ALB_CERTIFICATE,
        "TF_VAR_not_a_variable": "x",
    }
    _stack, _config, values, state = read_inputs(folder, tfvars, None, environ)
    assert values == {"asg_max_size": 3, "certificate_arn": ALB_CERTIFICATE} and state is None


def test_the_import_command_quotes_for_the_shell(dev_synth_json: dict[str, Any]) -> None:
    """Values given without a tfvars file go one by one, booleans as HCL writes them, quotes escaped."""
    ((alb, _body),) = dev_synth_json["resource"]["aws_alb"].items()
    arn = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/payment-alb-test/1"
    account = ready_account(
        answers={
            ("elbv2", "describe_load_balancers"): {
                "LoadBalancers": [{"LoadBalancerName": "payment-alb-test", "LoadBalancerArn": arn}]
            }
        }
    )
    tfvars = {"certificate_arn": ALB_CERTIFICATE, "alarm_email": "o'brien@example.com", "flag": True}
    check = named(run(dev_synth_json, account, tfvars=tfvars), f"name: aws_alb.{alb}")
    assert (
        f"import -var 'alarm_email=o'\\''brien@example.com' -var 'certificate_arn={ALB_CERTIFICATE}' "
        f"-var 'flag=true' 'aws_alb.{alb}' '{arn}'"
    ) in check.fix


# ---------------------------------------------------------------------------------------------- the backend's state
def _backend(stack: dict[str, Any], backend: dict[str, Any]) -> dict[str, Any]:
    return {**stack, "terraform": {**stack["terraform"], "backend": backend}}


def test_the_state_of_a_local_backend(dev_synth_json: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "terraform.TapStacktest.tfstate"
    stack = _backend(dev_synth_json, {"local": {"path": str(path)}})
    assert backend_state(stack, FakeAccount().clients) is None
    path.write_text("", encoding="utf-8")
    assert backend_state(stack, FakeAccount().clients) is None
    path.write_text('{"version": 4, "resources": []}', encoding="utf-8")
    assert backend_state(stack, FakeAccount().clients) == {"version": 4, "resources": []}
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StackInputError, match="is not JSON"):
        backend_state(stack, FakeAccount().clients)


def test_the_state_of_an_s3_backend(synth_json: dict[str, Any]) -> None:
    account = FakeAccount(answers={("s3", "get_object"): {"Body": io.BytesIO(b'{"version": 4}')}})
    assert backend_state(synth_json, account.clients) == {"version": 4}
    assert account.called("s3", "get_object") == [
        ("us-east-1", {"Bucket": "acme-tf-state", "Key": "test/TapStacktest.tfstate"})
    ]
    account = FakeAccount(answers={("s3", "get_object"): client_error("NoSuchKey", "GetObject")})
    assert backend_state(synth_json, account.clients) is None
    account = FakeAccount(answers={("s3", "get_object"): client_error("AccessDenied", "GetObject")})
    with pytest.raises(StackInputError, match=re.escape("s3://acme-tf-state/test/TapStacktest.tfstate: AccessDenied")):
        backend_state(synth_json, account.clients)
    with pytest.raises(StackInputError, match="not one the preflight reads"):
        backend_state(_backend(synth_json, {"remote": {}}), FakeAccount().clients)


# ---------------------------------------------------------------------------------------------- break-glass role
BREAK_GLASS_NAME = "log-archive-admin"
BREAK_GLASS_ARN = f"arn:aws:iam::{ACCOUNT}:role/break-glass/{BREAK_GLASS_NAME}"
BREAK_GLASS_CONFIG = StackConfig.from_env(
    {
        **DEVELOPMENT_ENV,
        "API_DOMAIN": "api.pay.example.com",
        "DEPLOYER_PRINCIPAL_ARNS": DEPLOYER_ARN,
        "BREAK_GLASS_ROLE_ARN": BREAK_GLASS_ARN,
    }
)


def _roles(existing: dict[str, str]) -> Callable[..., Any]:
    """iam:GetRole answering the roles ``existing`` (name -> ARN), NoSuchEntity for any other."""

    def get_role(**kwargs: str) -> dict[str, Any]:
        if kwargs["RoleName"] in existing:
            return {"Role": {"Arn": existing[kwargs["RoleName"]]}}
        raise client_error("NoSuchEntity", "GetRole")

    return get_role


@pytest.mark.parametrize(
    ("existing", "status", "said"),
    [
        ({BREAK_GLASS_NAME: BREAK_GLASS_ARN}, PASSED, f"{BREAK_GLASS_ARN} exists"),
        ({}, FAILED, f"no role {BREAK_GLASS_NAME} in the account"),
        (
            {BREAK_GLASS_NAME: f"arn:aws:iam::{ACCOUNT}:role/{BREAK_GLASS_NAME}"},
            FAILED,
            "another path or account",
        ),
    ],
)
def test_the_break_glass_role_must_exist_with_its_path(
    dev_synth_json: dict[str, Any], existing: dict[str, str], status: str, said: str
) -> None:
    """BREAK_GLASS_ROLE_ARN set: iam:GetRole finds the role with exactly that ARN (aws:PrincipalArn of its sessions),
    or the check fails with the fix; unset, there is no such check."""
    account = ready_account(answers={("iam", "get_role"): _roles(existing)})
    check = named(run(dev_synth_json, account, config=BREAK_GLASS_CONFIG), "break-glass role")
    assert check.status == status and said in check.detail
    assert check.looked_at == f"iam:GetRole {BREAK_GLASS_NAME}"
    if status == FAILED:
        assert "BREAK_GLASS_ROLE_ARN in environments/test.env" in (check.fix or "")
    assert "break-glass role" not in {c.name for c in run(dev_synth_json, ready_account())}


def test_a_refused_get_role_is_said_with_the_permission(dev_synth_json: dict[str, Any]) -> None:
    def refused(**kwargs: str) -> dict[str, Any]:
        if kwargs["RoleName"] == BREAK_GLASS_NAME:
            raise client_error("AccessDenied", "GetRole")
        raise client_error("NoSuchEntity", "GetRole")

    check = named(
        run(dev_synth_json, ready_account(answers={("iam", "get_role"): refused}), config=BREAK_GLASS_CONFIG),
        "break-glass role",
    )
    assert check.status == FAILED and "GetRole answered AccessDenied" in check.detail
