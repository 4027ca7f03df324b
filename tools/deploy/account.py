"""The account preflight: what the synthesized stack needs from the account, checked with the caller's credentials.

``make deploy`` runs it between the synth and ``terraform init``: the static preflight has judged the JSON, this
judges the account the JSON will meet, reading the values that will really be applied (the environment's settings
and its tfvars file). It only reads. Checks, in order:

1. credentials: ``sts:GetCallerIdentity`` (nothing else runs without them);
   the deployer: the caller's role, with its path, is on ``DEPLOYER_PRINCIPAL_ARNS``
   (:mod:`tools.deploy.deployer_check`);
2. certificates: the ALB's (``certificate_arn``, in the stack's region) and CloudFront's
   (``FRONTEND_CERTIFICATE_ARN``, in us-east-1) are ISSUED, in that region, and name API_DOMAIN / FRONTEND_DOMAIN;
3. Elastic IPs: the quota (Service Quotas ``L-0263D0A3``, else AWS's default 5) against what is allocated in the
   region plus the addresses of the NAT gateways the stack still creates;
4. vCPUs: Service Quotas ``L-1216C47A`` against what runs plus the Auto Scaling group's peak during an instance
   refresh, minus what the group already runs;
5. names: every literal name of the stack (the table in :mod:`tools.deploy.account_names`) that exists in the
   account but not in this stack's state, with the ``terraform import`` that adopts it;
6. the hosted zone, when HOSTED_ZONE_ID is given: exists, public, the parent of the domains;
7. CloudTrail: a trail logs in the region (the stack relies on the account's, usually the organization's);
8. the break-glass role, when BREAK_GLASS_ROLE_ARN is set: ``iam:GetRole`` finds it with that path (the log archive's
   policy exempts it alone from the refusal of policy, lifecycle and lock changes; a role that does not exist would
   leave nobody able to change them).

Against the emulator (``sandbox=True``) the vCPU quota and CloudTrail are "needs a real account": moto has no
Service Quotas for EC2 and no trail, and an answer it cannot give is never reported as passed or failed.

``python -m tools.deploy.account <stack folder> [--tfvars FILE] [--state FILE]``: exit 0 when nothing failed,
1 when a check failed, 2 on bad input (configuration, stack, tfvars or state unreadable). Without ``--state`` the
state is read from the stack's backend (the local file or the S3 object), so no ``terraform init`` is needed first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lib.config import PROJECT_ROOT, ConfigError, StackConfig
from lib.synth_output import DEFAULT_OUTPUT_DIR
from lib.synth_output import stack_dir as synth_stack_dir
from tools.deploy.account_names import NAME_LOOKUPS, HeldElsewhere, NameLookup
from tools.deploy.checks import FAILED, NEEDS_REAL_ACCOUNT, PASSED, WARNING, Check, failed, render
from tools.deploy.deployer_check import deployer_check
from tools.deploy.stack_view import StackInputError, StackView, backend_state
from tools.deploy.tfvars import TfvarsError, parse_tfvars

Clients = Callable[[str, str], Any]
CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
VCPU_QUOTA_CODE = "L-1216C47A"
EIP_QUOTA_CODE = "L-0263D0A3"
UNIQUE_SUFFIX = (
    "a suffix must be unique per account across regions (IAM, S3 and CloudFront names, and the us-east-1 resources "
    "of CloudFront's firewall, are shared by every region's stack of one suffix)"
)
EIP_DEFAULT_QUOTA = 5  # EC2-VPC Elastic IPs per region: AWS's default (Service Quotas, L-0263D0A3)
# The families counted by L-1216C47A "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances": one of those
# letters then the generation digit (t3, m7i, c6gn, im4gn); trn1, dl1, hpc6a and inf1 have quotas of their own.
STANDARD_FAMILY = re.compile(r"^(?:[acdhimrtz]|im|is)[0-9]")
ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[A-Za-z0-9-]+$")
PENDING_FIX = "create the DNS validation records ACM lists for it (aws acm describe-certificate) and wait for ISSUED"
DENIED = (
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "UnrecognizedClientException",
)


class _Run:
    """One preflight run: the stack view, the clients (one per service and region) and where to point the user."""

    def __init__(
        self,
        *,
        stack: Mapping[str, Any],
        tfvars: Mapping[str, Any],
        state: Mapping[str, Any] | None,
        config: StackConfig,
        clients: Clients,
        sandbox: bool,
        stack_dir: Path,
        tfvars_file: Path,
    ) -> None:
        self.config, self.sandbox = config, sandbox
        self.stack_dir, self.tfvars_file = stack_dir, tfvars_file
        self._clients = clients
        self._cache: dict[tuple[str, str], Any] = {}
        self.view = StackView(
            stack=stack,
            tfvars=tfvars,
            state=state,
            account_id=lambda: str(self.client("sts").get_caller_identity()["Account"]),
        )

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.view.region)
        if key not in self._cache:
            self._cache[key] = self._clients(*key)
        return self._cache[key]

    def tfvars_name(self) -> str:
        return _relative(self.tfvars_file)

    def variable_arguments(self) -> str:
        """How ``terraform import`` gets the variables: the tfvars file (absolute: ``-chdir`` moves relative paths),
        else the values given to the preflight one by one."""
        if self.tfvars_file.is_file():
            return f"-var-file={shlex.quote(str(self.tfvars_file.resolve()))}"
        values = sorted(self.view.tfvars.items())
        return " ".join(f"-var {_quoted(f'{name}={_text(value)}')}" for name, value in values)

    def terraform(self, arguments: str) -> str:
        return f"terraform -chdir={shlex.quote(_relative(self.stack_dir))} {arguments}"


def _text(value: Any) -> str:
    """A variable's value as ``-var`` takes it (booleans as HCL writes them)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _quoted(text: str) -> str:
    """``text`` in single quotes for a POSIX shell (a quote inside closes, escapes and reopens)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def account_preflight(
    stack: Mapping[str, Any],
    *,
    config: StackConfig,
    tfvars: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    clients: Clients,
    sandbox: bool,
    stack_dir: Path | None = None,
    tfvars_file: Path | None = None,
) -> list[Check]:
    """The account checks for ``stack`` as it will be applied; see the module docstring for the list.

    ``stack_dir`` (default ``cdktf.out/stacks/<stack name>``) and ``tfvars_file`` (default
    ``environments/<suffix>.tfvars``) only appear in the messages: the import command and where a value goes.
    Raises :class:`tools.deploy.stack_view.StackInputError` when the stack or the state cannot be read.
    """
    run = _Run(
        stack=stack,
        tfvars=tfvars,
        state=state,
        config=config,
        clients=clients,
        sandbox=sandbox,
        stack_dir=stack_dir or synth_stack_dir(PROJECT_ROOT / DEFAULT_OUTPUT_DIR, config.stack_name),
        tfvars_file=tfvars_file or PROJECT_ROOT / "environments" / f"{config.environment_suffix}.tfvars",
    )
    identity = _guard("credentials", "sts:GetCallerIdentity", lambda: _credentials(run))
    if identity.status == FAILED:
        return [identity]
    checks = [identity]
    checks.append(
        _guard(
            "deployer",
            "sts:GetCallerIdentity, iam:GetRole",
            lambda: deployer_check(
                config, run.client, environment_file=f"environments/{config.environment_suffix}.env"
            ),
        )
    )
    checks += _guard_many("certificates", "acm:DescribeCertificate", lambda: _certificates(run))
    checks += _guard_many("Elastic IP quota", "ec2:DescribeAddresses", lambda: _eip_quota(run))
    checks += _guard_many("vCPU quota", f"service-quotas:GetServiceQuota {VCPU_QUOTA_CODE}", lambda: _vcpu_quota(run))
    checks += _guard_many("names", "the stack's literal names", lambda: _names(run))
    zone_id = config.hosted_zone_id
    if zone_id:
        checks.append(_guard("hosted zone", f"route53:GetHostedZone {zone_id}", lambda: _hosted_zone(run, zone_id)))
    checks.append(_guard("CloudTrail", "cloudtrail:DescribeTrails", lambda: _cloudtrail(run)))
    break_glass_role = config.break_glass_role_arn
    if break_glass_role:
        checks.append(_guard("break-glass role", "iam:GetRole", lambda: _break_glass_role(run, break_glass_role)))
    return checks


# ---------------------------------------------------------------------------------------------- error handling
def _guard(name: str, looked_at: str, check: Callable[[], Check]) -> Check:
    return _guard_many(name, looked_at, lambda: [check()])[0]


def _guard_many(name: str, looked_at: str, check: Callable[[], list[Check]]) -> list[Check]:
    """Run a check; an API error becomes a failed check saying what was refused and what to do."""
    try:
        return check()
    except ClientError as error:
        return [_api_failure(name, looked_at, error)]
    except BotoCoreError as error:
        return [
            Check(
                name=name,
                status=FAILED,
                looked_at=looked_at,
                detail=f"no answer from AWS: {error}",
                fix="check the credentials and the network (`aws sts get-caller-identity` must answer), then run again",
            )
        ]


def _api_failure(name: str, looked_at: str, error: ClientError) -> Check:
    code = str(error.response.get("Error", {}).get("Code", ""))
    # The first line, shortened: an emulator's 500 can carry a whole HTML page.
    message = str(error.response.get("Error", {}).get("Message", "")).strip().splitlines()[:1]
    message_text = (message[0][:200] if message else "") or "no message"
    action = str(error.operation_name)
    if code in DENIED:
        fix = (
            f"allow the read-only call {looked_at.split(maxsplit=1)[0]} ({action}) for the deploying principal "
            "(the deploy guide's policy has it), then run again"
        )
    else:
        fix = "run again; if it persists, check the region and the request above against the error"
    return Check(
        name=name, status=FAILED, looked_at=looked_at, detail=f"{action} answered {code}: {message_text}", fix=fix
    )


# ---------------------------------------------------------------------------------------------- credentials
def _credentials(run: _Run) -> Check:
    identity = run.client("sts").get_caller_identity()
    return Check(
        name="credentials",
        status=PASSED,
        looked_at="sts:GetCallerIdentity",
        detail=f"account {identity['Account']} as {identity['Arn']} in {run.view.region}",
    )


# ---------------------------------------------------------------------------------------------- certificates
def _certificates(run: _Run) -> list[Check]:
    config = run.config
    alb_arn = run.view.variable("certificate_arn")
    if not alb_arn:
        checks = [
            Check(
                name="certificate: ALB",
                status=FAILED,
                looked_at=f"certificate_arn in {run.tfvars_name()}",
                detail="no certificate_arn: the ALB's HTTPS listener needs one, and `terraform plan` would "
                "stop to ask for it",
                fix=f'add `certificate_arn = "arn:aws:acm:{run.view.region}:<account>:certificate/<id>"` to '
                f"{run.tfvars_name()} (an ISSUED ACM certificate in {run.view.region} for "
                f"{config.api_domain or 'the API name'})",
            )
        ]
    else:
        checks = [
            _certificate(
                run,
                name="certificate: ALB",
                arn=str(alb_arn),
                region=run.view.region,
                domain=config.api_domain,
                setting=f"certificate_arn in {run.tfvars_name()}",
                domain_setting="API_DOMAIN",
            )
        ]
    if config.frontend_certificate_arn:
        checks.append(
            _certificate(
                run,
                name="certificate: CloudFront",
                arn=config.frontend_certificate_arn,
                region=CLOUDFRONT_CERTIFICATE_REGION,
                domain=config.frontend_domain,
                setting="FRONTEND_CERTIFICATE_ARN",
                domain_setting="FRONTEND_DOMAIN",
            )
        )
    return checks


def _certificate(
    run: _Run, *, name: str, arn: str, region: str, domain: str | None, setting: str, domain_setting: str
) -> Check:
    looked_at = f"acm:DescribeCertificate {arn}"
    match = ACM_ARN.match(arn)
    if match is None:
        return Check(
            name=name,
            status=FAILED,
            looked_at=setting,
            detail=f"{arn!r} is not an ACM certificate ARN",
            fix=f"set {setting} to arn:aws:acm:{region}:<account>:certificate/<id>",
        )
    try:
        certificate = run.client("acm", match.group(1)).describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            return _api_failure(name, looked_at, error)
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"no such certificate in {match.group(1)}",
            fix=f"request (DNS-validated) or import the certificate in ACM in {region}, then set {setting} to its ARN",
        )
    problems, fixes = _certificate_problems(certificate, arn_region=match.group(1), region=region, domain=domain)
    names = _certificate_names(certificate)
    detail = f"{certificate.get('Status')} in {match.group(1)} for {', '.join(names)}"
    if domain is None:
        detail += f" ({domain_setting} is not set: the name is not checked)"
    if problems:
        # Only a pending validation is fixed on the same certificate; anything else needs another ARN.
        then = "" if fixes == [PENDING_FIX] else f", then set {setting} to its ARN"
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{detail}: {'; '.join(problems)}",
            fix="; ".join(fixes) + then,
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=detail)


def _certificate_names(certificate: Mapping[str, Any]) -> list[str]:
    names = [str(certificate.get("DomainName", ""))]
    names += [str(n) for n in certificate.get("SubjectAlternativeNames", []) if n not in names]
    return [n for n in names if n]


def _certificate_problems(
    certificate: Mapping[str, Any], *, arn_region: str, region: str, domain: str | None
) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    fixes: list[str] = []
    status = str(certificate.get("Status"))
    if status != "ISSUED":
        problems.append(f"status {status}, not ISSUED")
        fixes.append(PENDING_FIX if status == "PENDING_VALIDATION" else f"request a new certificate in {region}")
    if arn_region != region:
        problems.append(f"it is in {arn_region}, but this one must be in {region}")
        fixes.append(f"request or import the certificate in {region}")
    if domain is not None and not any(covers(name, domain) for name in _certificate_names(certificate)):
        problems.append(f"it does not cover {domain}")
        parent = domain.split(".", 1)[-1]
        fixes.append(f"use a certificate whose name or alternative names include {domain} (or *.{parent})")
    return problems, fixes


def covers(certificate_name: str, domain: str) -> bool:
    """Whether a certificate name covers ``domain`` as ACM matches it: exact, or ``*.`` for exactly one label."""
    name, domain = certificate_name.lower().rstrip("."), domain.lower().rstrip(".")
    if name.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == name[2:]
    return name == domain


# ---------------------------------------------------------------------------------------------- Elastic IPs
def _eip_quota(run: _Run) -> list[Check]:
    wanted: dict[str, set[str]] = {}
    unknown: list[str] = []
    for logical, body in run.view.resources("aws_eip").items():
        count = run.view.count(body)
        if count is None:
            unknown.append(f"aws_eip.{logical}")
            continue
        addresses = {f"aws_eip.{logical}"} if "count" not in body else {f"aws_eip.{logical}[{i}]" for i in range(count)}
        wanted.setdefault(run.view.provider_region(body), set()).update(addresses)
    if unknown:
        return [
            Check(
                name="Elastic IP quota",
                status=WARNING,
                looked_at="aws_eip count in the stack",
                detail=f"cannot tell how many of {', '.join(unknown)} the stack creates",
                fix="give the variables the count depends on in the tfvars file; the plan shows the number",
            )
        ]
    if not wanted:
        return [
            Check(
                name="Elastic IP quota",
                status=PASSED,
                looked_at="aws_eip in the stack",
                detail="the stack allocates no Elastic IP (no NAT gateways: the payment processor needs no egress)",
            )
        ]
    held = set(run.view.state_instances("aws_eip"))
    return [_eip_region(run, region, addresses, held) for region, addresses in sorted(wanted.items())]


def _eip_quota_value(run: _Run, region: str) -> tuple[int, str]:
    """The EC2-VPC Elastic IP quota in ``region`` and where it comes from: Service Quotas ``L-0263D0A3`` (applied,
    else AWS's default for it) when it answers; AWS's default of :data:`EIP_DEFAULT_QUOTA` when it cannot (not
    allowed, not reachable, or the emulator, which has no EC2 quotas)."""
    try:
        return int(_service_quota(run.client("service-quotas", region), EIP_QUOTA_CODE)), (
            f"service-quotas:GetServiceQuota ec2 {EIP_QUOTA_CODE}"
        )
    except ClientError as error:
        reason = str(error.response.get("Error", {}).get("Code", "")) or "an error"
    except BotoCoreError as error:
        reason = type(error).__name__
    return EIP_DEFAULT_QUOTA, f"AWS's default (Service Quotas {EIP_QUOTA_CODE} answered {reason})"


def _eip_region(run: _Run, region: str, addresses: set[str], held: set[str]) -> Check:
    quota, source = _eip_quota_value(run, region)
    allocated = len(run.client("ec2", region).describe_addresses().get("Addresses", []))
    already = len(addresses & held)
    new = len(addresses) - already
    after = allocated + new
    nat = sum(
        run.view.count(body) or 0
        for body in run.view.resources("aws_nat_gateway").values()
        if run.view.provider_region(body) == region
    )
    looked_at = f"{source}, ec2:DescribeAddresses in {region}"
    detail = (
        f"needs {new} new (the stack has {len(addresses)} for its {nat} NAT gateways; its state holds {already}), "
        f"{allocated} allocated in {region}, quota {quota}: {after} of {quota} after apply"
    )
    if after <= quota:
        return Check(name="Elastic IP quota", status=PASSED, looked_at=looked_at, detail=detail)
    assumed = (
        ""
        if source.startswith("service-quotas:")
        else "; if the account's quota is higher, allow servicequotas:GetServiceQuota so the preflight reads it"
    )
    return Check(
        name="Elastic IP quota",
        status=FAILED,
        looked_at=looked_at,
        detail=detail,
        fix=f"release unused Elastic IPs in {region} (aws ec2 describe-addresses), or request at least "
        f"{after} for {EIP_QUOTA_CODE} (EC2-VPC Elastic IPs) in Service Quotas; a development stack "
        f"can set SINGLE_NAT_GATEWAY=true (one address){assumed}",
    )


# ---------------------------------------------------------------------------------------------- vCPUs
def _vcpu_quota(run: _Run) -> list[Check]:
    return [_vcpu_group(run, logical, body) for logical, body in run.view.resources("aws_autoscaling_group").items()]


def _group_sizing(run: _Run, body: Mapping[str, Any]) -> tuple[int, str, int]:
    """(max size, instance type, refresh peak in % of the group) of an Auto Scaling group, read off the stack."""
    max_size = _whole(run.view.resolve(body.get("max_size")))
    template_ref = str(body.get("launch_template", {}).get("id", ""))
    template = re.fullmatch(r"\$\{aws_launch_template\.([A-Za-z0-9_-]+)\.id\}", template_ref)
    template_body = run.view.resources("aws_launch_template").get(template.group(1), {}) if template else {}
    instance_type = run.view.resolve(template_body.get("instance_type")) or ""
    preferences = body.get("instance_refresh", {}).get("preferences", {})
    peak = _whole(run.view.resolve(preferences.get("max_healthy_percentage"))) or 100
    return max_size, instance_type, max(peak, 100)


def _whole(value: str | None) -> int:
    """A whole number from a resolved attribute or variable ("6", "6.0"); 0 when it is not one."""
    try:
        number = float(value) if value is not None else 0.0
    except ValueError:
        return 0
    return int(number) if number.is_integer() else 0


def _vcpu_group(run: _Run, logical: str, body: Mapping[str, Any]) -> Check:
    name = "vCPU quota"
    max_size, instance_type, peak = _group_sizing(run, body)
    looked_at = f"service-quotas:GetServiceQuota ec2 {VCPU_QUOTA_CODE}"
    if not max_size or not instance_type:
        return Check(
            name=name,
            status=WARNING,
            looked_at=f"aws_autoscaling_group.{logical} in the stack",
            detail="cannot tell its max size or instance type before apply",
            fix="give asg_max_size and instance_type in the tfvars file",
        )
    family = instance_type.split(".", 1)[0]
    if not STANDARD_FAMILY.match(family):
        return Check(
            name=name,
            status=WARNING,
            looked_at=f"instance_type {instance_type}",
            detail=f"{family} is not a standard family: {VCPU_QUOTA_CODE} does not count it",
            fix=f"check the Running On-Demand quota of the {family} family in Service Quotas yourself",
        )
    types = run.client("ec2").describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    vcpus = int(types[0]["VCpuInfo"]["DefaultVCpus"])
    need = max_size * vcpus * peak // 100
    sizing = f"{max_size} x {instance_type} ({vcpus} vCPUs) x {peak} % during an instance refresh = {need} vCPUs"
    if run.sandbox:
        return Check(
            name=name,
            status=NEEDS_REAL_ACCOUNT,
            looked_at=looked_at,
            detail=f"needs {sizing}; the emulator has no Service Quotas for EC2",
        )
    quota = _service_quota(run.client("service-quotas"), VCPU_QUOTA_CODE)
    group_name = run.view.resolve(body.get("name")) or ""
    in_use, held = _running_vcpus(run.client("ec2"), group_name)
    after = in_use - held + need
    detail = (
        f"needs {sizing}; {in_use} running in {run.view.region} (this group's: {held}), quota {quota}: "
        f"{after} of {quota} at the peak"
    )
    looked_at += ", ec2:DescribeInstances, ec2:DescribeInstanceTypes"
    if after <= quota:
        return Check(name=name, status=PASSED, looked_at=looked_at, detail=detail)
    fits = max((quota - in_use + held) * 100 // (vcpus * peak), 0)
    return Check(
        name=name,
        status=FAILED,
        looked_at=looked_at,
        detail=detail,
        fix=f"request at least {after} vCPUs for {VCPU_QUOTA_CODE} (Running On-Demand Standard instances) "
        f"in Service Quotas in {run.view.region}, or set asg_max_size = {fits} (or a smaller "
        f"instance_type) in {run.tfvars_name()}",
    )


def _service_quota(client: Any, code: str) -> float:
    """The applied quota; the AWS default when the account has never had it applied (NoSuchResourceException)."""
    try:
        return float(client.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchResourceException":
            raise
        return float(client.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"])


def _running_vcpus(ec2: Any, group_name: str) -> tuple[int, int]:
    """vCPUs of the pending and running standard-family instances in the region, and of those the group's."""
    in_use = held = 0
    request: dict[str, Any] = {"Filters": [{"Name": "instance-state-name", "Values": ["pending", "running"]}]}
    while True:
        page = ec2.describe_instances(**request)
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if not STANDARD_FAMILY.match(str(instance.get("InstanceType", "")).split(".", 1)[0]):
                    continue
                cpu = instance.get("CpuOptions", {})
                count = int(cpu.get("CoreCount", 1)) * int(cpu.get("ThreadsPerCore", 1))
                in_use += count
                tags = {tag.get("Key"): tag.get("Value") for tag in instance.get("Tags", [])}
                held += count if group_name and tags.get("aws:autoscaling:groupName") == group_name else 0
        if not page.get("NextToken"):
            return in_use, held
        request["NextToken"] = page["NextToken"]


# ---------------------------------------------------------------------------------------------- names
def _names(run: _Run) -> list[Check]:
    """One failed check per name held outside the state, and a summary of what was looked up."""
    failures: list[Check] = []
    calls: dict[str, int] = {}
    in_state: list[str] = []
    unresolved: list[str] = []
    for lookup in NAME_LOOKUPS:
        for logical, body in sorted(run.view.resources(lookup.rtype).items()):
            address = f"{lookup.rtype}.{logical}"
            key = tuple(run.view.resolve(body.get(attribute)) for attribute in lookup.keys)
            if None in key or run.view.count(body) != 1:
                unresolved.append(address)
                continue
            name_key = tuple(str(part) for part in key)
            outcome = _name(run, lookup, address, body, name_key)
            if outcome is None:
                calls[lookup.call] = calls.get(lookup.call, 0) + 1
            elif outcome.status == PASSED:
                in_state.append(address)
            else:
                failures.append(outcome)
    summary = ", ".join(f"{call} x{count}" for call, count in calls.items()) or "the state only"
    detail = (
        f"{sum(calls.values())} names looked up, {len(in_state)} held by this stack's state, "
        f"{len(failures)} held outside it"
    )
    if unresolved:
        return [
            *failures,
            Check(
                name="names",
                status=WARNING,
                looked_at=summary,
                detail=f"{detail}; not known before apply, so not looked up: {', '.join(unresolved)}",
                fix="nothing unless the apply fails on one of them: it is named after a value only the apply knows",
            ),
        ]
    return failures or [Check(name="names", status=PASSED, looked_at=summary, detail=detail)]


def _name(run: _Run, lookup: NameLookup, address: str, body: Mapping[str, Any], key: tuple[str, ...]) -> Check | None:
    """PASSED when the state holds the name at ``address``, a failure when it exists elsewhere, None when free."""
    shown = "/".join(key)
    for held_at, attributes in run.view.state_instances(lookup.rtype).items():
        if tuple(str(attributes.get(attribute)) for attribute in lookup.keys) == key:
            if held_at == address:
                return Check(name=f"name: {address}", status=PASSED, looked_at="state", detail=shown)
            return Check(
                name=f"name: {address}",
                status=FAILED,
                looked_at=f"state: {held_at}",
                detail=f"{shown} is held by {held_at} in the state, and the stack now creates it as {address}",
                fix=f"move it: {run.terraform(f'state mv {_quoted(held_at)} {_quoted(address)}')}",
            )
    looked_at = f"{lookup.call} {shown}"
    try:
        import_id = lookup.find(run.client(lookup.service, run.view.provider_region(body)), key, body, run.view.account)
    except HeldElsewhere as error:
        return Check(
            name=f"name: {address}",
            status=FAILED,
            looked_at=looked_at,
            detail=str(error),
            fix=f"pick another ENVIRONMENT_SUFFIX (the name cannot be imported): {UNIQUE_SUFFIX}",
        )
    except ClientError as error:
        return _api_failure(f"name: {address}", looked_at, error)
    if import_id is None:
        return None
    command = run.terraform(f"import {run.variable_arguments()} {_quoted(address)} {_quoted(import_id)}")
    detail = f"{shown} exists in the account but not in this stack's state: the apply would fail"
    otherwise = lookup.otherwise or "otherwise pick another ENVIRONMENT_SUFFIX"
    if lookup.account_wide or body.get("provider"):
        where = (
            "account-wide"
            if lookup.account_wide
            else f"created in {run.view.provider_region(body)} by every region's stack"
        )
        detail += (
            f" (the name is {where}: a stack with ENVIRONMENT_SUFFIX={run.config.environment_suffix} in another "
            "region holds it too)"
        )
        otherwise += f": {UNIQUE_SUFFIX}"
    return Check(
        name=f"name: {address}",
        status=FAILED,
        looked_at=looked_at,
        detail=detail,
        fix=f"if it is this stack's (a lost or moved state), adopt it: {command} (after `terraform init` in "
        f"that folder); {otherwise}",
    )


# ---------------------------------------------------------------------------------------------- hosted zone
def _hosted_zone(run: _Run, zone_id: str) -> Check:
    name = "hosted zone"
    looked_at = f"route53:GetHostedZone {zone_id}"
    try:
        zone = run.client("route53", "us-east-1").get_hosted_zone(Id=zone_id)["HostedZone"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchHostedZone":
            raise
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail="no such hosted zone in this account",
            fix="set HOSTED_ZONE_ID to the id of the public zone of your domain (aws route53 "
            "list-hosted-zones), or unset it and create the DNS records yourself",
        )
    zone_name = str(zone["Name"]).rstrip(".").lower()
    problems: list[str] = []
    if zone.get("Config", {}).get("PrivateZone"):
        problems.append("it is a private zone (the records must answer on the internet)")
    for setting, domain in (("API_DOMAIN", run.config.api_domain), ("FRONTEND_DOMAIN", run.config.frontend_domain)):
        if domain and not (domain.lower() == zone_name or domain.lower().endswith("." + zone_name)):
            problems.append(f"{setting}={domain} is not in {zone_name}")
    detail = f"{zone_name} ({'private' if zone.get('Config', {}).get('PrivateZone') else 'public'})"
    if problems:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{detail}: {'; '.join(problems)}",
            fix="give the public zone that holds API_DOMAIN and FRONTEND_DOMAIN, or domains inside this zone",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=detail)


