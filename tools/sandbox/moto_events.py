"""Fidelity patches of the emulator's EventBridge (split from ``tools/sandbox/moto_server.py``, which applies them
through ``PATCH_MODULES``): the rules of issue 28 that notify the on-call topic (``lib/components/page_watch.py``'s
``page-objects-changed``, ``lib/components/security_alerts.py``'s KMS key events). Each patch is registered with
``tools.sandbox.fidelity.fidelity_patch``, tested in ``tests/sandbox/test_moto_events.py`` and listed in
docs/developing.md's "Sandbox internals".
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tools.sandbox.fidelity import fidelity_patch


def sns_message(target: dict[str, Any], event: Any) -> str:
    """What EventBridge publishes to an SNS target for ``event``: the target's input transformer's text, its
    constant ``Input``, or the event as JSON (EventBridge User Guide, "Transforming target input")."""
    from moto.core.utils import unix_time  # pylint: disable=import-outside-toplevel
    from moto.events.utils import EventTemplateParser  # pylint: disable=import-outside-toplevel

    if "Input" in target:
        return str(target["Input"])
    transformer = target.get("InputTransformer")
    if transformer is None:
        return json.dumps(event)
    # moto's parser reads the event's ingestion time, which the events S3 sends (moto's notifications) do not carry.
    timed: Any = {**event, "ingestion-time": event.get("ingestion-time", unix_time())}
    result: Any = EventTemplateParser.parse(
        input_template=transformer.get("InputTemplate"),
        input_paths_map=transformer.get("InputPathsMap", {}),
        event=timed,
    )
    # moto's parse says it returns a dict; a template that is one quoted string (the stack's) gives that string.
    return result if isinstance(result, str) else json.dumps(result)


@fidelity_patch(
    "EventBridge rules deliver to SNS topic targets, through the target's input transformer, as AWS does (moto 5.2.5 "
    "sends only to log groups, SQS, buses, archives and API destinations and raises NotImplementedError on an SNS "
    "target, which S3's EventBridge notification swallows: the page's object-event alert and the KMS key-event alert "
    "never reached the on-call topic, and a rule with an SNS target stopped delivery to the rule's other targets); "
    "a scheduled rule (no event pattern) matches no event, as on AWS (moto matched every event to it, and its Lambda "
    "target's NotImplementedError stopped S3's delivery to the rules after it)"
)
def events_deliver_to_sns_targets() -> None:
    """No event for a scheduled rule; moto's delivery to the rule's other targets, then the matching event published
    to each SNS target."""
    # pylint: disable=import-outside-toplevel
    from moto.events.models import Rule
    from moto.sns.exceptions import SNSNotFoundError
    from moto.sns.models import sns_backends
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.event_pattern.dump() is None:
            return  # a scheduled rule: AWS runs its targets on the schedule, never for an event
        topics = [t for t in self.targets if parse_arn(t["Arn"]).service == "sns"]
        # A copy of the rule without its SNS targets for moto's own delivery: the rule itself is left untouched
        # (another request may be reading or changing its targets meanwhile).
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in topics]
        original(others, original_event, transform_input)
        if not topics or not self.event_pattern.matches_event(original_event):
            return
        for target in topics:
            arn = parse_arn(target["Arn"])
            try:
                sns_backends[arn.account][arn.region].publish(
                    message=sns_message(target, original_event), arn=target["Arn"]
                )
            except SNSNotFoundError:
                continue  # a deleted topic: AWS counts a failed invocation and tells the caller nothing

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]  # fidelity patch
