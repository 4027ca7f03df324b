"""``make verify-deployment``: read-only checks of a deployed stack, from its outputs.

``make deploy`` runs it last; run it again at any time. Which resources to look at comes from
``cfn-outputs/flat-outputs.json`` (stack ``TapStack<ENVIRONMENT_SUFFIX>``, or ``--stack``); what they should be comes
from the stack's own definitions (``lib/blocks/tls_policies.py``, ``lib/blocks/web_headers.py``) and the
configuration (``StackConfig.from_env``: ``API_DOMAIN``, ``FRONTEND_DOMAIN``, ``ENVIRONMENT_TYPE``, ``ALARM_EMAIL``).
Nothing is changed: every call is a Describe, Get, List or Head, and two HTTPS GETs of the API and one of
``config.json``.

The checks, in order (each says what it looked at and, when it did not pass, what to do):

1. target health (``elbv2:DescribeTargetHealth``), waiting up to ``--wait`` seconds for the first boot;
2. ``/health`` and ``/ready`` through the ALB, sent to the ALB's DNS name with ``API_DOMAIN`` as Host and SNI;
3. ``config.json`` through CloudFront (``FRONTEND_DOMAIN`` or the distribution's domain), and in the bucket
   (bytes and Cache-Control): what the stack wrote;
4. the TLS policy and HSTS header of the ALB's HTTPS listener, the distribution's minimum viewer protocol;
5. the WAF associations (``wafv2:GetWebACLForResource`` for the ALB, the distribution's ``WebACLId``) and their
   logging configurations;
6. the flow log's ``DeliverLogsStatus``; the alarm topic's subscription (a warning while pending confirmation);
   every alarm of the stack (output ``alarm_names``) exists and notifies the alarm topic (one in ALARM: a warning);
7. the ALB's ``ELBAccessLogTestFile`` in the log archive and that log's Object Lock retention;
8. that the WAF log groups receive streams (last: the requests above are what they log).

In the sandbox (``SANDBOX_ENDPOINT_URL``) the emulator reports every target healthy, answers no HTTP for the ALB or
CloudFront and delivers no logs: those checks are "needs a real account" there, never passed.

    python -m tools.deploy.verify [--stack TapStack<suffix>] [--outputs-file F] [--wait SECONDS]
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tap_contract.identity import Output

from lib.blocks.tls_policies import (
    ALB_HSTS_ATTRIBUTE,
    ALB_HSTS_HEADER,
    ALB_TLS_POLICY,
    CLOUDFRONT_MINIMUM_PROTOCOL,
)
from lib.blocks.web_headers import RUNTIME_CONFIG_CACHE_CONTROL, RUNTIME_CONFIG_KEY, api_origin, runtime_config
from lib.config import PCI_MIN_LOG_RETENTION_DAYS, ConfigError, StackConfig
from lib.tunables import PRODUCTION
from tools.deploy import outputs as outputs_file
from tools.deploy.checks import FAILED, NEEDS_REAL_ACCOUNT, PASSED, WARNING, Check, failed, render

# The outputs the checks read; a stack applied before one of them existed is told to apply again.
REQUIRED_OUTPUTS = (
    Output.ALB_ARN,
    Output.ALB_DNS_NAME,
    Output.HTTPS_LISTENER_ARN,
    Output.TARGET_GROUP_ARN,
    Output.WAF_WEB_ACL_ARN,
    Output.WAF_LOG_GROUP_NAME,
    Output.CLOUDFRONT_WEB_ACL_ARN,
    Output.CLOUDFRONT_WAF_LOG_GROUP_NAME,
    Output.CLOUDFRONT_DISTRIBUTION_ID,
    Output.CLOUDFRONT_DOMAIN_NAME,
    Output.FRONTEND_BUCKET_NAME,
    Output.FLOW_LOG_ID,
    Output.SNS_TOPIC_ARN,
    Output.ALARM_NAMES,
)
# CloudFront, its web ACL and that ACL's log group live in us-east-1 whatever the stack's region.
EDGE_REGION = "us-east-1"
# The first boot: instance launch, the artifact's install, two health checks 15 s apart. Measured on no real
# account here; 15 minutes is generous for an AL2023 instance and `--wait` changes it.
DEFAULT_WAIT_SECONDS = 900.0
POLL_SECONDS = 15.0
# WAF delivers to CloudWatch Logs within minutes of the first request it logs.
LOG_STREAM_WAIT_SECONDS = 300.0
HTTP_TIMEOUT_SECONDS = 10.0
# DescribeAlarms' limit on AlarmNames.
ALARM_NAMES_PER_CALL = 100
# Object Lock: a delivered log's retain-until is its write time plus the archive's default retention (days).
RETENTION_TOLERANCE = datetime.timedelta(hours=1)
ELB_TEST_FILE = "ELBAccessLogTestFile"
EMULATOR_TARGETS = "the emulator reports every registered target healthy, booted or not"
EMULATOR_HTTP = "the emulator's ALB and CloudFront answer no HTTP"
EMULATOR_LOGS = "the emulator delivers no logs"


class VerifyError(RuntimeError):
    """The checks cannot start (no outputs, an output missing, a bad configuration); the message says what to do."""


@dataclass(frozen=True)
class HttpResponse:
    """What an HTTPS GET returned."""

    status: int
    headers: Mapping[str, str]
    body: bytes


HttpGet = Callable[..., HttpResponse]
"""``http_get(address=, host=, path=, verify_name=)``: GET ``https://<host><path>`` connecting to ``address``."""