# ---------------------------------------------------------------------------------------------- CloudTrail
def _cloudtrail(run: _Run) -> Check:
    name = "CloudTrail"
    region = run.view.region
    looked_at = f"cloudtrail:DescribeTrails, cloudtrail:GetTrailStatus in {region}"
    if run.sandbox:
        return Check(
            name=name,
            status=NEEDS_REAL_ACCOUNT,
            looked_at=looked_at,
            detail="the stack relies on the account's (organization's) trail; the emulator has none",
        )
    client = run.client("cloudtrail", region)
    trails = client.describe_trails(includeShadowTrails=True).get("trailList", [])
    seen: list[str] = []
    for trail in trails:
        if not (trail.get("IsMultiRegionTrail") or trail.get("HomeRegion") == region):
            continue
        arn = str(trail.get("TrailARN") or trail.get("Name"))
        try:
            logging = bool(client.get_trail_status(Name=arn).get("IsLogging"))
        except ClientError as error:
            seen.append(f"{arn} (status unreadable: {error.response.get('Error', {}).get('Code')})")
            continue
        kind = "organization trail" if trail.get("IsOrganizationTrail") else "trail"
        if logging:
            return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"{kind} {arn} is logging")
        seen.append(f"{arn} (not logging)")
    return Check(
        name=name,
        status=WARNING,
        looked_at=looked_at,
        detail="no trail is logging in " + region + (f": {', '.join(seen)}" if seen else ""),
        fix="PCI DSS 10.2 needs the account's API calls logged: ask the organization's administrators for "
        "its trail, or create a multi-Region trail with log file validation (the stack does not make "
        "one: the docs say the trail is the account's)",
    )


