"""Detection a refactor must not drop (PCI DSS 6.4.3, 11.6.1): the payment page's change alert and integrity check.

Both are easy to lose without any other test noticing: the page still deploys and serves without them, and checkov
judges the bucket, the rule and the function one at a time, never whether the page's bucket is watched. The page's
bucket is the one a CloudFront distribution serves (an origin's ``domain_name`` references it), whatever its name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model import Finding, Resource, StackView, finding, rule, truthy

# The integrity check's contract with its function (tools/page_integrity, lib/components/page_watch.py): the page it
# fetches and the namespace it publishes its differences to.
PAGE_URL_VARIABLE = "PAGE_URL"
NAMESPACE_VARIABLE = "METRIC_NAMESPACE"


def _pattern(event_rule: Resource) -> Mapping[str, Any]:
    try:
        pattern = json.loads(str(event_rule.get("event_pattern") or "{}"))
    except json.JSONDecodeError:
        return {}
    return pattern if isinstance(pattern, Mapping) else {}


def _s3_buckets(event_rule: Resource) -> set[str]:
    """The buckets (as written) whose S3 events the rule matches: ``detail.bucket.name`` of an ``aws.s3`` pattern."""
    pattern = _pattern(event_rule)
    if "aws.s3" not in (pattern.get("source") or []):
        return set()
    return {str(name) for name in ((pattern.get("detail") or {}).get("bucket") or {}).get("name") or []}


def _targets(view: StackView, event_rule: Resource) -> set[str]:
    """The ARNs (as written: references) the rule's targets deliver to."""
    names = view.references_to(event_rule, ("name", "id"))
    return {str(t.get("arn")) for t in view.resources("aws_cloudwatch_event_target") if str(t.get("rule")) in names}


def _topic_refs(view: StackView) -> set[str]:
    return {ref for topic in view.resources("aws_sns_topic") for ref in view.references_to(topic, ("arn", "id"))}


def _page_buckets(view: StackView) -> list[Resource]:
    origins = {
        str(origin.get("domain_name"))
        for distribution in view.resources("aws_cloudfront_distribution")
        for origin in distribution.blocks("origin")
    }
    attrs = ("bucket_regional_domain_name", "bucket_domain_name")
    return [bucket for bucket in view.resources("aws_s3_bucket") if view.references_to(bucket, attrs) & origins]


def _object_event_gaps(view: StackView, bucket: Resource) -> list[str]:
    """What is missing for the bucket's object events to reach an SNS topic."""
    refs = view.references_to(bucket, ("id", "bucket"))
    gaps = []
    if not any(
        truthy(notification.get("eventbridge")) and str(notification.get("bucket")) in refs
        for notification in view.resources("aws_s3_bucket_notification")
    ):
        gaps.append("the bucket sends no events to EventBridge (aws_s3_bucket_notification with eventbridge = true)")
    topics = _topic_refs(view)
    watching = [
        event_rule for event_rule in view.resources("aws_cloudwatch_event_rule") if _s3_buckets(event_rule) & refs
    ]
    if not any(_targets(view, event_rule) & topics for event_rule in watching):
        gaps.append(
            "no EventBridge rule on its object events (source aws.s3, detail.bucket.name naming it) targets an SNS "
            "topic"
        )
    return gaps


def _integrity_gaps(view: StackView) -> list[str]:
    """What is missing for the scheduled integrity check to run and alarm."""
    checks = [
        function
        for function in view.resources("aws_lambda_function")
        for environment in function.blocks("environment")
        if PAGE_URL_VARIABLE in (environment.get("variables") or {})
    ]
    if not checks:
        return [f"no integrity check (an aws_lambda_function with {PAGE_URL_VARIABLE} in its environment)"]
    gaps = []
    check_refs = {ref for function in checks for ref in view.references_to(function, ("arn",))}
    if not any(
        event_rule.get("schedule_expression") and _targets(view, event_rule) & check_refs
        for event_rule in view.resources("aws_cloudwatch_event_rule")
    ):
        gaps.append("the integrity check runs on no schedule (an EventBridge rule with schedule_expression)")
    namespaces = {
        str((environment.get("variables") or {}).get(NAMESPACE_VARIABLE))
        for function in checks
        for environment in function.blocks("environment")
    }
    topics = _topic_refs(view)
    if not any(
        str(alarm.get("namespace")) in namespaces and {str(a) for a in alarm.get("alarm_actions") or []} & topics
        for alarm in view.resources("aws_cloudwatch_metric_alarm")
    ):
        gaps.append(f"no alarm on the check's {NAMESPACE_VARIABLE} notifies an SNS topic")
    return gaps


@rule(
    "PF-PAGE-WATCH",
    "The payment page's bucket (the one CloudFront serves) has its object events alerted to an SNS topic and a "
    "scheduled integrity check that alarms: a changed page or header never goes unseen (PCI DSS 6.4.3, 11.6.1).",
    pci=("6.4.3, 11.6.1",),
)
def check_page_watch(view: StackView) -> Iterator[Finding]:
    buckets = _page_buckets(view)
    integrity = _integrity_gaps(view) if buckets else []
    for bucket in buckets:
        gaps = _object_event_gaps(view, bucket) + integrity
        if gaps:
            yield finding(
                "PF-PAGE-WATCH",
                bucket,
                f"the payment page's bucket is not watched: {'; '.join(gaps)}. Fix: lib/components/page_watch.py's "
                "PageIntegrity (wired in lib/tap_stack.py) creates the object-event rule to the on-call topic, the "
                "scheduled check and its alarm; the bucket's EventBridge notification is lib/blocks/buckets.py's "
                "object_events_to_eventbridge.",
            )