class _PinnedConnection(http.client.HTTPSConnection):
    """HTTPS to ``address`` with ``host`` as SNI, certificate name and Host header (DNS may not point there yet)."""

    def __init__(self, address: str, host: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, 443, timeout=timeout, context=context)
        self._address, self._tls = address, context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def https_get(
    *, address: str, host: str, path: str, verify_name: bool = True, timeout: float = HTTP_TIMEOUT_SECONDS
) -> HttpResponse:
    """GET ``https://<host><path>`` from ``address``; the chain is always verified, the name when ``verify_name``."""
    context = ssl.create_default_context()
    context.check_hostname = verify_name
    connection = _PinnedConnection(address, host, context, timeout)
    try:
        connection.request("GET", path, headers={"Host": host, "User-Agent": "payment-platform verify-deployment"})
        response = connection.getresponse()
        return HttpResponse(status=response.status, headers=dict(response.getheaders()), body=response.read())
    finally:
        connection.close()


@dataclass
class Run:  # pylint: disable=too-many-instance-attributes
    """What every check needs: the outputs, the configuration, the clients, the clock and the wait budget."""

    outputs: Mapping[str, Any]
    config: StackConfig
    clients: Callable[[str, str], Any]
    sandbox: bool
    wait_seconds: float
    http_get: HttpGet
    progress: Callable[[str], None]
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    started: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None) -> Any:
        return self.clients(service, region or self.config.aws_region)

    def remaining(self) -> float:
        return self.started + self.wait_seconds - self.clock()

    def distribution(self) -> dict[str, Any]:
        """The distribution's configuration (one GetDistribution for the TLS and WAF checks)."""
        if "distribution" not in self.cache:
            cloudfront = self.client("cloudfront", EDGE_REGION)
            answer = cloudfront.get_distribution(Id=self.outputs[Output.CLOUDFRONT_DISTRIBUTION_ID])
            self.cache["distribution"] = answer["Distribution"]["DistributionConfig"]
        config: dict[str, Any] = self.cache["distribution"]
        return config

    @property
    def deploy(self) -> str:
        return f"make deploy ENVIRONMENT={self.config.environment_suffix}"

    @property
    def plan(self) -> str:
        return f"make plan ENVIRONMENT={self.config.environment_suffix}"


def _guarded(name: str, looked_at: str, check: Callable[[], Check]) -> Check:
    """Run one check; an API error is that check's failure, with what the error means."""
    try:
        return check()
    except ClientError as err:
        code, message = err.response["Error"].get("Code", "?"), err.response["Error"].get("Message", "")
        if "AccessDenied" in code or "Unauthorized" in code:
            fix = (
                f"the principal running the checks needs the read-only {looked_at}; the deploy guide's policy grants it"
            )
        else:
            fix = (
                "the resource the outputs name may be gone or renamed outside Terraform: `make plan "
                "ENVIRONMENT=<name>` shows what would be re-created; apply it with `make deploy`"
            )
        return Check(name=name, status=FAILED, looked_at=looked_at, detail=f"{code}: {message}", fix=fix)
    except BotoCoreError as err:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=str(err),
            fix="check the credentials and region the checks run with (AWS_PROFILE, AWS_REGION)",
        )


# ------------------------------------------------------------------------------------------------- compute
def _target_states(run: Run) -> list[tuple[str, str, str]]:
    answer = run.client("elbv2").describe_target_health(TargetGroupArn=run.outputs[Output.TARGET_GROUP_ARN])
    return [
        (
            item["Target"]["Id"],
            item["TargetHealth"]["State"],
            item["TargetHealth"].get("Reason") or item["TargetHealth"].get("Description") or "",
        )
        for item in answer["TargetHealthDescriptions"]
    ]


def _summary(states: list[tuple[str, str, str]]) -> str:
    if not states:
        return "no target registered"
    return ", ".join(
        f"{target} {state}" + (f" ({reason})" if reason and state != "healthy" else "")
        for target, state, reason in states
    )