# ---------------------------------------------------------------------------------------------- break-glass role
def _break_glass_role(run: _Run, role_arn: str) -> Check:
    """BREAK_GLASS_ROLE_ARN names a role of the account, with the path it has (``aws:PrincipalArn`` of its sessions is
    that ARN exactly, so a wrong path would exempt nobody)."""
    name = "break-glass role"
    role_name = role_arn.rsplit("/", 1)[-1]
    looked_at = f"iam:GetRole {role_name}"
    fix = (
        "create the role (its trust policy admits the break-glass holders only, with MFA) or correct "
        f'BREAK_GLASS_ROLE_ARN in environments/{run.config.environment_suffix}.env (docs/operating.md, "Break-glass '
        "role\"); the role must exist before the archive's policy names it"
    )
    iam = run.client("iam")
    try:
        found = str(iam.get_role(RoleName=role_name)["Role"]["Arn"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"BREAK_GLASS_ROLE_ARN={role_arn}: no role {role_name} in the account",
            fix=fix,
        )
    if found != role_arn:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"BREAK_GLASS_ROLE_ARN={role_arn}, but the account's role {role_name} is {found} (another path or "
            "account): the archive's policy would exempt nobody",
            fix=fix,
        )
    return Check(
        name=name,
        status=PASSED,
        looked_at=looked_at,
        detail=f"{found} exists; only it may change the log archive's policy, lifecycle and Object Lock",
    )


