"""The whole stack (``lib/tap_stack.py``; docs/requirements.md#stack-wiring, #state and
#terraform-variables-and-outputs): provider, backend, tagging, naming, variables and outputs."""

import importlib
import re

import pytest
from tap_contract import examples

from tests.conftest import DEVELOPMENT_ENV, ROOT, SYNTH_ENV, synth_stack

REQUIRED_DEFAULT_TAGS = {"Environment", "Project", "Owner", "Repository", "DataClassification"}
REQUIRED_OUTPUTS = {
    "vpc_id",
    "public_subnet_ids",
    "app_subnet_ids",
    "data_subnet_ids",
    "alb_dns_name",
    "alb_arn",
    "target_group_arn",
    "asg_name",
    "cloudfront_distribution_id",
    "cloudfront_domain_name",
    "frontend_bucket_name",
    "rds_endpoint",
    "db_connection_parameter_name",
    "waf_web_acl_arn",
    "sns_topic_arn",
    "db_connection_parameter",  # the original task's key, read by its clients
}
CLOUDFRONT_TLS_CHECKS = {"CKV_AWS_174", "CKV2_AWS_42"}
# AWS name limits for resources whose names this stack builds.
NAME_LIMITS = {
    ("aws_alb", "name"): 32,
    ("aws_alb_target_group", "name"): 32,
    ("aws_iam_role", "name"): 64,
    ("aws_iam_role_policy", "name"): 128,
    ("aws_iam_instance_profile", "name"): 128,
    ("aws_s3_bucket", "bucket"): 63,
    ("aws_db_instance", "identifier"): 63,
    ("aws_security_group", "name"): 255,
    ("aws_wafv2_web_acl", "name"): 128,
    ("aws_autoscaling_group", "name"): 255,
    ("aws_launch_template", "name"): 125,
    ("aws_sns_topic", "name"): 256,
    ("aws_cloudwatch_metric_alarm", "alarm_name"): 255,
    ("aws_db_subnet_group", "name"): 255,
    ("aws_db_parameter_group", "name"): 255,
    ("aws_cloudfront_origin_access_control", "name"): 64,
    ("aws_cloudwatch_log_group", "name"): 512,
    ("aws_kms_alias", "name"): 256,
}
ACCOUNT_ID_TOKEN = "${data.aws_caller_identity.current.account_id}"


@pytest.mark.seed(6)
def test_provider_region_and_default_tags_block(synth_json):
    provider, edge = synth_json["provider"]["aws"]  # the stack's, and the us-east-1 alias for CloudFront's WAF
    assert provider["region"] == "us-east-1" and "alias" not in provider
    assert edge["alias"] == "us_east_1" and edge["region"] == "us-east-1"
    assert edge["default_tags"] == provider["default_tags"] and "endpoints" not in edge
    # A list holding one block with a "tags" map, not a list inside a list.
    assert isinstance(provider["default_tags"], list) and len(provider["default_tags"]) == 1
    tags = provider["default_tags"][0]["tags"]
    assert REQUIRED_DEFAULT_TAGS <= set(tags) and tags["Environment"] == "test"
    assert "endpoints" not in provider and "access_key" not in provider, "no emulator settings in production"


def test_provider_version_matches_the_bindings(synth_json):
    assert synth_json["terraform"]["required_providers"]["aws"] == {"source": "aws", "version": "5.100.0"}


def test_local_state_lives_in_the_project_root_not_in_the_synth_output(dev_synth_json):
    # Absolute, like cdktf's own default: a relative path would put it in cdktf.out/stacks/..., which every
    # synth replaces.
    assert dev_synth_json["terraform"]["backend"] == {"local": {"path": str(ROOT / "terraform.TapStacktest.tfstate")}}


