"""``make verify-deployment``'s checks against our moto server: each built from just the resources it reads.

The module's fixture creates, with boto3, what the checks look at (an ALB with an HTTPS listener on a sandbox
certificate, two web ACLs with associations and logging, a topic with a confirmed subscription, a flow log, the
frontend bucket's ``config.json``, the distribution) and the outputs that name them. Each test then breaks one thing
through the API, sees its check fail (or warn) with the fix, and puts it back.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lib.blocks.tls_policies import ALB_HSTS_ATTRIBUTE, ALB_HSTS_HEADER, ALB_TLS_POLICY
from lib.blocks.web_headers import RUNTIME_CONFIG_CACHE_CONTROL, RUNTIME_CONFIG_KEY
from lib.config import StackConfig
from tools.deploy.checks import FAILED, NEEDS_REAL_ACCOUNT, PASSED, WARNING, Check
from tools.deploy.verify import (
    ELB_TEST_FILE,
    HttpResponse,
    VerifyError,
    expected_config,
    verify_deployment,
)
from tools.sandbox.certificate import SANDBOX_DOMAIN, import_sandbox_certificate
from tools.sandbox.emulator import MOTO_ACCOUNT_ID, client

REGION = "us-east-1"
LOG_BUCKET = "verify-log-archive"
# What the emulator cannot show: never passed in the sandbox.
EMULATOR_BLIND = {
    "target health",
    "API /health through the ALB",
    "API /ready through the ALB",
    "config.json through CloudFront",
    "ALB access logs: test file",
    "log archive: Object Lock on a delivered log",
    "WAF log delivery: ALB ACL",
    "WAF log delivery: CloudFront ACL",
}
# Two alarms of two components (output alarm_names).
ALARMS = ("payment-api-cpu-high-verify", "payment-log-archive-delivery-failing-verify")
VISIBILITY = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "verify"}


def _web_acl(endpoint: str, name: str, scope: str, log_group: str) -> str:
    wafv2, logs = client("wafv2", endpoint, REGION), client("logs", endpoint, REGION)
    acl = wafv2.create_web_acl(
        Name=name, Scope=scope, DefaultAction={"Allow": {}}, Rules=[], VisibilityConfig=VISIBILITY
    )["Summary"]["ARN"]
    logs.create_log_group(logGroupName=log_group)
    group_arn = logs.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"][0]["arn"].removesuffix(":*")
    wafv2.put_logging_configuration(LoggingConfiguration={"ResourceArn": acl, "LogDestinationConfigs": [group_arn]})
    return str(acl)


def _load_balancer(endpoint: str) -> dict[str, str]:
    ec2, elbv2 = client("ec2", endpoint, REGION), client("elbv2", endpoint, REGION)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{index}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for index, zone in enumerate("ab")
    ]
    alb = elbv2.create_load_balancer(Name="verify-alb", Subnets=subnets)["LoadBalancers"][0]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": LOG_BUCKET},
            {"Key": "access_logs.s3.prefix", "Value": "alb"},
        ],
    )
    group = elbv2.create_target_group(Name="verify-tg", Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][0]
    certificate = import_sandbox_certificate(client("acm", endpoint, REGION))
    listener = elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        SslPolicy=ALB_TLS_POLICY,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )["Listeners"][0]
    elbv2.modify_listener_attributes(
        ListenerArn=listener["ListenerArn"], Attributes=[{"Key": ALB_HSTS_ATTRIBUTE, "Value": ALB_HSTS_HEADER}]
    )
    flow_group = "/aws/vpc/flow-logs/verify"
    logs = client("logs", endpoint, REGION)
    logs.create_log_group(logGroupName=flow_group)
    flow_log = ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogDestination=f"arn:aws:logs:{REGION}:{MOTO_ACCOUNT_ID}:log-group:{flow_group}",
        DeliverLogsPermissionArn=f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/verify-flow-logs",
    )["FlowLogIds"][0]
    return {
        "vpc_id": vpc,
        "alb_arn": alb["LoadBalancerArn"],
        "alb_dns_name": alb["DNSName"],
        "https_listener_arn": listener["ListenerArn"],
        "target_group_arn": group["TargetGroupArn"],
        "flow_log_id": flow_log,
        "flow_log_group_name": flow_group,
    }


def _distribution(endpoint: str, web_acl: str) -> dict[str, str]:
    config = {
        "CallerReference": "verify",
        "Comment": "",
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3",
                    "DomainName": "verify-web.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "s3",
            "ViewerProtocolPolicy": "https-only",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
        "WebACLId": web_acl,
    }
    created = client("cloudfront", endpoint, REGION).create_distribution(DistributionConfig=config)["Distribution"]
    return {"cloudfront_distribution_id": created["Id"], "cloudfront_domain_name": created["DomainName"]}


@pytest.fixture(scope="module")
def config(moto_endpoint: str) -> StackConfig:
    return StackConfig(environment_suffix="verify", sandbox_endpoint=moto_endpoint, api_domain=SANDBOX_DOMAIN)


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str, config: StackConfig) -> dict[str, Any]:
    """The resources the checks read, and the outputs naming them."""
    endpoint = moto_endpoint
    outputs = _load_balancer(endpoint)
    api_acl = _web_acl(endpoint, "verify-api", "REGIONAL", "aws-waf-logs-verify-api")
    client("wafv2", endpoint, REGION).associate_web_acl(WebACLArn=api_acl, ResourceArn=outputs["alb_arn"])
    cdn_acl = _web_acl(endpoint, "verify-cdn", "CLOUDFRONT", "aws-waf-logs-verify-cdn")
    s3 = client("s3", endpoint, REGION)
    for bucket in ("verify-web", LOG_BUCKET):
        s3.create_bucket(Bucket=bucket, **({"ObjectLockEnabledForBucket": True} if bucket == LOG_BUCKET else {}))
    s3.put_object(
        Bucket="verify-web",
        Key=RUNTIME_CONFIG_KEY,
        Body=expected_config(config),
        ContentType="application/json",
        CacheControl=RUNTIME_CONFIG_CACHE_CONTROL,
    )
    sns = client("sns", endpoint, REGION)
    topic = sns.create_topic(Name="verify-alarms")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT_ID}:verify-oncall")
    for alarm in ALARMS:
        _put_alarm(endpoint, alarm, topic)
    return {
        **outputs,
        **_distribution(endpoint, cdn_acl),
        "waf_web_acl_arn": api_acl,
        "cloudfront_web_acl_arn": cdn_acl,
        "waf_log_group_name": "aws-waf-logs-verify-api",
        "cloudfront_waf_log_group_name": "aws-waf-logs-verify-cdn",
        "frontend_bucket_name": "verify-web",
        "log_bucket_name": LOG_BUCKET,
        "sns_topic_arn": topic,
        "alarm_names": list(ALARMS),
    }


def _put_alarm(endpoint: str, name: str, topic: str) -> None:
    """An alarm as the stack's metric_alarm writes one: notifying ``topic`` when it fires and when it clears."""
    client("cloudwatch", endpoint, REGION).put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=2,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic],
        OKActions=[topic],
    )


