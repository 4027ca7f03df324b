"""tools/sandbox/lifecycle.py without an emulator: the hook it completes is the stack's, and a wrong result is refused
before any call (tests/sandbox/test_moto_patches.py runs both functions against the patched emulator)."""

from __future__ import annotations

from typing import Any

import pytest

from lib.components.compute import BOOT_LIFECYCLE_HOOK
from tools.sandbox import lifecycle


class _Recorder:
    """A stand-in Auto Scaling client that records calls and answers one group."""

    def __init__(self, instances: list[dict[str, str]] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.instances = instances

    def describe_auto_scaling_groups(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe", kwargs))
        groups = [] if self.instances is None else [{"Instances": self.instances}]
        return {"AutoScalingGroups": groups}

    def complete_lifecycle_action(self, **kwargs: Any) -> None:
        self.calls.append(("complete", kwargs))


def test_the_hook_is_the_stacks() -> None:
    assert lifecycle.BOOT_LIFECYCLE_HOOK == BOOT_LIFECYCLE_HOOK


def test_waiting_instances_are_the_pending_wait_ones_sorted() -> None:
    client = _Recorder(
        [
            {"InstanceId": "i-2", "LifecycleState": "Pending:Wait"},
            {"InstanceId": "i-3", "LifecycleState": "InService"},
            {"InstanceId": "i-1", "LifecycleState": "Pending:Wait"},
        ]
    )
    assert lifecycle.waiting_instances(client, "payment-api-asg-x") == ["i-1", "i-2"]
    assert client.calls == [("describe", {"AutoScalingGroupNames": ["payment-api-asg-x"]})]


def test_an_unknown_group_is_named() -> None:
    with pytest.raises(LookupError, match="payment-api-asg-missing"):
        lifecycle.waiting_instances(_Recorder(None), "payment-api-asg-missing")


def test_complete_names_the_boot_hook() -> None:
    client = _Recorder([])
    lifecycle.complete(client, "payment-api-asg-x", "i-1", "CONTINUE")
    assert client.calls == [
        (
            "complete",
            {
                "AutoScalingGroupName": "payment-api-asg-x",
                "LifecycleHookName": "payment-api-boot",
                "InstanceId": "i-1",
                "LifecycleActionResult": "CONTINUE",
            },
        )
    ]


def test_a_wrong_result_is_refused_before_any_call() -> None:
    client = _Recorder([])
    with pytest.raises(ValueError, match=r"'continue'.*CONTINUE, ABANDON"):
        lifecycle.complete(client, "payment-api-asg-x", "i-1", "continue")
    assert not client.calls