def test_s3_backend_with_encryption_and_native_locking(synth_json):
    assert synth_json["terraform"]["backend"] == {
        "s3": {
            "bucket": "acme-tf-state",
            "key": "test/TapStacktest.tfstate",
            "region": "us-east-1",
            "encrypt": True,
            "kms_key_id": examples.TERRAFORM_STATE_KMS_KEY_ARN,
            "use_lockfile": True,
        }
    }
    assert "aws_dynamodb_table" not in synth_json["resource"]


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_s3_backend_encrypts_state_with_the_given_kms_key(tmp_path, synth_json):
    """TERRAFORM_STATE_KMS_KEY_ARN becomes the backend's kms_key_id (production requires it: the example has one);
    in a development stack without it the key is absent, not empty."""
    assert synth_json["terraform"]["backend"]["s3"]["kms_key_id"] == examples.TERRAFORM_STATE_KMS_KEY_ARN
    development = {**SYNTH_ENV, "ENVIRONMENT_TYPE": "development"}
    development.pop("TERRAFORM_STATE_KMS_KEY_ARN")
    assert "kms_key_id" not in synth_stack(tmp_path / "dev", development)["terraform"]["backend"]["s3"]
    key = "arn:aws:kms:us-east-1:123456789012:alias/terraform-state"
    stack = synth_stack(tmp_path, {**SYNTH_ENV, "TERRAFORM_STATE_KMS_KEY_ARN": key})
    backend = stack["terraform"]["backend"]["s3"]
    assert backend["kms_key_id"] == key and backend["encrypt"] is True and backend["use_lockfile"] is True


def test_critical_outputs_exist(synth_json):
    assert REQUIRED_OUTPUTS <= set(synth_json["output"])
    assert all(output.get("description") for output in synth_json["output"].values())


def _binding_class(resource_type):
    module = importlib.import_module(f"cdktf_cdktf_provider_aws.{resource_type.removeprefix('aws_')}")
    return next(obj for obj in vars(module).values() if getattr(obj, "TF_RESOURCE_TYPE", None) == resource_type)


# S3 objects carry no Name tag: S3 allows 10 tags on an object, the provider's default tags take 8, and the key names
# the object (PF-S3-OBJECT-TAGS; issue 25).
UNNAMED_TYPES = {"aws_s3_object"}


def test_every_taggable_resource_has_a_name_tag(resources):
    untagged = []
    for rtype, bodies in resources.items():
        if not rtype.startswith("aws_"):  # Terraform's own (terraform_data: the migration host's run) has no tags
            continue
        if not hasattr(_binding_class(rtype), "tags_input") or rtype in UNNAMED_TYPES:
            continue
        for name, body in bodies.items():
            tags = body.get("tags") or {t["key"]: t["value"] for t in body.get("tag", [])}
            if not tags.get("Name", "").endswith("-test"):
                untagged.append(f"{rtype}.{name}")
    assert not untagged, untagged


def test_s3_objects_carry_no_name_and_fit_s3s_object_tag_limit(synth_json, resources):
    """Every object's own tags plus the provider's default tags stay within S3's 10, with room for two more."""
    defaults = synth_json["provider"]["aws"][0]["default_tags"][0]["tags"]
    objects = resources["aws_s3_object"]
    assert len(objects) == 2
    for body in objects.values():
        assert "Name" not in (body.get("tags") or {})
        assert len(set(defaults) | set(body.get("tags") or {})) == 8


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


@pytest.mark.parametrize(
    "name",
    [
        "instance_type",
        "asg_min_size",
        "asg_max_size",
        "asg_desired_capacity",
        "db_instance_class",
        "db_allocated_storage",
        "certificate_arn",
        "alarm_email",
        "cpu_alarm_threshold",
        "alb_5xx_rate_threshold",
        "log_retention_days",
    ],
)
def test_operator_values_are_typed_validated_variables(synth_json, name):
    variable = synth_json["variable"][name]
    assert variable["type"] in ("string", "number") and variable["description"]
    assert variable["validation"] and all(v["error_message"] for v in variable["validation"])


