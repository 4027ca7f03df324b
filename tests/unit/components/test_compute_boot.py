"""The first boot of an API instance, as the synthesized stack orders and holds it (issue 22): the Auto Scaling group
waits for everything the user data touches, a launch lifecycle hook keeps each instance out of service until its boot
completes it, a changed setting makes a new launch template version, and replacements keep capacity.

Each expected dependency is found in the JSON by what it is (a route association of an app subnet, a rule of the app
or endpoints security group, a policy of the instance role), not by the list the stack passes, so a resource added
later that the boot needs and the group does not wait for fails here.
"""

from __future__ import annotations

import json
from typing import Any

from lib.components.compute import BOOT_LIFECYCLE_HOOK, asg_arn_pattern
from tests.conftest import PRODUCTION_ENV
from tests.unit.helpers import api_launch_template, by_path, ref

Resources = dict[str, dict[str, Any]]


def _asg(resources: Resources) -> dict[str, Any]:
    return by_path(resources, "aws_autoscaling_group", "compute/asg")[1]


def _addresses(resources: Resources, rtype: str, keep: Any = lambda body: True) -> set[str]:
    return {f"{rtype}.{name}" for name, body in resources.get(rtype, {}).items() if keep(body)}


def _app_route_associations(resources: Resources) -> set[str]:
    app_subnets = {
        ref("aws_subnet", name) for name, body in resources["aws_subnet"].items() if body["tags"]["Tier"] == "app"
    }
    found = _addresses(resources, "aws_route_table_association", lambda body: body["subnet_id"] in app_subnets)
    assert len(found) == len(app_subnets) == 3
    return found


def _app_tier_rules(resources: Resources) -> set[str]:
    groups = {
        ref("aws_security_group", by_path(resources, "aws_security_group", f"security_groups/{label}")[0])
        for label in ("app_sg", "endpoints_sg")
    }
    found = _addresses(
        resources,
        "aws_security_group_rule",
        lambda body: {body.get("security_group_id"), body.get("source_security_group_id")} & groups,
    )
    assert len(found) >= 7
    return found


def _instance_role_policies(resources: Resources) -> set[str]:
    role = by_path(resources, "aws_iam_role", "compute/instance_role")[0]
    found = _addresses(resources, "aws_iam_role_policy", lambda body: body["role"] == ref("aws_iam_role", role))
    # Session Manager, DB connection, idempotency secret, app login, install, boot hook and, with Stripe, the Stripe
    # secret.
    stripe = any("stripe" in name for name in found)
    assert len(found) == 6 + stripe, found
    return found


def test_only_a_stripe_stack_reads_a_stripe_secret(resources: Resources, dev_synth_json: dict[str, Any]) -> None:
    """The production example runs Stripe: its instance role reads the Stripe secret (its own policy, the one
    statement); the development stack runs the simulator and has no such policy."""
    stripe = [body for body in resources["aws_iam_role_policy"].values() if "api-read-stripe-secret" in body["name"]]
    assert len(stripe) == 1
    assert json.loads(stripe[0]["policy"])["Statement"] == [
        {
            "Sid": "ReadStripeSecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": PRODUCTION_ENV["STRIPE_SECRET_KEY_ARN"],
        }
    ]
    development = dev_synth_json["resource"]["aws_iam_role_policy"].values()
    assert not [body for body in development if "stripe" in body["name"]]


def test_the_group_waits_for_everything_the_first_boot_touches(resources: Resources) -> None:
    """Issue 22, item 2: launched before any of these, the boot fails (no settings, no artifact, no route, no
    permission, no log group); Terraform starts independent resources in parallel unless told otherwise."""
    needed = {
        f"aws_ssm_parameter.{by_path(resources, 'aws_ssm_parameter', 'api_release/runtime_parameter')[0]}",
        f"aws_s3_object.{by_path(resources, 'aws_s3_object', 'api_release/artifact')[0]}",
        f"aws_s3_bucket_policy.{by_path(resources, 'aws_s3_bucket_policy', 'api_release/policy')[0]}",
        f"aws_cloudwatch_log_group.{by_path(resources, 'aws_cloudwatch_log_group', 'api_release/log_group')[0]}",
        f"aws_vpc_endpoint.{by_path(resources, 'aws_vpc_endpoint', 'networking/s3_endpoint')[0]}",
        f"aws_iam_instance_profile.{by_path(resources, 'aws_iam_instance_profile', 'compute/instance_profile')[0]}",
        f"aws_secretsmanager_secret.{by_path(resources, 'aws_secretsmanager_secret', 'idempotency_secret/secret')[0]}",
        "aws_secretsmanager_secret_version."
        + by_path(resources, "aws_secretsmanager_secret_version", "idempotency_secret/initial_version")[0],
        *_addresses(resources, "aws_vpc_endpoint", lambda body: body["vpc_endpoint_type"] == "Interface"),
        *_app_route_associations(resources),
        *_app_tier_rules(resources),
        *_instance_role_policies(resources),
    }
    missing = needed - set(_asg(resources)["depends_on"])
    assert not missing, f"the group does not wait for {sorted(missing)}"


