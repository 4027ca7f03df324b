"""The API instances' launch lifecycle hook, as the sandbox sees it: which instances wait for their boot, and
completing one of them.

The stack's Auto Scaling group holds every new instance in ``Pending:Wait`` under the ``payment-api-boot`` hook
(``lib.components.compute.BOOT_LIFECYCLE_HOOK``) until the instance's boot completes it; the emulator does the same
(tools/sandbox/moto_server.py, the ``autoscaling_*`` fidelity patches). The sandbox's boot phase runs each waiting
instance's boot; these two calls are what it (and the tests) need around that:

    waiting_instances(client, asg_name) -> ["i-...", ...]
    complete(client, asg_name, instance_id, "CONTINUE" | "ABANDON")

``client`` is a boto3 Auto Scaling client (``tools.sandbox.emulator.client("autoscaling", endpoint)``).
"""

from __future__ import annotations

from typing import Any

# lib.components.compute.BOOT_LIFECYCLE_HOOK, written out: importing the component would load cdktf and the provider
# bindings into every sandbox tool (tests/unit/tools/test_lifecycle.py holds the two equal).
BOOT_LIFECYCLE_HOOK = "payment-api-boot"
WAITING_STATE = "Pending:Wait"
RESULTS = ("CONTINUE", "ABANDON")


def waiting_instances(client: Any, asg_name: str) -> list[str]:
    """The ids of the group's instances in ``Pending:Wait`` (held by a launch hook), sorted.

    Raises LookupError when the group does not exist (a wrong name, or a stack that was not applied)."""
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"]
    if not groups:
        raise LookupError(f"no Auto Scaling group named {asg_name!r}: is the stack applied, and is this its asg_name?")
    return sorted(i["InstanceId"] for i in groups[0].get("Instances", []) if i.get("LifecycleState") == WAITING_STATE)


def complete(
    client: Any, asg_name: str, instance_id: str, result: str, *, hook_name: str = BOOT_LIFECYCLE_HOOK
) -> None:
    """Complete ``instance_id``'s launch lifecycle action with ``result``: CONTINUE puts it in service, ABANDON
    terminates it (the group then launches a replacement).

    Raises ValueError for a result other than CONTINUE or ABANDON, before any call; the API's own error (a
    botocore ClientError ``ValidationError``) when the instance has no waiting lifecycle action."""
    if result not in RESULTS:
        raise ValueError(f"lifecycle action result {result!r}: use one of {', '.join(RESULTS)}")
    client.complete_lifecycle_action(
        AutoScalingGroupName=asg_name,
        LifecycleHookName=hook_name,
        InstanceId=instance_id,
        LifecycleActionResult=result,
    )