@pytest.fixture(scope="module")
def verify(moto_endpoint: str, deployed: dict[str, Any], config: StackConfig) -> Callable[..., dict[str, Check]]:
    """Run the checks in sandbox mode (or as on a real account), keyed by name."""

    def run(*, outputs: dict[str, Any] | None = None, sandbox: bool = True, **options: Any) -> dict[str, Check]:
        checks = verify_deployment(
            outputs or deployed,
            config=options.pop("config", config),
            clients=lambda service, region: client(service, moto_endpoint, region),
            sandbox=sandbox,
            wait_seconds=options.pop("wait_seconds", 0.0),
            progress=lambda line: None,
            sleep=lambda seconds: None,
            **options,
        )
        return {check.name: check for check in checks}

    return run


def test_a_healthy_stack_passes_what_the_emulator_can_show(verify: Callable[..., dict[str, Check]]) -> None:
    checks = verify()
    assert {name for name, check in checks.items() if check.status == NEEDS_REAL_ACCOUNT} == EMULATOR_BLIND
    assert checks["TLS policy: CloudFront viewers"].status == WARNING  # the default certificate: development only
    assert "FRONTEND_DOMAIN" in checks["TLS policy: CloudFront viewers"].fix
    passed = {name for name, check in checks.items() if check.status == PASSED}
    assert passed == set(checks) - EMULATOR_BLIND - {"TLS policy: CloudFront viewers"}, checks
    assert checks["TLS policy: ALB listener"].detail == f"HTTPS, {ALB_TLS_POLICY}"
    assert "elbv2:DescribeListeners" in checks["TLS policy: ALB listener"].looked_at