def check_target_health(run: Run) -> Check:
    """Every registered target (draining ones aside) healthy, waiting up to the budget for the first boot."""
    name, looked_at = "target health", f"elbv2:DescribeTargetHealth {run.outputs[Output.TARGET_GROUP_ARN]}"
    if run.sandbox:
        return Check(name=name, status=NEEDS_REAL_ACCOUNT, looked_at=looked_at, detail=EMULATOR_TARGETS)
    while True:
        states = [entry for entry in _target_states(run) if entry[1] != "draining"]
        if states and all(state == "healthy" for _, state, _ in states):
            return Check(
                name=name, status=PASSED, looked_at=looked_at, detail=f"{len(states)} of {len(states)} targets healthy"
            )
        remaining = run.remaining()
        if remaining <= 0:
            break
        run.progress(
            f"  target health: {_summary(states)}; waiting for the first boot "
            f"({run.clock() - run.started:.0f} s of {run.wait_seconds:.0f} s)"
        )
        run.sleep(min(POLL_SECONDS, remaining))
    return Check(
        name=name,
        status=FAILED,
        looked_at=looked_at,
        detail=f"after {run.wait_seconds:.0f} s: {_summary(states)}",
        fix=(
            "the load balancer's health check (GET /health on the API port) does not pass, or no instance has "
            "joined: an instance stays out of the target group (Pending:Wait) until its boot completes the "
            "payment-api-boot lifecycle hook, and a boot that fails abandons its instance, which the group replaces. "
            "Read the stream <instance id>/boot of the API's log group (output api_log_group_name): its last line "
            "names the step that failed. A production instance refuses a development artifact at boot. If the first "
            "boot is only slow, run `make verify-deployment` again (VERIFY_WAIT=<seconds>)"
        ),
    )


def _api_host(run: Run) -> str:
    return run.config.api_domain or str(run.outputs[Output.ALB_DNS_NAME])


def check_api_path(run: Run, path: str) -> Check:
    """``path`` answers 200 through the ALB, under the API's name."""
    name, host, address = f"API {path} through the ALB", _api_host(run), str(run.outputs[Output.ALB_DNS_NAME])
    looked_at = f"GET https://{host}{path} (connected to {address})"
    if run.sandbox:
        return Check(name=name, status=NEEDS_REAL_ACCOUNT, looked_at=looked_at, detail=EMULATOR_HTTP)
    try:
        response = run.http_get(address=address, host=host, path=path, verify_name=run.config.api_domain is not None)
    except (OSError, http.client.HTTPException) as err:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{type(err).__name__}: {err}",
            fix=(
                "a certificate error: the ALB's certificate (tfvars certificate_arn) must be issued for API_DOMAIN"
                if isinstance(err, ssl.SSLError)
                else "the ALB did not answer on 443: its security group must admit HTTPS from the internet; "
                "`make plan` shows a drift"
            ),
        )
    if response.status != 200:
        body = response.body[:200].decode("utf-8", "replace")
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"HTTP {response.status}: {body}",
            fix=(
                "a 404 is the listener's default answer: the Host did not match API_DOMAIN's rule; a 502/503 "
                "means no healthy target (see target health); /ready's 503 names the dependency that is "
                "not ready (the database, the runtime parameter)"
            ),
        )
    if run.config.api_domain is None:
        return Check(
            name=name,
            status=WARNING,
            looked_at=looked_at,
            detail="HTTP 200, certificate name not checked",
            fix="set API_DOMAIN to the name on the ALB's certificate (production requires it); without it "
            "no client can verify the API's certificate",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail="HTTP 200")


# ------------------------------------------------------------------------------------------------ frontend
def expected_config(config: StackConfig) -> bytes:
    """The ``config.json`` the stack writes for ``config``."""
    return runtime_config(api_origin(config.api_domain), stripe_publishable_key=config.stripe_publishable_key).encode(
        "utf-8"
    )


def check_config_through_cloudfront(run: Run) -> Check:
    """``config.json`` as a browser gets it: the bytes the stack wrote."""
    host = run.config.frontend_domain or str(run.outputs[Output.CLOUDFRONT_DOMAIN_NAME])
    name, looked_at = "config.json through CloudFront", f"GET https://{host}/{RUNTIME_CONFIG_KEY}"
    if run.sandbox:
        return Check(name=name, status=NEEDS_REAL_ACCOUNT, looked_at=looked_at, detail=EMULATOR_HTTP)
    try:
        response = run.http_get(address=host, host=host, path=f"/{RUNTIME_CONFIG_KEY}", verify_name=True)
    except (OSError, http.client.HTTPException) as err:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{type(err).__name__}: {err}",
            fix="FRONTEND_DOMAIN must resolve to the distribution (DNS after apply) and its us-east-1 "
            "certificate (FRONTEND_CERTIFICATE_ARN) must be issued for it",
        )
    expected = expected_config(run.config)
    if response.status != 200 or response.body != expected:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"HTTP {response.status}, {response.body[:200]!r}; the stack wrote {expected!r}",
            fix=f"the bucket's object differs (see the next check) or CloudFront serves an old copy: "
            f"invalidate /{RUNTIME_CONFIG_KEY} (aws cloudfront create-invalidation --distribution-id "
            f"{run.outputs[Output.CLOUDFRONT_DISTRIBUTION_ID]} --paths /{RUNTIME_CONFIG_KEY})",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"HTTP 200, {len(expected)} bytes as written")