# ---------------------------------------------------------------------------------------------- command line
Inputs = tuple[dict[str, Any], StackConfig, dict[str, Any], dict[str, Any] | None]


class InputError(ValueError):
    """The command line's input cannot be read: exit 2."""


def read_inputs(
    stack_dir: Path, tfvars_path: Path | None, state_path: Path | None, environ: Mapping[str, str]
) -> Inputs:
    """(stack, config, variable values, state) for the command line; :class:`InputError` names what is wrong.

    The variable values are the tfvars file's over ``TF_VAR_<name>`` from ``environ``, as Terraform reads them."""
    try:
        config = StackConfig.from_env(environ)
    except ConfigError as error:
        raise InputError(f"configuration: {error}") from error
    stack_file = stack_dir / "cdk.tf.json"
    if stack_dir.name != config.stack_name:
        raise InputError(
            f"{stack_dir} is not the folder of {config.stack_name} (ENVIRONMENT_SUFFIX="
            f"{config.environment_suffix}): give cdktf.out/stacks/{config.stack_name} or set "
            "ENVIRONMENT_SUFFIX to the stack's suffix"
        )
    stack = _read_json(stack_file, f"run the synth first (it writes {stack_file})")
    # Terraform's precedence: a -var-file value wins over TF_VAR_<name> from the environment.
    tfvars: dict[str, Any] = {
        name: environ[f"TF_VAR_{name}"] for name in stack.get("variable", {}) if f"TF_VAR_{name}" in environ
    }
    if tfvars_path is not None:
        try:
            tfvars.update(parse_tfvars(tfvars_path.read_text(encoding="utf-8"), source=str(tfvars_path)))
        except OSError as error:
            raise InputError(f"cannot read the tfvars file {tfvars_path}: {error.strerror}") from error
        except TfvarsError as error:
            raise InputError(str(error)) from error
    state = None
    if state_path is not None:
        state = _read_json(state_path, "give the output of `terraform state pull` (empty when there is no state)")
    return stack, config, tfvars, state or None