def test_a_web_acl_taken_off_the_alb_fails_with_the_command_that_puts_it_back(
    moto_endpoint: str, deployed: dict[str, str], verify: Callable[..., dict[str, Check]]
) -> None:
    wafv2 = client("wafv2", moto_endpoint, REGION)
    wafv2.disassociate_web_acl(ResourceArn=deployed["alb_arn"])
    try:
        check = verify()["WAF: ALB association"]
    finally:
        wafv2.associate_web_acl(WebACLArn=deployed["waf_web_acl_arn"], ResourceArn=deployed["alb_arn"])
    assert (check.status, check.detail) == (FAILED, "no web ACL protects the ALB")
    assert f"associate-web-acl --region {REGION} --web-acl-arn {deployed['waf_web_acl_arn']}" in check.fix
    assert verify()["WAF: ALB association"].status == PASSED


def test_a_weak_tls_policy_and_a_missing_hsts_header_fail(
    moto_endpoint: str, deployed: dict[str, str], verify: Callable[..., dict[str, Check]]
) -> None:
    elbv2, listener = client("elbv2", moto_endpoint, REGION), deployed["https_listener_arn"]
    elbv2.modify_listener(ListenerArn=listener, SslPolicy="ELBSecurityPolicy-2016-08")
    elbv2.modify_listener_attributes(ListenerArn=listener, Attributes=[{"Key": ALB_HSTS_ATTRIBUTE, "Value": ""}])
    try:
        checks = verify()
    finally:
        elbv2.modify_listener(ListenerArn=listener, SslPolicy=ALB_TLS_POLICY)
        elbv2.modify_listener_attributes(
            ListenerArn=listener, Attributes=[{"Key": ALB_HSTS_ATTRIBUTE, "Value": ALB_HSTS_HEADER}]
        )
    tls, hsts = checks["TLS policy: ALB listener"], checks["HSTS: ALB listener"]
    assert (tls.status, tls.detail) == (FAILED, "HTTPS with policy ELBSecurityPolicy-2016-08")
    assert f"--ssl-policy {ALB_TLS_POLICY}" in tls.fix and "make deploy ENVIRONMENT=verify" in tls.fix
    assert hsts.status == FAILED and ALB_HSTS_HEADER in hsts.fix