def check_config_in_bucket(run: Run) -> Check:
    """The bucket's ``config.json``: the stack's bytes and its no-cache header."""
    bucket = run.outputs[Output.FRONTEND_BUCKET_NAME]
    name, looked_at = "config.json in the bucket", f"s3:GetObject s3://{bucket}/{RUNTIME_CONFIG_KEY}"
    answer = run.client("s3").get_object(Bucket=bucket, Key=RUNTIME_CONFIG_KEY)
    body, cache = answer["Body"].read(), answer.get("CacheControl")
    expected = expected_config(run.config)
    problems = ([f"bytes {body[:200]!r}, the stack writes {expected!r}"] if body != expected else []) + (
        [f"Cache-Control {cache!r}, the stack sets {RUNTIME_CONFIG_CACHE_CONTROL!r}"]
        if cache != RUNTIME_CONFIG_CACHE_CONTROL
        else []
    )
    if problems:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail="; ".join(problems),
            fix=f"the stack owns config.json (lib/blocks/web_headers.py) and something else wrote it: "
            f"`{run.deploy}` puts it back (its plan shows the change); check that API_DOMAIN is the "
            "value the stack was applied with",
        )
    return Check(
        name=name, status=PASSED, looked_at=looked_at, detail=f"{len(body)} bytes as written, Cache-Control {cache}"
    )


# ----------------------------------------------------------------------------------------------------- TLS
def check_listener_tls(run: Run) -> Check:
    """The HTTPS listener's security policy is the stack's."""
    arn = run.outputs[Output.HTTPS_LISTENER_ARN]
    name, looked_at = "TLS policy: ALB listener", f"elbv2:DescribeListeners {arn}"
    listener = run.client("elbv2").describe_listeners(ListenerArns=[arn])["Listeners"][0]
    protocol, policy = listener.get("Protocol"), listener.get("SslPolicy")
    if protocol != "HTTPS" or policy != ALB_TLS_POLICY:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{protocol} with policy {policy}",
            fix=f"the stack sets HTTPS with {ALB_TLS_POLICY} (TLS 1.2+, AEAD suites: lib/blocks/"
            f"tls_policies.py); it was changed outside Terraform. `{run.plan}` shows it, `{run.deploy}` "
            f"restores it (or: aws elbv2 modify-listener --listener-arn {arn} "
            f"--ssl-policy {ALB_TLS_POLICY})",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"HTTPS, {policy}")


def check_listener_hsts(run: Run) -> Check:
    """The listener adds the stack's Strict-Transport-Security header to every response."""
    arn = run.outputs[Output.HTTPS_LISTENER_ARN]
    name, looked_at = "HSTS: ALB listener", f"elbv2:DescribeListenerAttributes {arn} {ALB_HSTS_ATTRIBUTE}"
    attributes = run.client("elbv2").describe_listener_attributes(ListenerArn=arn)["Attributes"]
    value = next((item.get("Value") for item in attributes if item.get("Key") == ALB_HSTS_ATTRIBUTE), None)
    if value != ALB_HSTS_HEADER:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"header value {value!r}",
            fix=f"the stack sets {ALB_HSTS_HEADER!r}; `{run.deploy}` restores it (or: aws elbv2 "
            f"modify-listener-attributes --listener-arn {arn} --attributes "
            f"'Key={ALB_HSTS_ATTRIBUTE},Value={ALB_HSTS_HEADER}')",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=value)


def check_distribution_tls(run: Run) -> Check:
    """The distribution's viewer certificate: the operator's, with TLS 1.2 minimum, when FRONTEND_DOMAIN is set."""
    distribution = run.outputs[Output.CLOUDFRONT_DISTRIBUTION_ID]
    name, looked_at = "TLS policy: CloudFront viewers", f"cloudfront:GetDistribution {distribution} ViewerCertificate"
    certificate = run.distribution().get("ViewerCertificate", {})
    minimum = certificate.get("MinimumProtocolVersion")
    default = bool(certificate.get("CloudFrontDefaultCertificate"))
    if run.config.frontend_domain is None and default:
        status = FAILED if run.config.environment_type == PRODUCTION else WARNING
        return Check(
            name=name,
            status=status,
            looked_at=looked_at,
            detail="CloudFront's default certificate, which admits TLS 1.0 (development stack)",
            fix="set FRONTEND_DOMAIN and FRONTEND_CERTIFICATE_ARN (us-east-1, issued) to pin "
            f"{CLOUDFRONT_MINIMUM_PROTOCOL}; production requires it",
        )
    if default or minimum != CLOUDFRONT_MINIMUM_PROTOCOL:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{'the default certificate' if default else certificate.get('ACMCertificateArn')}, "
            f"minimum {minimum}",
            fix=f"the stack sets FRONTEND_CERTIFICATE_ARN with {CLOUDFRONT_MINIMUM_PROTOCOL}; it was changed "
            f"outside Terraform or applied without FRONTEND_DOMAIN: `{run.deploy}` restores it",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"custom certificate, minimum {minimum}")


