"""ALB (HTTPS only, modern TLS, WAF), target group, launch template and Auto Scaling Group."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from tap_contract import routes

from lib.config import StackConfig
from preflight.rules_security import ACTIONS_WITHOUT_RESOURCE_TYPES

MANAGED_RULE_GROUPS = {
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
}


def _alb(aws: Callable[[str], Any], output: Callable[[str], Any]) -> dict[str, Any]:
    return dict(aws("elbv2").describe_load_balancers(LoadBalancerArns=[output("alb_arn")])["LoadBalancers"][0])


def _launch_template_data(aws: Callable[[str], Any], output: Callable[[str], Any]) -> dict[str, Any]:
    versions = aws("ec2").describe_launch_template_versions(
        LaunchTemplateId=output("launch_template_id"), Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    return dict(versions[0]["LaunchTemplateData"])


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_alb_is_internet_facing_in_public_subnets(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    alb = _alb(aws, output)
    assert alb["Type"] == "application"
    assert alb["Scheme"] == "internet-facing"
    assert alb["DNSName"] == output("alb_dns_name")
    assert {az["SubnetId"] for az in alb["AvailabilityZones"]} == set(output("public_subnet_ids"))
    assert alb["SecurityGroups"] == [output("alb_security_group_id")]


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_alb_drops_invalid_headers_and_logs_access(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    attributes = {
        a["Key"]: a["Value"]
        for a in aws("elbv2").describe_load_balancer_attributes(LoadBalancerArn=output("alb_arn"))["Attributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == output("log_bucket_name")


@pytest.mark.pci("4.2")
def test_only_listener_is_https_443_with_certificate_and_modern_tls(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    listeners = aws("elbv2").describe_listeners(LoadBalancerArn=output("alb_arn"))["Listeners"]
    assert len(listeners) == 1, "no plain-HTTP listener: HTTPS 443 only"
    listener = listeners[0]
    assert listener["ListenerArn"] == output("https_listener_arn")
    assert (listener["Port"], listener["Protocol"]) == (443, "HTTPS")
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", listener["SslPolicy"]
    certificate_arn = listener["Certificates"][0]["CertificateArn"]
    if os.environ.get("SANDBOX_CERTIFICATE_ARN"):
        assert certificate_arn == os.environ["SANDBOX_CERTIFICATE_ARN"]
    assert aws("acm").describe_certificate(CertificateArn=certificate_arn)["Certificate"]["CertificateArn"]
    # The sandbox names the API (API_DOMAIN, its certificate's name), as production must: any other Host gets 404.
    assert [(a["Type"], a.get("FixedResponseConfig", {}).get("StatusCode")) for a in listener["DefaultActions"]] == [
        ("fixed-response", "404")
    ]


@pytest.mark.pci("4.2")
def test_listener_forwards_only_the_api_host_and_sends_hsts(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    elbv2, listener_arn = aws("elbv2"), output("https_listener_arn")
    rules = [r for r in elbv2.describe_rules(ListenerArn=listener_arn)["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1
    (rule,) = rules
    hosts = [
        v
        for c in rule["Conditions"]
        if c["Field"] == "host-header"
        for v in c.get("HostHeaderConfig", {}).get("Values", c.get("Values", []))
    ]
    assert hosts == [expected.api_domain]
    assert [(a["Type"], a["TargetGroupArn"]) for a in rule["Actions"]] == [("forward", output("target_group_arn"))]
    attributes = {
        a["Key"]: a["Value"] for a in elbv2.describe_listener_attributes(ListenerArn=listener_arn)["Attributes"]
    }
    assert (
        attributes["routing.http.response.strict_transport_security.header_value"]
        == "max-age=31536000; includeSubDomains"
    )


@pytest.mark.pci("4.2")
def test_listener_tls_policy_offers_tls_12_or_later_and_no_cbc_suite(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    """The policy the listener uses, as DescribeSSLPolicies reports it: AEAD suites (GCM, ChaCha20) only."""
    listener = aws("elbv2").describe_listeners(LoadBalancerArn=output("alb_arn"))["Listeners"][0]
    policy = aws("elbv2").describe_ssl_policies(Names=[listener["SslPolicy"]])["SslPolicies"][0]
    assert set(policy["SslProtocols"]) <= {"TLSv1.2", "TLSv1.3"}, policy["SslProtocols"]
    ciphers = [c["Name"] for c in policy["Ciphers"]]
    assert ciphers and all("GCM" in c or "CHACHA20" in c for c in ciphers), ciphers


def test_target_group_health_check(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    group = aws("elbv2").describe_target_groups(TargetGroupArns=[output("target_group_arn")])["TargetGroups"][0]
    assert (group["Port"], group["Protocol"], group["TargetType"]) == (expected.api_port, "HTTP", "instance")
    assert group["HealthCheckEnabled"] is True
    assert group["HealthCheckPath"] == "/health"
    assert group["Matcher"]["HttpCode"] == "200"
    assert group["LoadBalancerArns"] == [output("alb_arn")]
    attributes = {
        a["Key"]: a["Value"]
        for a in aws("elbv2").describe_target_group_attributes(TargetGroupArn=output("target_group_arn"))["Attributes"]
    }
    assert attributes["deregistration_delay.timeout_seconds"] == "30"


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_acl_has_managed_rule_groups_and_rate_limit(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    arn = output("waf_web_acl_arn")
    name, acl_id = arn.split("/")[-2:]
    acl = aws("wafv2").get_web_acl(Name=name, Scope="REGIONAL", Id=acl_id)["WebACL"]
    assert "Allow" in acl["DefaultAction"]
    groups = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert groups >= MANAGED_RULE_GROUPS
    assert all(
        r["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    )
    overrides = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: [
            o["Name"]
            for o in r["Statement"]["ManagedRuleGroupStatement"].get("RuleActionOverrides", [])
            if "Count" in o["ActionToUse"]
        ]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert overrides["AWSManagedRulesCommonRuleSet"] == ["NoUserAgent_HEADER", "SizeRestrictions_BODY"]
    assert overrides["AWSManagedRulesAnonymousIpList"] == ["HostingProviderIPList"]
    # The 8 KB body rule counts only so that BodyOver8KB, after the group, blocks what it labelled; with the Stripe
    # processor (the sandbox's stack runs it) except on exactly Stripe's webhook path, whose events may be larger.
    (body_rule,) = [r for r in acl["Rules"] if r["Name"] == "BodyOver8KB"]
    assert "Block" in body_rule["Action"]
    labelled = {
        "LabelMatchStatement": {"Scope": "LABEL", "Key": "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"}
    }
    if expected.payment_processor != "stripe":
        assert body_rule["Statement"] == labelled
    else:
        first, second = body_rule["Statement"]["AndStatement"]["Statements"]
        exempt = second["NotStatement"]["Statement"]["ByteMatchStatement"]
        assert first == labelled
        assert (exempt["FieldToMatch"], exempt["PositionalConstraint"]) == ({"UriPath": {}}, "EXACTLY")
        assert exempt["SearchString"] in (routes.STRIPE_WEBHOOK, routes.STRIPE_WEBHOOK.encode())
    rate_rules = {r["Name"]: r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]}
    # The ACL-wide limit, and the CSP report collector's own (scoped down to its path).
    assert set(rate_rules) == {"RateLimitPerIp", "RateLimitV1CspReports"}
    assert all("Block" in r["Action"] for r in rate_rules.values())
    assert all(r["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP" for r in rate_rules.values())
    reports = rate_rules["RateLimitV1CspReports"]["Statement"]["RateBasedStatement"]
    assert reports["ScopeDownStatement"]["ByteMatchStatement"]["PositionalConstraint"] == "EXACTLY"
    assert "ScopeDownStatement" not in rate_rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]
    assert len({r["Priority"] for r in acl["Rules"]}) == len(acl["Rules"]), "rule priorities must be unique"
    for config in [acl["VisibilityConfig"], *(r["VisibilityConfig"] for r in acl["Rules"])]:
        assert config["CloudWatchMetricsEnabled"] is True


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_is_associated_with_the_alb(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    acl = aws("wafv2").get_web_acl_for_resource(ResourceArn=output("alb_arn"))["WebACL"]
    assert acl["ARN"] == output("waf_web_acl_arn")


@pytest.mark.pci("6.4.1, 6.4.2", "10.2, 10.3, 10.5")
def test_waf_logs_to_its_log_group(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    config = aws("wafv2").get_logging_configuration(ResourceArn=output("waf_web_acl_arn"))["LoggingConfiguration"]
    destination = config["LogDestinationConfigs"][0]
    assert destination.split(":log-group:")[1].removesuffix(":*") == output("waf_log_group_name")
    assert output("waf_log_group_name").startswith("aws-waf-logs-"), "WAF only delivers to aws-waf-logs-* groups"
    redacted = {f["SingleHeader"]["Name"].lower() for f in config.get("RedactedFields", []) if "SingleHeader" in f}
    assert {"authorization", "cookie", "idempotency-key"} <= redacted
    group = aws("logs").describe_log_groups(logGroupNamePrefix=output("waf_log_group_name"))["logGroups"][0]
    assert group["retentionInDays"] == expected.log_retention_days


def test_auto_scaling_group_sizes_and_placement(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    group = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[output("asg_name")])[
        "AutoScalingGroups"
    ][0]
    sizes = (group["MinSize"], group["MaxSize"], group["DesiredCapacity"])
    assert sizes == (expected.asg_min_size, expected.asg_max_size, expected.asg_desired_capacity) == (2, 6, 2)
    assert set(group["VPCZoneIdentifier"].split(",")) == set(output("app_subnet_ids"))
    assert group["TargetGroupARNs"] == [output("target_group_arn")]
    assert group["HealthCheckType"] == "ELB"
    assert group["LaunchTemplate"]["LaunchTemplateId"] == output("launch_template_id")
    assert len(group["Instances"]) == expected.asg_desired_capacity


@pytest.mark.pci("6.3.3")
def test_auto_scaling_group_replaces_instances_at_the_configured_age(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """MAX_INSTANCE_LIFETIME_DAYS (default 14) reaches the group in seconds, and never exceeds a month."""
    group = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[output("asg_name")])[
        "AutoScalingGroups"
    ][0]
    assert group["MaxInstanceLifetime"] == expected.max_instance_lifetime_days * 24 * 60 * 60
    assert 0 < group["MaxInstanceLifetime"] <= 30 * 24 * 60 * 60


def test_cpu_target_tracking_policy(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    policies = aws("autoscaling").describe_policies(AutoScalingGroupName=output("asg_name"))["ScalingPolicies"]
    tracking = [p for p in policies if p["PolicyType"] == "TargetTrackingScaling"]
    assert len(tracking) == 1
    config = tracking[0]["TargetTrackingConfiguration"]
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ASGAverageCPUUtilization"
    assert 0 < config["TargetValue"] < 100
    assert tracking[0].get("Enabled", True) is True


@pytest.mark.pci("2.2")
def test_launch_template_requires_imdsv2(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    metadata = _launch_template_data(aws, output)["MetadataOptions"]
    assert metadata["HttpTokens"] == "required"
    assert metadata["HttpEndpoint"] == "enabled"
    assert int(metadata["HttpPutResponseHopLimit"]) == 1


def test_launch_template_tags_instances_and_volumes_at_launch(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """TagSpecifications for instances and volumes carry the stack's tags (default_tags do not reach them)."""
    specs: dict[str, dict[str, str]] = {}
    for spec in _launch_template_data(aws, output).get("TagSpecifications", []):
        specs.setdefault(spec["ResourceType"], {}).update({t["Key"]: t["Value"] for t in spec["Tags"]})
    for kind in ("instance", "volume"):
        assert kind in specs, f"no {kind} tag specification: {sorted(specs)}"
        assert dict(expected.default_tags).items() <= specs[kind].items(), (kind, specs[kind])
        assert specs[kind]["Name"].endswith(f"api-{kind}-{expected.environment_suffix}")


