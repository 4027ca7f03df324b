"""Compute (``lib/components/compute.py``; docs/requirements.md#compute): an HTTPS-only load balancer with the web ACL
associated by ARN, a hardened launch template, a self-healing Auto Scaling group."""

import base64

import pytest

from facts import ALB_TLS_POLICIES_WITHOUT_CBC
from tests.unit.helpers import api_launch_template, by_path, only, ref


@pytest.mark.pci("1.2, 1.3, 1.4", "2.2", "10.2, 10.3, 10.5")
def test_alb_is_internet_facing_hardened_and_logged(resources):
    alb = only(resources, "aws_alb")
    assert alb["internal"] is False and alb["load_balancer_type"] == "application"
    assert alb["drop_invalid_header_fields"] is True
    assert alb["enable_deletion_protection"] is True
    assert alb["access_logs"]["enabled"] is True and alb["access_logs"]["prefix"] == "alb"
    assert "aws_s3_bucket.log_archive_bucket" in alb["access_logs"]["bucket"]
    assert len(alb["subnets"]) == 3 and all("public_subnet" in s for s in alb["subnets"])


@pytest.mark.pci("4.2")
def test_only_listener_is_https_with_certificate_variable_and_modern_tls(resources):
    listener = only(resources, "aws_alb_listener")
    assert listener["port"] == 443 and listener["protocol"] == "HTTPS"
    assert listener["certificate_arn"] == "${var.certificate_arn}"
    assert listener["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"  # TLS 1.2+, no CBC suites
    assert listener["ssl_policy"] in ALB_TLS_POLICIES_WITHOUT_CBC
    # API_DOMAIN set (production requires it): a fixed 404 for any other Host, a rule forwards the API's name only.
    assert listener["default_action"] == [
        {
            "type": "fixed-response",
            "fixed_response": {"content_type": "text/plain", "status_code": "404", "message_body": "Not Found"},
        }
    ]
    rule = only(resources, "aws_alb_listener_rule")
    assert rule["listener_arn"] == ref("aws_alb_listener", next(iter(resources["aws_alb_listener"])), "arn")
    assert rule["condition"] == [{"host_header": {"values": ["api.pay.example.com"]}}]
    assert rule["action"] == [
        {
            "type": "forward",
            "target_group_arn": ref("aws_alb_target_group", next(iter(resources["aws_alb_target_group"])), "arn"),
        }
    ]


@pytest.mark.pci("4.2")
def test_listener_sends_hsts(resources):
    """HSTS through the listener's response-header attribute (provider 5.100): every ALB answer carries it."""
    listener = only(resources, "aws_alb_listener")
    assert (
        listener["routing_http_response_strict_transport_security_header_value"]
        == "max-age=31536000; includeSubDomains"
    )


def test_without_api_domain_the_listener_forwards_every_host(dev_synth_json):
    dev = dev_synth_json["resource"]
    assert only(dev, "aws_alb_listener")["default_action"][0]["type"] == "forward"
    assert "aws_alb_listener_rule" not in dev


@pytest.mark.seed(5)
def test_target_group_health_check_and_string_deregistration_delay(resources):
    tg = only(resources, "aws_alb_target_group")
    assert tg["port"] == 8080 and tg["protocol"] == "HTTP"
    assert tg["deregistration_delay"] == "30"
    assert tg["health_check"]["path"] == "/health" and tg["health_check"]["matcher"] == "200"


@pytest.mark.seed(3)
@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_is_associated_with_the_alb_by_acl_arn(resources):
    assoc = only(resources, "aws_wafv2_web_acl_association")
    acl_name = by_path(resources, "aws_wafv2_web_acl", "/waf/web_acl")[0]  # the REGIONAL one
    alb_name = next(iter(resources["aws_alb"]))
    assert assoc["web_acl_arn"] == ref("aws_wafv2_web_acl", acl_name, "arn")
    assert assoc["resource_arn"] == ref("aws_alb", alb_name, "arn")


@pytest.mark.pci("2.2", "3.5, 3.6, 3.7")
def test_launch_template_requires_imdsv2_and_encrypts_root_volume(resources):
    lt = api_launch_template(resources)[1]
    assert lt["metadata_options"]["http_tokens"] == "required"
    assert lt["metadata_options"]["http_put_response_hop_limit"] == 1
    ebs = lt["block_device_mappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["volume_type"] == "gp3"
    # The customer-managed data key, not aws/ebs (PF-EBS-CMK).
    data_key = by_path(resources, "aws_kms_key", "encryption/data_key")[0]
    assert ebs["kms_key_id"] == ref("aws_kms_key", data_key, "arn")
    assert lt["monitoring"]["enabled"] is True
    assert "aws_iam_instance_profile" in lt["iam_instance_profile"]["arn"]
    assert lt["instance_type"] == "${var.instance_type}"
    assert "network_interfaces" not in lt  # no public IP association


def test_launch_template_tags_instances_and_volumes_with_the_stack_tags(synth_json):
    """default_tags tag the template itself, not what it launches: tag_specifications carry them to the instances
    and their EBS volumes (a production volume says DataClassification = pci-cde)."""
    default_tags = synth_json["provider"]["aws"][0]["default_tags"][0]["tags"]
    assert default_tags["DataClassification"] == "pci-cde"
    lt = api_launch_template(synth_json["resource"])[1]
    specs = {spec["resource_type"]: spec["tags"] for spec in lt["tag_specifications"]}
    assert set(specs) == {"instance", "volume"}
    for kind, tags in specs.items():
        assert {k: v for k, v in tags.items() if k not in ("Name", "RuntimeSettingsVersion")} == default_tags, kind
        assert tags["Name"] == f"payment-api-{kind}-test", kind


def test_image_is_looked_up_amazon_linux_2023(synth_json):
    lt = api_launch_template(synth_json["resource"])[1]
    name, parameter = by_path(synth_json["data"], "aws_ssm_parameter", "compute/al2023_ami")
    assert parameter["name"].startswith("/aws/service/ami-amazon-linux-latest/al2023-ami")
    assert lt["image_id"] == f"${{data.aws_ssm_parameter.{name}.insecure_value}}"


@pytest.mark.seed(2)
def test_user_data_is_base64_with_no_terraform_interpolation(resources):
    encoded = api_launch_template(resources)[1]["user_data"]
    script = base64.b64decode(encoded, validate=True).decode("utf-8")
    assert script.startswith("#!/bin/bash")
    assert "${" not in script and "%{" not in script
    assert "API_PORT=8080" in script and "@@" not in script


def test_asg_sizes_health_checks_refresh_and_scaling(resources):
    asg_name, asg = by_path(resources, "aws_autoscaling_group", "compute/asg")
    assert (asg["min_size"], asg["max_size"], asg["desired_capacity"]) == (
        "${var.asg_min_size}",
        "${var.asg_max_size}",
        "${var.asg_desired_capacity}",
    )
    assert asg["health_check_type"] == "ELB"
    # Launches through the stack's own service-linked role, the one the data key's policy admits.
    slr = by_path(resources, "aws_iam_service_linked_role", "encryption/autoscaling_service_role")[0]
    assert asg["service_linked_role_arn"] == ref("aws_iam_service_linked_role", slr, "arn")
    assert len(asg["vpc_zone_identifier"]) == 3 and all("app_subnet" in s for s in asg["vpc_zone_identifier"])
    assert asg["instance_refresh"]["strategy"] == "Rolling"
    assert asg["instance_refresh"]["preferences"]["min_healthy_percentage"] == 100
    assert "latest_version" in asg["launch_template"]["version"]
    # After the first apply target tracking owns the size: a later plan must not reset it (and terminate
    # the instances a scale-out added).
    assert asg["lifecycle"] == {"ignore_changes": ["desired_capacity"]}
    assert {t["key"] for t in asg["tag"] if t["propagate_at_launch"]} >= {"Name"}
    policy = only(resources, "aws_autoscaling_policy")
    assert policy["autoscaling_group_name"] == ref("aws_autoscaling_group", asg_name, "name")
    tracking = policy["target_tracking_configuration"]
    assert policy["policy_type"] == "TargetTrackingScaling"
    assert tracking["predefined_metric_specification"]["predefined_metric_type"] == "ASGAverageCPUUtilization"


@pytest.mark.pci("6.3.3")
def test_instances_are_replaced_within_14_days_by_default_on_the_latest_template(resources, synth_json):
    """PCI DSS 6.3.3: no instance outlives a month of patches; replacements use the latest launch template version,
    whose AMI every plan reads from AWS's AL2023 parameter, and a new version rolls out by instance refresh."""
    asg = by_path(resources, "aws_autoscaling_group", "compute/asg")[1]
    assert asg["max_instance_lifetime"] == "${(var.max_instance_lifetime_days * 86400)}"
    variable = synth_json["variable"]["max_instance_lifetime_days"]
    assert variable["default"] == 14 and variable["type"] == "number"
    assert "latest_version" in asg["launch_template"]["version"] and asg["instance_refresh"]["strategy"] == "Rolling"
    lt = api_launch_template(resources)[1]
    assert lt["update_default_version"] is True
    name, parameter = by_path(synth_json["data"], "aws_ssm_parameter", "compute/al2023_ami")
    assert parameter["name"] == "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    assert lt["image_id"] == f"${{data.aws_ssm_parameter.{name}.insecure_value}}"


def test_variables_default_to_two_to_six_instances_and_need_a_certificate(synth_json):
    variables = synth_json["variable"]
    assert (
        variables["asg_min_size"]["default"],
        variables["asg_max_size"]["default"],
        variables["asg_desired_capacity"]["default"],
    ) == (2, 6, 2)
    assert "default" not in variables["certificate_arn"], "a plan without a certificate must fail"
    assert any(
        "certificate_arn must be an ACM certificate ARN" in v["error_message"]
        for v in variables["certificate_arn"]["validation"]
    )


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_alb_waits_for_the_log_bucket_policy(resources):
    """Enabling access logs writes a test object at once (provider #12010)."""
    alb = only(resources, "aws_alb")
    policy_name, _ = by_path(resources, "aws_s3_bucket_policy", "log_archive/policy")
    assert alb["depends_on"] == [f"aws_s3_bucket_policy.{policy_name}"]


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_association_outlasts_a_settling_alb(resources):
    """WAFUnavailableEntityException until the ALB settles, longer than the 5-minute default (provider #29080)."""
    assert only(resources, "aws_wafv2_web_acl_association")["timeouts"] == {"create": "15m"}