def _read_json(path: Path, fix: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}; {fix}") from error
    if not text.strip() and "state" in fix:
        return {}
    try:
        data = json.loads(text)
    except ValueError as error:
        raise InputError(f"{path} is not JSON ({error}); {fix}") from error
    if not isinstance(data, dict):
        raise InputError(f"{path} holds a JSON {type(data).__name__}, not an object; {fix}")
    return data


def boto3_clients(region_fallback: str, env: Mapping[str, str] | None = None) -> Clients:
    """Clients of the deploying identity: ``env``'s (default: this process's) ``AWS_PROFILE``, which an environment
    file may set, and ``AWS_ENDPOINT_URL``, which the sandbox sets; ``make deploy`` asks with these too."""
    import boto3  # pylint: disable=import-outside-toplevel  # only a run against an account needs it
    from botocore.config import Config  # pylint: disable=import-outside-toplevel

    env = os.environ if env is None else env
    session = boto3.session.Session(profile_name=env.get("AWS_PROFILE") or None)
    endpoint = env.get("AWS_ENDPOINT_URL") or None
    # Few retries and short timeouts: the preflight is a few dozen reads and must answer in seconds.
    settings = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=20)
    return lambda service, region: session.client(
        service, region_name=region or region_fallback, endpoint_url=endpoint, config=settings
    )


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy.account",
        description="Check the account a synthesized stack will meet: certificates, EIP and vCPU quotas, names "
        "outside the state, hosted zone, CloudTrail. Exit 1 when a check failed, 2 on bad input.",
    )
    parser.add_argument(
        "stack_dir", type=Path, help="the synthesized stack's folder (cdktf.out/stacks/TapStack<suffix>)"
    )
    parser.add_argument("--tfvars", type=Path, help="the environment's tfvars file (environments/<name>.tfvars)")
    parser.add_argument(
        "--state",
        type=Path,
        help="the JSON of `terraform state pull` (an empty file: no state); "
        "default: read from the stack's backend (the local file, or the S3 object)",
    )
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        stack, config, tfvars, state = read_inputs(args.stack_dir, args.tfvars, args.state, env)
        clients = boto3_clients(config.aws_region)
        if args.state is None:
            state = backend_state(stack, clients)
        checks = account_preflight(
            stack,
            config=config,
            tfvars=tfvars,
            state=state,
            clients=clients,
            sandbox=bool(env.get("SANDBOX_ENDPOINT_URL")),
            stack_dir=args.stack_dir,
            tfvars_file=args.tfvars,
        )
    except (InputError, StackInputError) as error:
        print(f"account preflight: {error}", file=sys.stderr)
        return 2
    print(render("account preflight", checks))
    return 1 if failed(checks) else 0


if __name__ == "__main__":
    sys.exit(main())