def test_the_runtime_parameter_and_so_the_group_wait_for_the_database(resources: Resources) -> None:
    """The runtime parameter names the database's host, so the group's dependency on it covers the database."""
    parameter = by_path(resources, "aws_ssm_parameter", "api_release/runtime_parameter")[1]
    db = next(iter(resources["aws_db_instance"]))
    assert ref("aws_db_instance", db, "address") in parameter["value"]


def test_a_launch_hook_holds_every_instance_until_its_boot_completes_it(resources: Resources) -> None:
    asg = _asg(resources)
    assert asg["initial_lifecycle_hook"] == [
        {
            "name": BOOT_LIFECYCLE_HOOK,
            "lifecycle_transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "default_result": "ABANDON",
            "heartbeat_timeout": 1800,
        }
    ]
    assert BOOT_LIFECYCLE_HOOK == "payment-api-boot"
    # Hooked instances stay Pending:Wait until they boot: Terraform must not wait 10 minutes for InService ones.
    assert asg["wait_for_capacity_timeout"] == "0"


def test_replacements_launch_before_they_terminate(resources: Resources) -> None:
    """Issue 22, item 5: lifetime and health replacements keep the desired capacity, as the refresh does."""
    asg = _asg(resources)
    assert asg["instance_maintenance_policy"] == {"min_healthy_percentage": 100, "max_healthy_percentage": 200}
    preferences = asg["instance_refresh"]["preferences"]
    assert (preferences["min_healthy_percentage"], preferences["max_healthy_percentage"]) == (100, 200)


def test_a_changed_setting_makes_a_new_launch_template_version(resources: Resources) -> None:
    """Issue 22, item 3: the runtime parameter's version is launch template data (an instance tag), so a changed
    setting changes the template, which makes a new version the instance refresh rolls out. The template's own
    ``tags`` would not, so it is not there, nor on the volumes."""
    parameter = by_path(resources, "aws_ssm_parameter", "api_release/runtime_parameter")[0]
    version = ref("aws_ssm_parameter", parameter, "version")
    lt = api_launch_template(resources)[1]
    specs = {spec["resource_type"]: spec["tags"] for spec in lt["tag_specifications"]}
    assert specs["instance"]["RuntimeSettingsVersion"] == version
    assert "RuntimeSettingsVersion" not in specs["volume"]
    assert "RuntimeSettingsVersion" not in lt["tags"]
    assert lt["update_default_version"] is True
    asg = _asg(resources)
    assert asg["launch_template"]["version"] == ref(
        "aws_launch_template", api_launch_template(resources)[0], "latest_version"
    )
    assert asg["instance_refresh"]["strategy"] == "Rolling"


def test_the_instance_role_completes_this_groups_hook_only(resources: Resources) -> None:
    """The completion statement names the group by its name-built ARN (no reference: the group depends on the
    role's policies, a reference back would be a cycle)."""
    asg = _asg(resources)
    role = by_path(resources, "aws_iam_role", "compute/instance_role")[0]
    statements = [
        statement
        for body in resources["aws_iam_role_policy"].values()
        if body["role"] == ref("aws_iam_role", role)
        for statement in json.loads(body["policy"])["Statement"]
        if any(action.startswith("autoscaling:") for action in statement["Action"])
    ]
    assert statements == [
        {
            "Sid": "CompleteOwnBootLifecycleAction",
            "Effect": "Allow",
            "Action": ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
            "Resource": asg_arn_pattern("us-east-1", "${data.aws_caller_identity.current.account_id}", asg["name"]),
        }
    ]
    assert asg["name"] == "payment-api-asg-test"
    assert statements[0]["Resource"].endswith(":autoScalingGroup:*:autoScalingGroupName/payment-api-asg-test")