def test_db_connection_parameter_is_an_alias_of_the_parameter_name(synth_json):
    outputs = synth_json["output"]
    assert outputs["db_connection_parameter"]["value"] == outputs["db_connection_parameter_name"]["value"]


# ------------------------------------------------------------------------------------ environment types
def _checkov_skips(stack):
    return {
        skip["id"]
        for bodies in stack["resource"].values()
        for body in bodies.values()
        for skip in body.get("//", {}).get("checkov", {}).get("skip", [])
    }


@pytest.mark.pci("4.2")
def test_cloudfront_tls_suppressions_exist_only_in_development_stacks(synth_json, dev_synth_json):
    assert CLOUDFRONT_TLS_CHECKS <= _checkov_skips(dev_synth_json)
    assert not CLOUDFRONT_TLS_CHECKS & _checkov_skips(synth_json)


def test_development_stacks_are_tagged_not_for_cardholder_data(synth_json, dev_synth_json):
    prod_tags = synth_json["provider"]["aws"][0]["default_tags"][0]["tags"]
    dev_tags = dev_synth_json["provider"]["aws"][0]["default_tags"][0]["tags"]
    assert (prod_tags["DataClassification"], prod_tags["EnvironmentType"]) == ("pci-cde", "production")
    assert (dev_tags["DataClassification"], dev_tags["EnvironmentType"]) == ("non-cde", "development")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_production_variables_refuse_what_production_config_refuses(synth_json, dev_synth_json):
    def conditions(stack, name):
        return " ".join(v["condition"] for v in stack["variable"][name]["validation"])

    assert "var.log_retention_days >= 365" in conditions(synth_json, "log_retention_days")
    assert ">= 365" not in conditions(dev_synth_json, "log_retention_days")
    assert 'var.alarm_email == ""' in conditions(dev_synth_json, "alarm_email")
    assert 'var.alarm_email == ""' not in conditions(synth_json, "alarm_email")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_deletion_protection_off_never_empties_buckets_outside_the_sandbox(tmp_path):
    stack = synth_stack(tmp_path, {**DEVELOPMENT_ENV, "DELETION_PROTECTION": "false"})
    db = next(iter(stack["resource"]["aws_db_instance"].values()))
    alb = next(iter(stack["resource"]["aws_alb"].values()))
    assert db["deletion_protection"] is False and db["skip_final_snapshot"] is True
    assert alb["enable_deletion_protection"] is False
    assert all(not b.get("force_destroy") for b in stack["resource"]["aws_s3_bucket"].values())


# What `make verify-deployment` (tools/deploy/verify.py) reads from the outputs, each to the resource it names.
VERIFIED_OUTPUTS = {
    "alb_arn": "${aws_alb.compute_alb_",
    "https_listener_arn": "${aws_alb_listener.compute_https_listener_",
    "target_group_arn": "${aws_alb_target_group.compute_target_group_",
    "waf_web_acl_arn": "${aws_wafv2_web_acl.waf_",
    "cloudfront_web_acl_arn": "${aws_wafv2_web_acl.cdn_firewall_",
    "flow_log_id": "${aws_flow_log.networking_flow_log_",
    "sns_topic_arn": "${aws_sns_topic.monitoring_",
}


def test_outputs_name_every_resource_verify_deployment_reads(synth_json):
    from tools.deploy.verify import REQUIRED_OUTPUTS as VERIFY_READS  # pylint: disable=import-outside-toplevel

    outputs = synth_json["output"]
    assert set(VERIFY_READS) <= set(outputs), sorted(set(VERIFY_READS) - set(outputs))
    for name, reference in VERIFIED_OUTPUTS.items():
        assert outputs[name]["value"].startswith(reference), (name, outputs[name]["value"])
    flow_log = outputs["flow_log_id"]["value"].removeprefix("${").removesuffix("}").split(".")
    assert flow_log[2] == "id" and flow_log[1] in synth_json["resource"]["aws_flow_log"]