# ----------------------------------------------------------------------------------------------------- WAF
def check_alb_waf(run: Run) -> Check:
    """The ALB's web ACL is the stack's."""
    alb, acl = run.outputs[Output.ALB_ARN], run.outputs[Output.WAF_WEB_ACL_ARN]
    name, looked_at = "WAF: ALB association", f"wafv2:GetWebACLForResource {alb}"
    found = (run.client("wafv2").get_web_acl_for_resource(ResourceArn=alb).get("WebACL") or {}).get("ARN")
    if found != acl:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"the ALB is protected by {found}" if found else "no web ACL protects the ALB",
            fix=f"`{run.deploy}` re-creates the association (its plan shows it), or: aws wafv2 "
            f"associate-web-acl --region {run.config.aws_region} --web-acl-arn {acl} --resource-arn {alb}",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=acl)


def check_distribution_waf(run: Run) -> Check:
    """The distribution's web ACL is the stack's CLOUDFRONT-scope ACL."""
    distribution, acl = run.outputs[Output.CLOUDFRONT_DISTRIBUTION_ID], run.outputs[Output.CLOUDFRONT_WEB_ACL_ARN]
    name, looked_at = "WAF: CloudFront association", f"cloudfront:GetDistribution {distribution} WebACLId"
    found = run.distribution().get("WebACLId") or None
    if found != acl:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"the distribution is protected by {found}" if found else "no web ACL protects it",
            fix=f"`{run.deploy}` sets the distribution's web_acl_id back to {acl} (its plan shows it)",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=acl)


def _log_group_of(destination: str) -> str | None:
    return destination.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in destination else None


def check_waf_logging(run: Run, *, scope: str) -> Check:
    """The web ACL logs to the stack's log group."""
    acl, group, region = _waf(run, scope)
    name, looked_at = f"WAF logging: {scope} ACL", f"wafv2:GetLoggingConfiguration {acl}"
    try:
        config = run.client("wafv2", region).get_logging_configuration(ResourceArn=acl)["LoggingConfiguration"]
    except ClientError as err:
        if err.response["Error"].get("Code") != "WAFNonexistentItemException":
            raise
        config = {}
    groups = [_log_group_of(arn) for arn in config.get("LogDestinationConfigs", [])]
    if group not in groups:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"logs to {', '.join(map(str, groups))}" if groups else "no logging configuration",
            fix=f"the stack logs every request to {group} (PCI DSS 10.2); `{run.deploy}` restores the "
            "logging configuration (its plan shows it)",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"to log group {group}")


def _waf(run: Run, scope: str) -> tuple[str, str, str]:
    if scope == "ALB":
        return run.outputs[Output.WAF_WEB_ACL_ARN], run.outputs[Output.WAF_LOG_GROUP_NAME], run.config.aws_region
    return run.outputs[Output.CLOUDFRONT_WEB_ACL_ARN], run.outputs[Output.CLOUDFRONT_WAF_LOG_GROUP_NAME], EDGE_REGION


def check_waf_log_streams(run: Run, *, scope: str) -> Check:
    """The web ACL's log group has received a stream (waiting a few minutes for the first delivery)."""
    _, group, region = _waf(run, scope)
    name, looked_at = f"WAF log delivery: {scope} ACL", f"logs:DescribeLogStreams {group} ({region})"
    if run.sandbox:
        return Check(name=name, status=NEEDS_REAL_ACCOUNT, looked_at=looked_at, detail=EMULATOR_LOGS)
    deadline = run.clock() + max(0.0, min(LOG_STREAM_WAIT_SECONDS, run.remaining()))
    while True:
        streams = run.client("logs", region).describe_log_streams(
            logGroupName=group, orderBy="LastEventTime", descending=True, limit=1
        )["logStreams"]
        if streams:
            return Check(
                name=name, status=PASSED, looked_at=looked_at, detail=f"latest stream {streams[0]['logStreamName']}"
            )
        if run.clock() >= deadline:
            break
        run.progress(f"  WAF log delivery ({scope}): no stream in {group} yet, waiting")
        run.sleep(min(POLL_SECONDS, max(0.0, deadline - run.clock())))
    return Check(
        name=name,
        status=FAILED,
        looked_at=looked_at,
        detail="no log stream",
        fix="WAF writes a stream within minutes of the first request it sees (the checks above sent some); "
        "run `make verify-deployment` again in a few minutes. If it stays empty, the log group's KMS key "
        "policy must let logs.<region>.amazonaws.com use it (the stack's key does: `make plan` shows a "
        "drift)",
    )


