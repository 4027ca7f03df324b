"""SPEC 8-10: provider, backend, tagging, naming, variables and outputs of the whole stack."""

import importlib
import re

import pytest

from tests.conftest import SYNTH_ENV, synth_stack

REQUIRED_DEFAULT_TAGS = {"Environment", "Project", "Owner", "Repository", "DataClassification"}
REQUIRED_OUTPUTS = {
    "vpc_id", "public_subnet_ids", "app_subnet_ids", "data_subnet_ids", "alb_dns_name", "alb_arn",
    "target_group_arn", "asg_name", "cloudfront_distribution_id", "cloudfront_domain_name", "frontend_bucket_name",
    "rds_endpoint", "db_connection_parameter_name", "waf_web_acl_arn", "sns_topic_arn",
}
# AWS name limits for resources whose names this stack builds.
NAME_LIMITS = {
    ("aws_alb", "name"): 32, ("aws_alb_target_group", "name"): 32, ("aws_iam_role", "name"): 64,
    ("aws_iam_role_policy", "name"): 128, ("aws_iam_instance_profile", "name"): 128, ("aws_s3_bucket", "bucket"): 63,
    ("aws_db_instance", "identifier"): 63, ("aws_security_group", "name"): 255, ("aws_wafv2_web_acl", "name"): 128,
    ("aws_autoscaling_group", "name"): 255, ("aws_launch_template", "name"): 125, ("aws_sns_topic", "name"): 256,
    ("aws_cloudwatch_metric_alarm", "alarm_name"): 255, ("aws_db_subnet_group", "name"): 255,
    ("aws_db_parameter_group", "name"): 255, ("aws_cloudfront_origin_access_control", "name"): 64,
    ("aws_cloudwatch_log_group", "name"): 512, ("aws_kms_alias", "name"): 256,
}
ACCOUNT_ID_TOKEN = "${data.aws_caller_identity.current.account_id}"


def test_provider_region_and_default_tags_block(synth_json):
    (provider,) = synth_json["provider"]["aws"]
    assert provider["region"] == "us-east-1"
    # A list holding one block with a "tags" map (seed failure 6: not a list inside a list).
    assert isinstance(provider["default_tags"], list) and len(provider["default_tags"]) == 1
    tags = provider["default_tags"][0]["tags"]
    assert REQUIRED_DEFAULT_TAGS <= set(tags) and tags["Environment"] == "test"
    assert "endpoints" not in provider and "access_key" not in provider, "no emulator settings in production"


def test_provider_version_matches_the_bindings(synth_json):
    assert synth_json["terraform"]["required_providers"]["aws"] == {"source": "aws", "version": "5.100.0"}


def test_local_backend_without_state_bucket(synth_json):
    assert synth_json["terraform"]["backend"] == {"local": {"path": "terraform.TapStacktest.tfstate"}}


def test_s3_backend_with_encryption_and_native_locking(tmp_path):
    stack = synth_stack(tmp_path, {**SYNTH_ENV, "TERRAFORM_STATE_BUCKET": "acme-tf-state",
                                   "TERRAFORM_STATE_BUCKET_REGION": "eu-west-1"})
    assert stack["terraform"]["backend"] == {"s3": {
        "bucket": "acme-tf-state", "key": "test/TapStacktest.tfstate", "region": "eu-west-1", "encrypt": True,
        "use_lockfile": True,
    }}
    assert "aws_dynamodb_table" not in stack["resource"]


def test_critical_outputs_exist(synth_json):
    assert REQUIRED_OUTPUTS <= set(synth_json["output"])
    assert all(output.get("description") for output in synth_json["output"].values())


def _binding_class(resource_type):
    module = importlib.import_module(f"cdktf_cdktf_provider_aws.{resource_type.removeprefix('aws_')}")
    return next(obj for obj in vars(module).values()
                if getattr(obj, "TF_RESOURCE_TYPE", None) == resource_type)


def test_every_taggable_resource_has_a_name_tag(resources):
    untagged = []
    for rtype, bodies in resources.items():
        if not hasattr(_binding_class(rtype), "tags_input"):
            continue
        for name, body in bodies.items():
            tags = body.get("tags") or {t["key"]: t["value"] for t in body.get("tag", [])}
            if not tags.get("Name", "").endswith("-test"):
                untagged.append(f"{rtype}.{name}")
    assert not untagged, untagged


def test_names_carry_the_suffix_and_fit_aws_limits(resources):
    checked = 0
    for (rtype, attribute), limit in NAME_LIMITS.items():
        for name, body in resources.get(rtype, {}).items():
            value = body[attribute].replace(ACCOUNT_ID_TOKEN, "1" * 12)
            assert "${" not in value, f"{rtype}.{name}: unresolved name {value}"
            assert "-test" in value, f"{rtype}.{name}: {value} lacks the environment suffix"
            assert len(value) <= limit, f"{rtype}.{name}: {value} is longer than {limit}"
            checked += 1
    assert checked >= 34  # every named resource of the types above
    for rtype in ("aws_alb", "aws_alb_target_group"):
        for body in resources[rtype].values():
            assert re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", body["name"])


@pytest.mark.parametrize("name", ["instance_type", "asg_min_size", "asg_max_size", "asg_desired_capacity",
                                  "db_instance_class", "db_allocated_storage", "certificate_arn", "alarm_email",
                                  "cpu_alarm_threshold", "alb_5xx_rate_threshold", "log_retention_days"])
def test_operator_values_are_typed_validated_variables(synth_json, name):
    variable = synth_json["variable"][name]
    assert variable["type"] in ("string", "number") and variable["description"]
    assert variable["validation"] and all(v["error_message"] for v in variable["validation"])
