"""The eight security regressions that only ``make scan`` caught stop synth (issue 15, item 9).

Two kinds of proof per class:
- a passing and a failing fixture on a small hand-made stack (the rule's own logic);
- the regression written into the stack *code* (an override or a removed construct on the real ``TapStack``),
  then ``tap.synthesize``, the function ``python tap.py`` and ``cdktf synth``/``deploy`` run: it raises
  ``PreflightError`` with the rule's report and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lib.config import StackConfig
from preflight import Severity, errors, run_preflight
from tests.conftest import PRODUCTION_ENV, production_artifact
from tests.unit.preflight.builders import assert_caught, assert_clean, only, res, stack

# ------------------------------------------------------------------------------------------ small fixtures


def _listener(**body: Any) -> tuple[str, str, dict[str, Any]]:
    return ("aws_lb_listener", *res("listener", **body))


@pytest.mark.pci("4.2")
def test_listener_https_only() -> None:
    assert_clean(only(stack(_listener(protocol="HTTPS", port=443)), "PF-ALB-HTTPS-ONLY"))
    redirect = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}
    assert_clean(only(stack(_listener(protocol="HTTP", port=80, default_action=[redirect])), "PF-ALB-HTTPS-ONLY"))
    forward = {"type": "forward", "target_group_arn": "${aws_lb_target_group.tg.arn}"}
    assert_caught(
        only(stack(_listener(protocol="HTTP", port=80, default_action=[forward])), "PF-ALB-HTTPS-ONLY"),
        "port 80",
        "'HTTP'",
        "redirect",
    )
    assert_caught(only(stack(_listener(port=80, default_action=[forward])), "PF-ALB-HTTPS-ONLY"), "'HTTP'")


def _distribution(policy: str, ordered: str | None = None) -> tuple[str, str, dict[str, Any]]:
    body: dict[str, Any] = {"default_cache_behavior": {"viewer_protocol_policy": policy}}
    if ordered is not None:
        body["ordered_cache_behavior"] = [{"path_pattern": "/api/*", "viewer_protocol_policy": ordered}]
    return ("aws_cloudfront_distribution", *res("cdn", **body))


@pytest.mark.pci("4.2")
def test_cloudfront_https_only() -> None:
    assert_clean(only(stack(_distribution("https-only", "redirect-to-https")), "PF-CLOUDFRONT-HTTPS-ONLY"))
    assert_caught(
        only(stack(_distribution("allow-all")), "PF-CLOUDFRONT-HTTPS-ONLY"),
        "default_cache_behavior",
        "'allow-all'",
        "https-only",
    )
    assert_caught(
        only(stack(_distribution("https-only", "allow-all")), "PF-CLOUDFRONT-HTTPS-ONLY"),
        "ordered_cache_behavior '/api/*'",
    )


def _bucket_with_block(**settings: Any) -> dict[str, Any]:
    block = {
        "bucket": "${aws_s3_bucket.b.id}",
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
        **settings,
    }
    return stack(
        ("aws_s3_bucket", *res("b", bucket="logs")), ("aws_s3_bucket_public_access_block", *res("pab", **block))
    )


@pytest.mark.pci("1.2, 1.3, 1.4", "7.2, 8.2, 8.6")
def test_public_access_block_on() -> None:
    assert_clean(only(_bucket_with_block(), "PF-S3-PUBLIC-ACCESS-BLOCK"))
    assert_caught(
        only(
            _bucket_with_block(block_public_policy=False, restrict_public_buckets="false"), "PF-S3-PUBLIC-ACCESS-BLOCK"
        ),
        "block_public_policy, restrict_public_buckets not true",
    )
    assert_caught(
        only(stack(("aws_s3_bucket", *res("b", bucket="logs"))), "PF-S3-PUBLIC-ACCESS-BLOCK"),
        "'logs' has no aws_s3_bucket_public_access_block",
    )


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_key_rotation_on() -> None:
    assert_clean(only(stack(("aws_kms_key", *res("k", enable_key_rotation=True))), "PF-KMS-ROTATION"))
    assert_clean(only(stack(("aws_kms_key", *res("k", customer_master_key_spec="RSA_2048"))), "PF-KMS-ROTATION"))
    assert_caught(
        only(stack(("aws_kms_key", *res("k", enable_key_rotation=False))), "PF-KMS-ROTATION"),
        "enable_key_rotation is False",
    )
    assert_caught(only(stack(("aws_kms_key", *res("k"))), "PF-KMS-ROTATION"), "enable_key_rotation is None")


def _database(force_ssl: str | None, group: str = "${aws_db_parameter_group.pg.name}") -> dict[str, Any]:
    parameters = [{"name": "log_connections", "value": "1"}]
    if force_ssl is not None:
        parameters.append({"name": "rds.force_ssl", "value": force_ssl})
    return stack(
        ("aws_db_instance", *res("db", engine="postgres", parameter_group_name=group)),
        ("aws_db_parameter_group", *res("pg", family="postgres15", parameter=parameters)),
    )


@pytest.mark.pci("4.2")
def test_rds_force_ssl() -> None:
    assert_clean(only(_database("1"), "PF-RDS-FORCE-SSL"))
    assert_caught(only(_database("0"), "PF-RDS-FORCE-SSL"), "rds.force_ssl is '0'")
    assert_caught(only(_database(None), "PF-RDS-FORCE-SSL"), "rds.force_ssl is None")
    assert_caught(
        only(_database("1", group="default.postgres15"), "PF-RDS-FORCE-SSL"),
        "'default.postgres15', not a parameter group of this stack",
    )


def _alb(associated: bool, internal: bool = False) -> dict[str, Any]:
    items = [("aws_lb", *res("alb", internal=internal, load_balancer_type="application"))]
    if associated:
        items.append(
            (
                "aws_wafv2_web_acl_association",
                *res("assoc", resource_arn="${aws_lb.alb.arn}", web_acl_arn="${aws_wafv2_web_acl.acl.arn}"),
            )
        )
    return stack(*items)


@pytest.mark.pci("6.4.1, 6.4.2")
def test_internet_facing_alb_has_waf() -> None:
    assert_clean(only(_alb(associated=True), "PF-ALB-WAF"))
    assert_clean(only(_alb(associated=False, internal=True), "PF-ALB-WAF"))
    assert_caught(only(_alb(associated=False), "PF-ALB-WAF"), "without an aws_wafv2_web_acl_association")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_short_retention_written_in_code_is_an_error() -> None:
    assert_clean(
        only(stack(("aws_cloudwatch_log_group", *res("g", name="g", retention_in_days=400))), "PF-LOG-RETENTION")
    )
    assert_caught(
        only(stack(("aws_cloudwatch_log_group", *res("g", name="g", retention_in_days=30))), "PF-LOG-RETENTION"),
        "is 30, written in code",
        "var.log_retention_days",
    )


def _provider(environment_type: str) -> dict[str, Any]:
    return {"aws": [{"region": "us-east-1", "default_tags": [{"tags": {"EnvironmentType": environment_type}}]}]}


def _log_archive(environment_type: str, lock: dict[str, Any] | None) -> dict[str, Any]:
    items = [
        ("aws_s3_bucket", *res("logs", bucket="acme-logs")),
        ("aws_lb", *res("alb", access_logs={"bucket": "${aws_s3_bucket.logs.bucket}", "enabled": True})),
    ]
    if lock is not None:
        items.append(
            (
                "aws_s3_bucket_object_lock_configuration",
                *res("lock", bucket="${aws_s3_bucket.logs.id}", object_lock_enabled="Enabled", **lock),
            )
        )
    return stack(*items, provider=_provider(environment_type))


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_production_log_archive_is_write_once() -> None:
    compliance = {"rule": {"default_retention": {"mode": "COMPLIANCE", "days": 365}}}
    assert_clean(only(_log_archive("production", compliance), "PF-LOG-ARCHIVE-WORM"))
    assert_clean(
        only(
            _log_archive("production", {"rule": {"default_retention": {"mode": "COMPLIANCE", "years": 1}}}),
            "PF-LOG-ARCHIVE-WORM",
        )
    )
    assert_clean(only(_log_archive("development", None), "PF-LOG-ARCHIVE-WORM"))  # development: GOVERNANCE or none
    assert_caught(
        only(_log_archive("production", None), "PF-LOG-ARCHIVE-WORM"),
        "'acme-logs' receives ALB access logs and has no aws_s3_bucket_object_lock_configuration",
        "COMPLIANCE",
    )
    assert_caught(
        only(
            _log_archive("production", {"rule": {"default_retention": {"mode": "GOVERNANCE", "days": 365}}}),
            "PF-LOG-ARCHIVE-WORM",
        ),
        "'GOVERNANCE' mode",
    )
    assert_caught(
        only(
            _log_archive("production", {"rule": {"default_retention": {"mode": "COMPLIANCE", "days": 30}}}),
            "PF-LOG-ARCHIVE-WORM",
        ),
        "30 days",
        "under 365",
    )
    assert_caught(only(_log_archive("production", {}), "PF-LOG-ARCHIVE-WORM"), "without a default retention")


def _archive_with_policy(environment_type: str, *statements: dict[str, Any]) -> dict[str, Any]:
    config = _log_archive(environment_type, None)
    config["resource"]["aws_s3_bucket_policy"] = dict(
        [res("policy", bucket="${aws_s3_bucket.logs.id}", policy=json.dumps({"Statement": list(statements)}))]
    )
    return config


BREAK_GLASS_DENY = {
    "Sid": "DenyLogBucketConfigurationChanges",
    "Effect": "Deny",
    "Principal": "*",
    "Action": [
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketObjectLockConfiguration",
    ],
    "Resource": "${aws_s3_bucket.logs.arn}",
    "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/break-glass/admin"]}},
}


@pytest.mark.pci("10.3.3, 10.5.1")
def test_production_log_archive_rules_are_the_break_glass_roles() -> None:
    rule = "PF-LOG-ARCHIVE-BREAK-GLASS"
    assert_clean(only(_archive_with_policy("production", BREAK_GLASS_DENY), rule))
    assert_clean(only(_archive_with_policy("development"), rule))  # development: BREAK_GLASS_ROLE_ARN is optional
    assert_caught(
        only(_log_archive("production", None), rule), "'acme-logs' receives ALB access logs", "no bucket policy"
    )
    assert_caught(only(_archive_with_policy("production"), rule), "BREAK_GLASS_ROLE_ARN", "s3:PutBucketPolicy")
    for weaker in (
        {**BREAK_GLASS_DENY, "Action": ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy"]},  # lifecycle and lock open
        {**BREAK_GLASS_DENY, "Effect": "Allow"},
        {**BREAK_GLASS_DENY, "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/*"]}}},
        {**BREAK_GLASS_DENY, "Resource": "${aws_s3_bucket.other.arn}"},
    ):
        assert_caught(only(_archive_with_policy("production", weaker), rule), "lets any principal")


def test_the_synthesized_stacks_lock_their_archive(synth_json: dict[str, Any], dev_synth_json: dict[str, Any]) -> None:
    assert_clean(only(synth_json, "PF-LOG-ARCHIVE-WORM"))
    production_without_lock = {
        **synth_json,
        "resource": {
            rtype: body
            for rtype, body in synth_json["resource"].items()
            if rtype != "aws_s3_bucket_object_lock_configuration"
        },
    }
    assert only(production_without_lock, "PF-LOG-ARCHIVE-WORM")
    assert_clean(only(dev_synth_json, "PF-LOG-ARCHIVE-WORM"))
    assert_clean(only(synth_json, "PF-LOG-ARCHIVE-BREAK-GLASS"))  # production names the role


def _cdn(
    environment_type: str, web_acl_id: str | None, *, scope: str = "CLOUDFRONT", alias_region: str = "us-east-1"
) -> dict[str, Any]:
    provider = _provider(environment_type)
    provider["aws"].append({"alias": "us_east_1", "region": alias_region})
    body: dict[str, Any] = {"default_cache_behavior": {"viewer_protocol_policy": "https-only"}}
    if web_acl_id is not None:
        body["web_acl_id"] = web_acl_id
    return stack(
        ("aws_cloudfront_distribution", *res("cdn", **body)),
        ("aws_wafv2_web_acl", *res("acl", scope=scope, provider="aws.us_east_1")),
        provider=provider,
    )


@pytest.mark.pci("6.4.1, 6.4.2")
def test_production_cloudfront_has_a_cloudfront_scope_waf() -> None:
    arn = "${aws_wafv2_web_acl.acl.arn}"
    assert_clean(only(_cdn("production", arn), "PF-CLOUDFRONT-WAF"))
    assert_clean(
        only(_cdn("production", "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/1"), "PF-CLOUDFRONT-WAF")
    )
    assert_caught(only(_cdn("production", None), "PF-CLOUDFRONT-WAF"), "no web_acl_id", "CLOUDFRONT")
    assert_caught(only(_cdn("development", None), "PF-CLOUDFRONT-WAF"), "no web_acl_id", severity=Severity.WARNING)
    assert_caught(only(_cdn("development", "${aws_wafv2_web_acl.acl.id}"), "PF-CLOUDFRONT-WAF"), "the web ACL's 'id'")
    assert_caught(only(_cdn("production", arn, scope="REGIONAL"), "PF-CLOUDFRONT-WAF"), "scope 'REGIONAL'")
    assert_caught(
        only(_cdn("production", arn, alias_region="eu-west-1"), "PF-CLOUDFRONT-WAF"),
        "created in 'eu-west-1'",
        "us-east-1 provider alias",
    )


# ------------------------------------------------------------------------- the regression in code, then synth


def _child(scope: Any, path: str) -> Any:
    for part in path.split("/"):
        scope = scope.node.find_child(part)
    return scope


def _http_listener(stack_: Any) -> None:
    from cdktf_cdktf_provider_aws.alb_listener import (  # pylint: disable=import-outside-toplevel
        AlbListener,
        AlbListenerDefaultAction,
    )

    compute = _child(stack_, "compute")
    AlbListener(
        compute,
        "http_listener",
        load_balancer_arn=compute.alb_arn,
        port=80,
        protocol="HTTP",
        default_action=[AlbListenerDefaultAction(type="forward", target_group_arn=compute.target_group_arn)],
    )


def _force_ssl_off(stack_: Any) -> None:
    from cdktf_cdktf_provider_aws.db_parameter_group import (  # pylint: disable=import-outside-toplevel
        DbParameterGroupParameter,
    )

    _child(stack_, "database/parameter_group").put_parameter(
        [
            DbParameterGroupParameter(name="rds.force_ssl", value="0", apply_method="immediate"),
            DbParameterGroupParameter(name="shared_preload_libraries", value="pgaudit", apply_method="pending-reboot"),
            DbParameterGroupParameter(name="pgaudit.log", value="ddl,role", apply_method="immediate"),
            DbParameterGroupParameter(name="log_connections", value="1", apply_method="immediate"),
        ]
    )


REGRESSIONS: dict[str, tuple[str, Callable[[Any], None], str]] = {
    "weak ALB TLS policy": (
        "PF-ALB-TLS-POLICY",
        lambda s: _child(s, "compute/https_listener").add_override("ssl_policy", "ELBSecurityPolicy-2016-08"),
        "'ELBSecurityPolicy-2016-08'",
    ),
    "HTTP listener": ("PF-ALB-HTTPS-ONLY", _http_listener, "port 80 uses protocol 'HTTP'"),
    "CloudFront allow-all": (
        "PF-CLOUDFRONT-HTTPS-ONLY",
        lambda s: _child(s, "frontend/distribution").add_override(
            "default_cache_behavior.viewer_protocol_policy", "allow-all"
        ),
        "'allow-all'",
    ),
    "public access block off": (
        "PF-S3-PUBLIC-ACCESS-BLOCK",
        lambda s: _child(s, "log_archive/logs_public_access_block").add_override("block_public_policy", False),
        "block_public_policy not true",
    ),
    "KMS rotation off": (
        "PF-KMS-ROTATION",
        lambda s: _child(s, "encryption/data_key").add_override("enable_key_rotation", False),
        "enable_key_rotation is False",
    ),
    "rds.force_ssl off": ("PF-RDS-FORCE-SSL", _force_ssl_off, "rds.force_ssl is '0'"),
    "WAF association removed": (
        "PF-ALB-WAF",
        lambda s: _child(s, "compute").node.try_remove_child("waf_association"),
        "without an aws_wafv2_web_acl_association",
    ),
    "CloudFront without WAF": (
        "PF-CLOUDFRONT-WAF",
        lambda s: _child(s, "frontend/distribution").add_override("web_acl_id", ""),
        "no web_acl_id",
    ),
    "short retention in code": (
        "PF-LOG-RETENTION",
        lambda s: _child(s, "waf/waf_log_group").add_override("retention_in_days", 30),
        "is 30, written in code",
    ),
}


def test_the_unmodified_stack_passes_every_gate(synth_json: dict[str, Any]) -> None:
    gates = {rule_id for rule_id, _, _ in REGRESSIONS.values()}
    assert_clean([f for f in errors(run_preflight(synth_json)) if f.rule_id in gates])


@pytest.mark.pci("4.2", "6.4.1, 6.4.2", "3.5, 3.6, 3.7", "10.2, 10.3, 10.5")
@pytest.mark.parametrize("regression", sorted(REGRESSIONS))
def test_each_regression_stops_synth(
    regression: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    synth_json: dict[str, Any],
) -> None:
    import tap  # pylint: disable=import-outside-toplevel
    from lib import tap_stack  # pylint: disable=import-outside-toplevel

    assert synth_json  # the session's stack is built: the bindings are loaded, this synth takes ~2 s
    rule_id, mutate, fragment = REGRESSIONS[regression]

    class MutatedStack(tap_stack.TapStack):
        """The real stack with one regression written into its code."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            mutate(self)

    monkeypatch.setattr(tap_stack, "TapStack", MutatedStack)
    outdir = tmp_path / "cdktf.out"
    with pytest.raises(tap.PreflightError, match="preflight found"):
        tap.synthesize(StackConfig.from_env(dict(PRODUCTION_ENV)), outdir, production_artifact())
    report = capsys.readouterr().err
    assert any(line.startswith("[ERROR] " + rule_id) and fragment in line for line in report.splitlines()), report
    assert not outdir.exists()