# ------------------------------------------------------------------------------------------- logs, alarms
def check_flow_log(run: Run) -> Check:
    """The VPC flow log delivers (``DeliverLogsStatus``)."""
    flow_log = run.outputs[Output.FLOW_LOG_ID]
    name, looked_at = "flow log delivery status", f"ec2:DescribeFlowLogs {flow_log}"
    found = run.client("ec2").describe_flow_logs(FlowLogIds=[flow_log])["FlowLogs"]
    if not found:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail="no such flow log",
            fix=f"the VPC records no traffic (PCI DSS 10.2): `{run.deploy}` re-creates the flow log",
        )
    status, error = found[0].get("DeliverLogsStatus"), found[0].get("DeliverLogsErrorMessage")
    if status != "SUCCESS":
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{status}: {error or 'no message'}",
            fix="the flow logs role (flow-logs-write policy) must reach the log group and its KMS key; "
            f"`{run.plan}` shows whether either changed",
        )
    return Check(
        name=name,
        status=PASSED,
        looked_at=looked_at,
        detail=f"SUCCESS to {found[0].get('LogGroupName') or found[0].get('LogDestination')}",
    )


def _subscriptions(run: Run, topic: str) -> list[tuple[str, bool]]:
    """(endpoint, pending) for each subscription of ``topic``."""
    sns, found = run.client("sns"), []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        for item in page["Subscriptions"]:
            arn = item["SubscriptionArn"]
            pending = (
                arn == "PendingConfirmation"
                or sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"].get("PendingConfirmation")
                == "true"
            )
            found.append((f"{item['Protocol']}:{item['Endpoint']}", pending))
    return found


def check_alarm_subscription(run: Run) -> Check:
    """Someone receives the alarms: a confirmed subscription (a warning while pending)."""
    topic = run.outputs[Output.SNS_TOPIC_ARN]
    name, looked_at = "alarm subscription", f"sns:ListSubscriptionsByTopic {topic}"
    found = _subscriptions(run, topic)
    pending = [endpoint for endpoint, waiting in found if waiting]
    if not found:
        status = FAILED if run.config.environment_type == PRODUCTION or run.config.alarm_email else WARNING
        return Check(
            name=name,
            status=status,
            looked_at=looked_at,
            detail="no subscription: alarms notify nobody",
            fix="set ALARM_EMAIL (environments/<name>.env, or alarm_email in the tfvars) to the on-call "
            f"address and run `{run.deploy}`",
        )
    if pending:
        return Check(
            name=name,
            status=WARNING,
            looked_at=looked_at,
            detail=f"pending confirmation: {', '.join(pending)}",
            fix="the recipient must open the 'AWS Notification - Subscription Confirmation' e-mail and "
            "confirm; to send it again: aws sns subscribe --topic-arn "
            f"{topic} --protocol email --notification-endpoint <address>",
        )
    return Check(
        name=name,
        status=PASSED,
        looked_at=looked_at,
        detail=f"confirmed: {', '.join(endpoint for endpoint, _ in found)}",
    )


def _alarms(run: Run, names: list[str]) -> dict[str, dict[str, Any]]:
    """The metric alarms named ``names``, by name (DescribeAlarms takes at most 100 names a call)."""
    cloudwatch, found = run.client("cloudwatch"), {}
    for start in range(0, len(names), ALARM_NAMES_PER_CALL):
        batch = names[start : start + ALARM_NAMES_PER_CALL]
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=batch, AlarmTypes=["MetricAlarm"])
        found.update({alarm["AlarmName"]: alarm for page in pages for alarm in page["MetricAlarms"]})
    return found


def check_alarms(run: Run) -> Check:
    """Every alarm of the stack (output ``alarm_names``) exists with its actions on and notifies the alarm topic; one
    already in ALARM is a warning that names it."""
    names, topic = [str(name) for name in run.outputs[Output.ALARM_NAMES]], run.outputs[Output.SNS_TOPIC_ARN]
    name, looked_at = "alarms", f"cloudwatch:DescribeAlarms of the {len(names)} alarms of output {Output.ALARM_NAMES}"
    found = _alarms(run, names)
    missing = [alarm for alarm in names if alarm not in found]
    silent = [
        alarm
        for alarm in names
        if alarm in found
        and (not found[alarm].get("ActionsEnabled") or topic not in found[alarm].get("AlarmActions", []))
    ]
    problems = [f"missing: {', '.join(missing)}"] if missing else []
    problems += [f"actions off or not notifying {topic}: {', '.join(silent)}"] if silent else []
    if problems:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail="; ".join(problems),
            fix=f"an alarm deleted or changed outside Terraform: `{run.plan}` shows what it restores, `{run.deploy}` "
            "restores it (actions switched off: aws cloudwatch enable-alarm-actions --alarm-names <name>)",
        )
    firing = [alarm for alarm in names if found[alarm].get("StateValue") == "ALARM"]
    if firing:
        return Check(
            name=name,
            status=WARNING,
            looked_at=looked_at,
            detail=f"in ALARM: {', '.join(firing)}",
            fix="docs/operating.md has each alarm's runbook, under its name (`<project>-<name>-<suffix>`)",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"{len(names)} alarms, each notifying {topic}")


