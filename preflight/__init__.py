"""Preflight: checks over a synthesized ``cdk.tf.json`` for what ``terraform validate`` cannot know.

Why: every deployment failure in the seed analysis passed synth and validate and then failed against AWS
halfway through an apply (a retired RDS version, user data that was not base64, a WAF association given an
id instead of an ARN, a backend key). These rules read the JSON that Terraform will receive and stop synth
with a message naming the construct path, the bad value and the fix. Pure Python over a dict: no cdktf or
jsii import, so ``python -m preflight`` runs in well under a second.

Public API: :func:`run_preflight`, :class:`Finding`, :class:`Severity`, :data:`RULES`, :func:`format_report`.

Rules (ids are stable; tests and ``docs/compliance.md`` refer to them):

- ``PF-RDS-ENGINE-VERSION`` engine/version in the allow-list, parameter group family matches
- ``PF-RDS-INSTANCE-CLASS`` / ``PF-EC2-INSTANCE-TYPE`` families that exist (variable defaults and validation)
- ``PF-USER-DATA`` launch template user data base64, <= 16 KB encoded, no ``${``/``%{`` in the script
- ``PF-WAF-ASSOCIATION-ARN`` association by a REGIONAL web ACL's ``.arn``
- ``PF-BACKEND`` backend keys Terraform 1.11 accepts; S3 needs ``use_lockfile`` and ``encrypt``
- ``PF-RDS-WINDOWS`` backup and maintenance windows valid and >= 30 minutes apart
- ``PF-S3-OBJECT-TAGS`` an S3 object's tags plus its provider's default tags stay within S3's 10; no ``Name`` tag
- ``PF-NAME-ELB`` / ``PF-NAME-S3`` / ``PF-NAME-IAM`` / ``PF-NAME-RDS`` / ``PF-NAME-LOG-GROUP`` AWS name rules
- ``PF-CIDR`` subnets inside the VPC and not overlapping
- ``PF-SG-INTERNET-INGRESS`` internet ingress only to the ALB, only on 443; default SG empty
- ``PF-DB-ISOLATION`` database not public, not internet-reachable, data subnets without internet route
- ``PF-ENCRYPTION-AT-REST`` RDS, EBS, S3, log groups, SNS, SSM SecureString
- ``PF-POLICY-WILDCARD-PRINCIPAL`` no unconditioned ``"AWS": "*"`` in key/resource policies
- ``PF-IMDSV2`` launch templates require IMDSv2
- ``PF-LOG-RETENTION`` log groups keep 12 months with a valid retention (variable defaults resolved)
- ``PF-IAM-LEAST-PRIVILEGE`` no wildcard actions, no broad AWS managed policies (Resource "*" is a warning)
- ``PF-CLOUDFRONT-LOG-BUCKET`` log bucket with ACLs (ownership control depended on), not SSE-KMS
- ``PF-CLOUDFRONT-LOG-REGION`` no CloudFront standard logging to a region it cannot deliver to
- ``PF-ALB-ACCESS-LOG-BUCKET`` bucket policy grants the ELB principal and is depended on; SSE-S3
- ``PF-WAF-ASSOCIATION-TIMEOUT`` (warning) association create timeout of at least 15 minutes
- ``PF-WAF-LOG-POLICY`` each WAF logging configuration to CloudWatch Logs depends on a log resource policy in its
  own region that lets ``delivery.logs.amazonaws.com`` write to its group, for its account only (provider #36000)
- ``PF-ASG-DESIRED-CAPACITY`` (warning) desired_capacity ignored once a scaling policy owns it
- ``PF-ASG-BOOT-DEPENDENCIES`` a group whose user data names a stack resource depends on it (an object's bucket
  policy too) and on the instance role's profile and policies
- ``PF-RDS-STORAGE`` autoscaling ceiling >= 110 % of the allocation (or 0); gp3 IOPS only from 400 GiB
- ``PF-RDS-PARAMETER-APPLY`` immediate for dynamic parameters, pending-reboot for static ones
- ``PF-CERTIFICATE-REGION`` ALB certificates from the listener's region, CloudFront's from us-east-1
- ``PF-KEY-SERVICE-ACCESS`` keys let in the services that use them (logs, CloudWatch alarms, RDS events,
  EventBridge rules without the aws:Source* conditions AWS does not support for them, CloudFront), in the user's
  region (every rule reads a resource's region from its provider: ``StackView.region_of``)
- ``PF-SUBNET-NACL`` every subnet behind its own tier's network ACL; the default ACL managed, with no rules or subnet
- ``PF-AUDIT-LOG-ARCHIVE`` every audit log group (flow logs, web ACLs, PostgreSQL export, the API's) subscribed to a
  Firehose stream writing to the log archive (``rules_coverage.py``)
- ``PF-DNS-ALIAS-TARGET`` Route 53 alias records reference their target (no literal zone id), no target health for
  CloudFront, and name a host the target serves (distribution aliases, ALB host rules); AAAA only for IPv6 targets
- ``PF-PAGE-WATCH`` (``rules_detection.py``) the bucket CloudFront serves has its object events alerted to an SNS
  topic and a scheduled integrity check (a function with ``PAGE_URL``) whose alarm notifies one
- deploy-path gates (``rules_gates.py``, what only checkov caught before): ``PF-ALB-HTTPS-ONLY``,
  ``PF-CLOUDFRONT-HTTPS-ONLY``, ``PF-S3-PUBLIC-ACCESS-BLOCK``, ``PF-KMS-ROTATION``, ``PF-RDS-FORCE-SSL``,
  ``PF-ALB-WAF``; with ``PF-ALB-TLS-POLICY`` and ``PF-LOG-RETENTION`` (a short retention written in code);
  production only: ``PF-LOG-ARCHIVE-WORM`` (log archive under a COMPLIANCE Object Lock of >= 365 days),
  ``PF-LOG-ARCHIVE-BREAK-GLASS`` (its policy, lifecycle and lock changed by one break-glass role only) and
  ``PF-CLOUDFRONT-WAF`` (the distribution filtered by a CLOUDFRONT-scope web ACL from us-east-1; a warning in
  development)

Data files (``facts/``; each carries ``_source`` and ``_retrieved``, see ``README.md`` there):
``rds_engine_versions.json`` (AWS RDS for PostgreSQL release notes/calendar and the May 2026 minor version
deprecation notice, retrieved 2026-11-28), ``instance_families.json`` (EC2 instance types and RDS DB instance
class documentation, 2026-11-28), ``terraform_backends.json`` (measured with Terraform 1.11.4, 2026-11-28),
``regions.json`` (supported regions, CloudFront logging exclusions, opt-in regions, 2026-11-30),
``rds_parameters.json`` (RDS ApplyType per parameter, 2026-11-30), ``ec2_instance_types.json`` and
``aws_regions.json`` (generated by ``tools/dev/refresh_aws_data.py`` from moto's and botocore's AWS data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight import (  # noqa: F401  (registers rules)
    rules_coverage,
    rules_deploy,
    rules_detection,
    rules_dns,
    rules_first_apply,
    rules_gates,
    rules_names,
    rules_network,
    rules_security,
)
from preflight.model import RULES, Finding, Rule, Severity, StackView

__all__ = ["RULES", "Finding", "Rule", "Severity", "errors", "format_report", "run_preflight"]


def run_preflight(config_json: Mapping[str, Any], *, only: set[str] | None = None) -> list[Finding]:
    """Every finding for one synthesized stack, errors first, in a stable order.

    ``only`` restricts the run to some rule ids (tests use it to show which rule catches what).
    """
    view = StackView(config_json)
    findings: list[Finding] = []
    for rule_id, registered in RULES.items():
        if only is not None and rule_id not in only:
            continue
        findings.extend(registered.check(view))
    order = {Severity.ERROR: 0, Severity.WARNING: 1}
    return sorted(findings, key=lambda f: (order[f.severity], f.rule_id, f.path, f.message))


def errors(findings: list[Finding]) -> list[Finding]:
    """The findings that must stop synth and CI."""
    return [f for f in findings if f.is_error]


def format_report(findings: list[Finding], *, source: str = "stack") -> str:
    """A human-readable report: one line per finding, then a one-line verdict."""
    lines = [str(f) for f in findings]
    n_errors = len(errors(findings))
    n_warnings = len(findings) - n_errors
    verdict = "FAILED" if n_errors else "passed"
    lines.append(f"preflight {verdict} for {source}: {n_errors} error(s), {n_warnings} warning(s), {len(RULES)} rules")
    return "\n".join(lines)