def test_launch_template_user_data_is_base64_shell_script(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    encoded = _launch_template_data(aws, output)["UserData"]
    try:
        script = base64.b64decode(encoded, validate=True).decode("utf-8")
    except ValueError as err:
        pytest.fail(f"user data is not base64-encoded UTF-8: {err}")
    assert script.startswith("#!"), script[:40]
    assert "${" not in script, "a Terraform interpolation sequence survived into the user data"
    assert str(expected.api_port) in script


@pytest.mark.pci("3.5, 3.6, 3.7", "10.7, 11.5")
def test_launch_template_encrypted_root_volume_monitoring_profile(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    data = _launch_template_data(aws, output)
    ebs = data["BlockDeviceMappings"][0]["Ebs"]
    assert ebs["Encrypted"] is True and ebs["VolumeType"] == "gp3"
    assert ebs["KmsKeyId"] == output("data_kms_key_arn")  # the customer-managed data key, not aws/ebs
    assert data["Monitoring"]["Enabled"] is True
    profile_name = data["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1]
    roles = aws("iam").get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Roles"]
    assert len(roles) == 1
    assert data["SecurityGroupIds"] == [output("app_security_group_id")]


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_instance_role_trusts_ec2_only_and_reads_only_its_own_secrets(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    """Read back from IAM: one trusted service, no managed policy (AmazonSSMManagedInstanceCore reads every
    parameter), and the inline policies name the stack's own parameter, secret and key, "*" only for actions
    without resource types; the key only through SSM and Secrets Manager. The emulator does not evaluate
    policies: tests/unit/components/test_compute_instance_role.py does, on the same documents."""
    iam = aws("iam")
    profile_name = _launch_template_data(aws, output)["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1]
    (role,) = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Roles"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "ec2.amazonaws.com"}]
    statements = []
    for name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statements += document["Statement"]
    resources = {s["Sid"]: s["Resource"] for s in statements}
    # Issue 27: the instances read the application's login secret, never the RDS master secret (only the migration
    # host's role does).
    assert ":secret:payment-app-db-login-" in resources["ReadAppDatabaseLogin"]
    assert all(output("db_master_secret_arn") not in json.dumps(s["Resource"]) for s in statements)
    assert resources["DecryptWithDataKey"] == output("data_kms_key_arn")
    # The connection-string parameter stays for the stack's consumers; nothing on the instances reads it (issue 28).
    assert "ReadConnectionString" not in resources
    assert all(output("db_connection_parameter_name") not in json.dumps(s) for s in statements)
    assert all(s["Resource"] != "*" or set(s["Action"]) <= ACTIONS_WITHOUT_RESOURCE_TYPES for s in statements)
    decrypt = next(s for s in statements if s["Sid"] == "DecryptWithDataKey")
    region = output("data_kms_key_arn").split(":")[3]
    assert sorted(decrypt["Condition"]["StringEquals"]["kms:ViaService"]) == [
        f"secretsmanager.{region}.amazonaws.com",
        f"ssm.{region}.amazonaws.com",
    ]
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []


def test_instances_wait_for_their_boot_under_the_launch_hook(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    """The group holds each new instance in Pending:Wait until its boot completes payment-api-boot (issue 22), and
    replacements launch before they terminate."""
    autoscaling = aws("autoscaling")
    (hook,) = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=output("asg_name"))["LifecycleHooks"]
    assert (hook["LifecycleHookName"], hook["LifecycleTransition"]) == (
        "payment-api-boot",
        "autoscaling:EC2_INSTANCE_LAUNCHING",
    )
    assert (hook["DefaultResult"], hook["HeartbeatTimeout"]) == ("ABANDON", 1800)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[output("asg_name")])["AutoScalingGroups"][0]
    assert group["InstanceMaintenancePolicy"] == {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}
    assert {i["LifecycleState"] for i in group["Instances"]} <= {"Pending:Wait", "InService"}


def test_launched_instances_carry_the_runtime_settings_version(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    """A changed setting is a new parameter version, so new launch template data, so an instance refresh."""
    version = aws("ssm").get_parameter(Name=output("api_runtime_parameter_name"))["Parameter"]["Version"]
    specifications = _launch_template_data(aws, output)["TagSpecifications"]
    (instance,) = [s for s in specifications if s["ResourceType"] == "instance"]
    tags = {tag["Key"]: tag["Value"] for tag in instance["Tags"]}
    assert tags["RuntimeSettingsVersion"] == str(version)


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_the_deployed_release_was_migrated_by_a_host_that_is_gone(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """The migration host of the deployed release wrote ok (the apply waited for it) and terminated itself; its launch
    template powers off into termination, and its role is not the API instances' (issue 27)."""
    sha256 = output("api_artifact_sha256")
    name = f"/{expected.project}/{expected.environment_suffix}/payment-api/migration/{sha256}"
    assert aws("ssm").get_parameter(Name=name)["Parameter"]["Value"] == "ok"
    ec2 = aws("ec2")
    template = ec2.describe_launch_templates(
        LaunchTemplateNames=[f"{expected.project}-migration-lt-{expected.environment_suffix}"]
    )["LaunchTemplates"][0]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Latest"])[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert data["IamInstanceProfile"]["Arn"] != _launch_template_data(aws, output)["IamInstanceProfile"]["Arn"]
    hosts = ec2.describe_instances(
        Filters=[{"Name": "tag:aws:ec2launchtemplate:id", "Values": [template["LaunchTemplateId"]]}]
    )["Reservations"]
    states = {instance["State"]["Name"] for reservation in hosts for instance in reservation["Instances"]}
    assert states == {"terminated"}, states