def _alb_log_location(run: Run) -> tuple[str, str]:
    """(bucket, key of the ELB test file) from the ALB's own access-log attributes."""
    if "alb_logs" not in run.cache:
        alb = run.outputs[Output.ALB_ARN]
        attributes = {
            item["Key"]: item["Value"]
            for item in run.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=alb)["Attributes"]
        }
        if attributes.get("access_logs.s3.enabled") != "true":
            raise _NoAccessLogs(attributes.get("access_logs.s3.bucket") or "")
        prefix = attributes.get("access_logs.s3.prefix", "").strip("/")
        account = alb.split(":")[4]
        key = "/".join(part for part in (prefix, "AWSLogs", account, ELB_TEST_FILE) if part)
        run.cache["alb_logs"] = (attributes["access_logs.s3.bucket"], key)
    location: tuple[str, str] = run.cache["alb_logs"]
    return location


def _attributes_call(run: Run) -> str:
    return f"elbv2:DescribeLoadBalancerAttributes {run.outputs[Output.ALB_ARN]}"


class _NoAccessLogs(Exception):
    """The ALB's access logging is off."""


def check_alb_test_file(run: Run) -> Check:
    """The ALB wrote its ``ELBAccessLogTestFile`` to the archive when access logging was switched on."""
    name = "ALB access logs: test file"
    try:
        bucket, key = _alb_log_location(run)
    except _NoAccessLogs:
        return Check(
            name=name,
            status=FAILED,
            looked_at=_attributes_call(run),
            detail="access logging is off",
            fix=f"the stack switches it on (PCI DSS 10.2): `{run.deploy}`",
        )
    looked_at = f"s3:HeadObject s3://{bucket}/{key}"
    if run.sandbox:
        return Check(name=name, status=NEEDS_REAL_ACCOUNT, looked_at=looked_at, detail=EMULATOR_LOGS)
    head = _head(run, bucket, key)
    if head is None:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail="no test file",
            fix="the ALB writes it when access logging is enabled; without it the archive's bucket policy "
            "refuses the ELB's log delivery for this region: `make plan` shows a drift of the policy",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"written {head['LastModified']:%Y-%m-%d %H:%M}")


def _head(run: Run, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = run.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response["Error"].get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head


def check_archive_lock(run: Run) -> Check:
    """A delivered log (the ALB's test file) is locked in the stack's mode for at least the PCI retention."""
    name = "log archive: Object Lock on a delivered log"
    try:
        bucket, key = _alb_log_location(run)
    except _NoAccessLogs:
        return Check(
            name=name,
            status=FAILED,
            looked_at=_attributes_call(run),
            detail="the ALB delivers no logs",
            fix=f"the stack switches access logging on: `{run.deploy}`",
        )
    looked_at = f"s3:HeadObject s3://{bucket}/{key} ObjectLockMode, ObjectLockRetainUntilDate"
    if run.sandbox:
        return Check(name=name, status=NEEDS_REAL_ACCOUNT, looked_at=looked_at, detail=EMULATOR_LOGS)
    head = _head(run, bucket, key)
    if head is None:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail="no delivered log to read",
            fix="see the ALB access logs check: the archive has received nothing yet",
        )
    mode, until, written = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate"), head["LastModified"]
    needed = datetime.timedelta(days=PCI_MIN_LOG_RETENTION_DAYS) - RETENTION_TOLERANCE
    if mode != run.config.log_lock_mode or until is None or until - written < needed:
        return Check(
            name=name,
            status=FAILED,
            looked_at=looked_at,
            detail=f"mode {mode}, retained until {until}",
            fix=f"the archive's default retention must be {run.config.log_lock_mode} for "
            f"{PCI_MIN_LOG_RETENTION_DAYS} days (PCI DSS 10.5.1): `{run.deploy}` restores the Object Lock "
            "configuration; logs written meanwhile keep the retention they were written with",
        )
    return Check(name=name, status=PASSED, looked_at=looked_at, detail=f"{mode} until {until:%Y-%m-%d}")


