"""PF-PAGE-WATCH (preflight/rules_detection.py): the bucket CloudFront serves keeps its object-event alert to an SNS
topic and its scheduled, alarmed integrity check; dropping any part of either is a finding, on a stack built here and
on the synthesized production stack."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from preflight import run_preflight
from tests.unit.preflight.builders import assert_caught, assert_clean, only, res, stack

Item = tuple[str, str, dict[str, Any]]
RULE = "PF-PAGE-WATCH"
BUCKET = "${aws_s3_bucket.page.bucket}"
TOPIC = "${aws_sns_topic.oncall.arn}"
CHECK = "${aws_lambda_function.check.arn}"


def _watched(**drop: bool) -> list[Item]:
    """The page's bucket served by a distribution, its alert and its check; ``drop`` leaves parts out."""
    pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": [BUCKET]}}}
    items: dict[str, Item] = {
        "bucket": ("aws_s3_bucket", *res("page", bucket="payment-frontend")),
        "cdn": (
            "aws_cloudfront_distribution",
            *res("cdn", origin=[{"domain_name": "${aws_s3_bucket.page.bucket_regional_domain_name}"}]),
        ),
        "topic": ("aws_sns_topic", *res("oncall", name="oncall")),
        "notification": (
            "aws_s3_bucket_notification",
            *res("events", bucket="${aws_s3_bucket.page.id}", eventbridge=True),
        ),
        "rule": ("aws_cloudwatch_event_rule", *res("changed", event_pattern=json.dumps(pattern))),
        "target": (
            "aws_cloudwatch_event_target",
            *res("changed_target", rule="${aws_cloudwatch_event_rule.changed.name}", arn=TOPIC),
        ),
        "check": (
            "aws_lambda_function",
            *res("check", environment={"variables": {"PAGE_URL": "https://pay", "METRIC_NAMESPACE": "payment/x"}}),
        ),
        "schedule": ("aws_cloudwatch_event_rule", *res("schedule", schedule_expression="rate(1 hour)")),
        "schedule_target": (
            "aws_cloudwatch_event_target",
            *res("schedule_target", rule="${aws_cloudwatch_event_rule.schedule.name}", arn=CHECK),
        ),
        "alarm": ("aws_cloudwatch_metric_alarm", *res("differences", namespace="payment/x", alarm_actions=[TOPIC])),
    }
    return [item for key, item in items.items() if not drop.get(key)]


def test_a_watched_page_bucket_passes_and_a_stack_without_a_page_is_not_judged() -> None:
    assert_clean(only(stack(*_watched()), RULE))
    # A bucket nobody serves through CloudFront is no payment page: no alert or check is asked of it.
    assert_clean(only(stack(*_watched(cdn=True, rule=True, check=True)), RULE))


@pytest.mark.pci("6.4.3, 11.6.1")
@pytest.mark.parametrize(
    ("dropped", "says"),
    [
        ("notification", "sends no events to EventBridge"),
        ("rule", "no EventBridge rule on its object events"),
        ("target", "no EventBridge rule on its object events"),
        ("check", "no integrity check"),
        ("schedule", "runs on no schedule"),
        ("schedule_target", "runs on no schedule"),
        ("alarm", "no alarm on the check's METRIC_NAMESPACE"),
    ],
)
def test_dropping_a_part_of_the_page_watch_is_caught(dropped: str, says: str) -> None:
    assert_caught(only(stack(*_watched(**{dropped: True})), RULE), "Stack/page", says, "PageIntegrity")


def test_an_alert_to_something_other_than_a_topic_is_caught() -> None:
    items = _watched(target=True)
    items.append(
        (
            "aws_cloudwatch_event_target",
            *res("to_queue", rule="${aws_cloudwatch_event_rule.changed.name}", arn="${aws_sqs_queue.q.arn}"),
        )
    )
    assert_caught(only(stack(*items), RULE), "targets an SNS topic")


def _without(rtype: str, path_part: str) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        resources = config["resource"][rtype]
        for name in [n for n, body in resources.items() if path_part in body["//"]["metadata"]["path"]]:
            del resources[name]

    return mutate


@pytest.mark.pci("6.4.3, 11.6.1")
@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (_without("aws_cloudwatch_event_target", "page_objects_changed_target"), "no EventBridge rule"),
        (_without("aws_cloudwatch_event_rule", "page_objects_changed"), "no EventBridge rule"),
        (_without("aws_lambda_function", "page_integrity/function"), "no integrity check"),
        (_without("aws_cloudwatch_metric_alarm", "page_integrity_alarm"), "no alarm"),
        (_without("aws_s3_bucket_notification", "frontend/events"), "sends no events"),
    ],
)
def test_the_synthesized_stack_passes_and_fails_without_its_page_watch(
    synth_json: dict[str, Any], mutate: Callable[[dict[str, Any]], None], says: str
) -> None:
    assert not run_preflight(synth_json, only={RULE})
    broken = copy.deepcopy(synth_json)
    mutate(broken)
    (caught,) = run_preflight(broken, only={RULE})
    assert caught.path.endswith("/frontend/bucket") and says in caught.message and "Fix:" in caught.message