def test_a_pending_email_subscription_is_a_warning(
    moto_endpoint: str, deployed: dict[str, str], verify: Callable[..., dict[str, Check]]
) -> None:
    sns = client("sns", moto_endpoint, REGION)
    email = sns.subscribe(
        TopicArn=deployed["sns_topic_arn"], Protocol="email", Endpoint="oncall@example.com", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    try:
        check = verify()["alarm subscription"]
    finally:
        sns.unsubscribe(SubscriptionArn=email)
    assert (check.status, check.detail) == (WARNING, "pending confirmation: email:oncall@example.com")
    assert "Subscription Confirmation" in check.fix


def test_a_topic_without_subscription(
    moto_endpoint: str, deployed: dict[str, str], config: StackConfig, verify: Callable[..., dict[str, Check]]
) -> None:
    topic = client("sns", moto_endpoint, REGION).create_topic(Name="verify-nobody")["TopicArn"]
    outputs = {**deployed, "sns_topic_arn": topic}
    assert verify(outputs=outputs)["alarm subscription"].status == WARNING  # development, no ALARM_EMAIL
    with_email = StackConfig(
        environment_suffix="verify",
        sandbox_endpoint=config.sandbox_endpoint,
        api_domain=SANDBOX_DOMAIN,
        alarm_email="oncall@example.com",
    )
    check = verify(outputs=outputs, config=with_email)["alarm subscription"]
    assert check.status == FAILED and "ALARM_EMAIL" in check.fix


def test_an_alarm_deleted_or_silenced_outside_terraform_fails_naming_it(
    moto_endpoint: str, deployed: dict[str, Any], verify: Callable[..., dict[str, Check]]
) -> None:
    cloudwatch, (kept, deleted) = client("cloudwatch", moto_endpoint, REGION), ALARMS
    cloudwatch.delete_alarms(AlarmNames=[deleted])
    try:
        check = verify()["alarms"]
    finally:
        _put_alarm(moto_endpoint, deleted, deployed["sns_topic_arn"])
    assert (check.status, check.detail) == (FAILED, f"missing: {deleted}")
    assert "make plan ENVIRONMENT=verify" in check.fix
    _put_alarm(moto_endpoint, kept, "arn:aws:sns:us-east-1:123456789012:elsewhere")
    try:
        check = verify()["alarms"]
    finally:
        _put_alarm(moto_endpoint, kept, deployed["sns_topic_arn"])
    assert (check.status, check.detail) == (FAILED, f"actions off or not notifying {deployed['sns_topic_arn']}: {kept}")
    cloudwatch.disable_alarm_actions(AlarmNames=[deleted])
    try:
        check = verify()["alarms"]
    finally:
        cloudwatch.enable_alarm_actions(AlarmNames=[deleted])
    assert (check.status, check.detail) == (
        FAILED,
        f"actions off or not notifying {deployed['sns_topic_arn']}: {deleted}",
    )
    assert "enable-alarm-actions" in check.fix


def test_an_alarm_already_firing_is_a_warning_naming_its_runbook(
    moto_endpoint: str, verify: Callable[..., dict[str, Check]]
) -> None:
    cloudwatch, firing = client("cloudwatch", moto_endpoint, REGION), ALARMS[0]
    cloudwatch.set_alarm_state(AlarmName=firing, StateValue="ALARM", StateReason="verify-deployment test")
    try:
        check = verify()["alarms"]
    finally:
        cloudwatch.set_alarm_state(AlarmName=firing, StateValue="INSUFFICIENT_DATA", StateReason="put back")
    assert (check.status, check.detail) == (WARNING, f"in ALARM: {firing}")
    assert "docs/operating.md" in check.fix


def test_waf_logging_removed_and_a_foreign_cloudfront_acl_fail(
    moto_endpoint: str, deployed: dict[str, str], verify: Callable[..., dict[str, Check]]
) -> None:
    wafv2 = client("wafv2", moto_endpoint, REGION)
    saved = wafv2.get_logging_configuration(ResourceArn=deployed["waf_web_acl_arn"])["LoggingConfiguration"]
    wafv2.delete_logging_configuration(ResourceArn=deployed["waf_web_acl_arn"])
    try:
        checks = verify(outputs={**deployed, "cloudfront_web_acl_arn": deployed["waf_web_acl_arn"]})
    finally:
        wafv2.put_logging_configuration(LoggingConfiguration=saved)
    assert (checks["WAF logging: ALB ACL"].status, checks["WAF logging: ALB ACL"].detail) == (
        FAILED,
        "no logging configuration",
    )
    assert "aws-waf-logs-verify-api" in checks["WAF logging: ALB ACL"].fix
    assert checks["WAF: CloudFront association"].status == FAILED
    assert deployed["cloudfront_web_acl_arn"] in checks["WAF: CloudFront association"].detail
    assert verify()["WAF logging: ALB ACL"].status == PASSED


def test_config_json_rewritten_outside_the_stack_fails(
    moto_endpoint: str, config: StackConfig, verify: Callable[..., dict[str, Check]]
) -> None:
    s3 = client("s3", moto_endpoint, REGION)
    s3.put_object(
        Bucket="verify-web",
        Key=RUNTIME_CONFIG_KEY,
        Body=b'{"apiBaseUrl": "https://evil.example"}\n',
        CacheControl="max-age=86400",
    )
    try:
        check = verify()["config.json in the bucket"]
    finally:
        s3.put_object(
            Bucket="verify-web",
            Key=RUNTIME_CONFIG_KEY,
            Body=expected_config(config),
            ContentType="application/json",
            CacheControl=RUNTIME_CONFIG_CACHE_CONTROL,
        )
    assert check.status == FAILED and "evil.example" in check.detail and "'max-age=86400'" in check.detail
    assert "make deploy ENVIRONMENT=verify" in check.fix


def test_a_flow_log_that_cannot_deliver_fails(
    moto_endpoint: str, deployed: dict[str, str], verify: Callable[..., dict[str, Check]]
) -> None:
    broken = client("ec2", moto_endpoint, REGION).create_flow_logs(
        ResourceIds=[deployed["vpc_id"]],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogDestinationType="cloud-watch-logs",
        LogGroupName="/nowhere",
        DeliverLogsPermissionArn=f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/verify-flow-logs",
    )["FlowLogIds"][0]
    check = verify(outputs={**deployed, "flow_log_id": broken})["flow log delivery status"]
    assert check.status == FAILED and check.detail.startswith("FAILED")
    assert "flow-logs-write" in check.fix


def test_an_output_the_checks_need_is_missing(
    deployed: dict[str, str], verify: Callable[..., dict[str, Check]]
) -> None:
    with pytest.raises(VerifyError, match=r"lack flow_log_id: .* Run `make deploy ENVIRONMENT=verify`"):
        verify(outputs={key: value for key, value in deployed.items() if key != "flow_log_id"})


# ------------------------------------------------------------------ the same checks as on a real account
def _answers(config: StackConfig, status: int = 200) -> Callable[..., HttpResponse]:
    def http_get(*, address: str, host: str, path: str, verify_name: bool) -> HttpResponse:
        del address, host, verify_name
        body = expected_config(config) if path == f"/{RUNTIME_CONFIG_KEY}" else b'{"status": "ok"}'
        return HttpResponse(status=status, headers={}, body=body)

    return http_get


@pytest.fixture()
def delivered(moto_endpoint: str, deployed: dict[str, str]) -> Iterator[None]:
    """What a real account shows after a while: a registered target, log streams, the locked ELB test file."""
    elbv2, logs = client("elbv2", moto_endpoint, REGION), client("logs", moto_endpoint, REGION)
    instance = client("ec2", moto_endpoint, REGION).run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)[
        "Instances"
    ][0]["InstanceId"]
    elbv2.register_targets(TargetGroupArn=deployed["target_group_arn"], Targets=[{"Id": instance}])
    for group in (deployed["waf_log_group_name"], deployed["cloudfront_waf_log_group_name"]):
        logs.create_log_stream(logGroupName=group, logStreamName="delivered")
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=366)
    s3, key = client("s3", moto_endpoint, REGION), f"alb/AWSLogs/{MOTO_ACCOUNT_ID}/{ELB_TEST_FILE}"
    version = s3.put_object(
        Bucket=LOG_BUCKET,
        Key=key,
        Body=b"Enable AccessLog for ELB",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    yield
    s3.delete_object(Bucket=LOG_BUCKET, Key=key, VersionId=version, BypassGovernanceRetention=True)
    elbv2.deregister_targets(TargetGroupArn=deployed["target_group_arn"], Targets=[{"Id": instance}])
    for group in (deployed["waf_log_group_name"], deployed["cloudfront_waf_log_group_name"]):
        logs.delete_log_stream(logGroupName=group, logStreamName="delivered")


def test_on_a_real_account_nothing_is_left_to_the_emulator(
    delivered: None, config: StackConfig, verify: Callable[..., dict[str, Check]]
) -> None:
    del delivered
    checks = verify(sandbox=False, http_get=_answers(config))
    assert not [check for check in checks.values() if check.status == NEEDS_REAL_ACCOUNT]
    assert {name for name, check in checks.items() if check.status != PASSED} == {"TLS policy: CloudFront viewers"}
    assert checks["log archive: Object Lock on a delivered log"].detail.startswith("GOVERNANCE until ")
    assert checks["target health"].detail == "1 of 1 targets healthy"


def test_on_a_real_account_missing_deliveries_fail(
    config: StackConfig, verify: Callable[..., dict[str, Check]]
) -> None:
    checks = verify(sandbox=False, http_get=_answers(config, status=503))
    assert {name for name, check in checks.items() if check.status == FAILED} == EMULATOR_BLIND
    assert "no target registered" in checks["target health"].detail
    assert checks["ALB access logs: test file"].detail == "no test file"
    assert "503" in checks["API /ready through the ALB"].detail


def test_a_log_locked_for_less_than_a_year_fails(
    moto_endpoint: str, config: StackConfig, verify: Callable[..., dict[str, Check]]
) -> None:
    s3, key = client("s3", moto_endpoint, REGION), f"alb/AWSLogs/{MOTO_ACCOUNT_ID}/{ELB_TEST_FILE}"
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
    version = s3.put_object(
        Bucket=LOG_BUCKET,
        Key=key,
        Body=b"Enable AccessLog for ELB",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    try:
        checks = verify(sandbox=False, http_get=_answers(config))
    finally:
        s3.delete_object(Bucket=LOG_BUCKET, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert checks["ALB access logs: test file"].status == PASSED
    lock = checks["log archive: Object Lock on a delivered log"]
    assert lock.status == FAILED and lock.detail.startswith("mode GOVERNANCE, retained until ")
    assert "GOVERNANCE for 365 days (PCI DSS 10.5.1)" in lock.fix