# ------------------------------------------------------------------------------------------------- running
def _plan(run: Run) -> list[tuple[str, str, Callable[[], Check]]]:
    """(name, the call it makes first, check) in order: the slow waits first (boot) and last (log delivery)."""
    return [
        ("target health", "elbv2:DescribeTargetHealth", lambda: check_target_health(run)),
        ("API /health through the ALB", "GET /health", lambda: check_api_path(run, "/health")),
        ("API /ready through the ALB", "GET /ready", lambda: check_api_path(run, "/ready")),
        ("config.json through CloudFront", "GET /config.json", lambda: check_config_through_cloudfront(run)),
        ("config.json in the bucket", "s3:GetObject", lambda: check_config_in_bucket(run)),
        ("TLS policy: ALB listener", "elbv2:DescribeListeners", lambda: check_listener_tls(run)),
        ("HSTS: ALB listener", "elbv2:DescribeListenerAttributes", lambda: check_listener_hsts(run)),
        ("TLS policy: CloudFront viewers", "cloudfront:GetDistribution", lambda: check_distribution_tls(run)),
        ("WAF: ALB association", "wafv2:GetWebACLForResource", lambda: check_alb_waf(run)),
        ("WAF: CloudFront association", "cloudfront:GetDistribution", lambda: check_distribution_waf(run)),
        ("WAF logging: ALB ACL", "wafv2:GetLoggingConfiguration", lambda: check_waf_logging(run, scope="ALB")),
        (
            "WAF logging: CloudFront ACL",
            "wafv2:GetLoggingConfiguration",
            lambda: check_waf_logging(run, scope="CloudFront"),
        ),
        ("flow log delivery status", "ec2:DescribeFlowLogs", lambda: check_flow_log(run)),
        ("alarm subscription", "sns:ListSubscriptionsByTopic", lambda: check_alarm_subscription(run)),
        ("alarms", "cloudwatch:DescribeAlarms", lambda: check_alarms(run)),
        ("ALB access logs: test file", "elbv2:DescribeLoadBalancerAttributes", lambda: check_alb_test_file(run)),
        ("log archive: Object Lock on a delivered log", "s3:HeadObject", lambda: check_archive_lock(run)),
        ("WAF log delivery: ALB ACL", "logs:DescribeLogStreams", lambda: check_waf_log_streams(run, scope="ALB")),
        (
            "WAF log delivery: CloudFront ACL",
            "logs:DescribeLogStreams",
            lambda: check_waf_log_streams(run, scope="CloudFront"),
        ),
    ]


def missing_outputs(outputs: Mapping[str, Any]) -> list[str]:
    """The outputs the checks need that ``outputs`` lacks (a stack applied before they existed)."""
    return [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]


def verify_deployment(
    outputs: Mapping[str, Any],
    *,
    config: StackConfig,
    clients: Callable[[str, str], Any],
    sandbox: bool,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    http_get: HttpGet = https_get,
    progress: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Check]:
    """Every check of the deployed stack whose ``outputs`` are given, in order.

    ``clients(service, region)`` returns a boto3 client; ``sandbox`` marks what the emulator cannot show as
    :data:`NEEDS_REAL_ACCOUNT`; ``wait_seconds`` bounds the waits for the first boot and the first log delivery.
    Raises :class:`VerifyError` when an output the checks need is missing.
    """
    missing = missing_outputs(outputs)
    if missing:
        raise VerifyError(
            f"the outputs of {config.stack_name} lack {', '.join(missing)}: the stack was applied "
            f"before they existed. Run `make deploy ENVIRONMENT={config.environment_suffix}` (the plan "
            "adds outputs only) and verify again."
        )
    run = Run(
        outputs=outputs,
        config=config,
        clients=clients,
        sandbox=sandbox,
        wait_seconds=wait_seconds,
        http_get=http_get,
        progress=progress,
        sleep=sleep,
        clock=clock,
    )
    run.started = clock()
    return [_guarded(name, looked_at, check) for name, looked_at, check in _plan(run)]


def _client_factory(config: StackConfig) -> Callable[[str, str], Any]:
    """Cached boto3 clients: the emulator's (test keys) in the sandbox, else the usual credential chain."""
    import boto3  # pylint: disable=import-outside-toplevel  # only the CLI needs a session

    from tools.sandbox.emulator import client as emulator_client  # pylint: disable=import-outside-toplevel

    cache: dict[tuple[str, str], Any] = {}

    def factory(service: str, region: str) -> Any:
        if (service, region) not in cache:
            endpoint = config.sandbox_endpoint
            cache[service, region] = (
                emulator_client(service, endpoint, region) if endpoint else boto3.client(service, region_name=region)
            )
        return cache[service, region]

    return factory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="the outputs key (default TapStack<ENVIRONMENT_SUFFIX>)")
    parser.add_argument(
        "--outputs-file", type=Path, default=Path(os.environ.get("SANDBOX_OUTPUTS_FILE") or outputs_file.OUTPUTS_FILE)
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        help=f"seconds to wait for the first boot and log delivery (default "
        f"{DEFAULT_WAIT_SECONDS:.0f}; make verify-deployment VERIFY_WAIT=<seconds>)",
    )
    args = parser.parse_args(argv)
    if args.wait < 0:
        parser.error(f"--wait {args.wait}: give 0 or more seconds")
    try:
        config = StackConfig.from_env()
        stack = args.stack or config.stack_name
        outputs = outputs_file.stack_outputs(stack, args.outputs_file)
        where = f"sandbox {config.sandbox_endpoint}" if config.sandbox else config.aws_region
        print(f"[verify-deployment] {stack} ({where}), waiting up to {args.wait:.0f} s for the first boot", flush=True)
        checks = verify_deployment(
            outputs,
            config=config,
            clients=_client_factory(config),
            sandbox=config.sandbox,
            wait_seconds=args.wait,
            progress=lambda line: print(line, flush=True),
        )
    except (ConfigError, outputs_file.OutputsError, VerifyError) as err:
        print(f"[verify-deployment] {err}", file=sys.stderr)
        return 2
    print(render("verify-deployment", checks), flush=True)
    return 1 if failed(checks) else 0


if __name__ == "__main__":
    sys.exit(main())
