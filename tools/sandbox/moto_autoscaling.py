"""Fidelity patches of the emulator's Auto Scaling: the instance lifecycle the stack's group relies on (issue 22).

moto 5.2.5 drops ``LifecycleHookSpecificationList`` (CreateAutoScalingGroup's hooks; the AWS provider, as the
sandbox's request log shows, creates a group with ``initial_lifecycle_hook`` empty, then calls PutLifecycleHook, then
sets the group's sizes), puts every
instance InService and into its target groups at once, answers ``CompleteLifecycleAction``,
``RecordLifecycleActionHeartbeat``, ``StartInstanceRefresh`` and ``DescribeInstanceRefreshes`` with a 500, and drops
``InstanceMaintenancePolicy``. Each patch below closes one of those gaps as AWS behaves (registered with
``tools.sandbox.fidelity.fidelity_patch``, applied by ``tools/sandbox/moto_server.py``, tested in
``tests/sandbox/test_moto_patches.py``, listed in docs/developing.md's "Sandbox internals").
"""

# Patching moto means calling and replacing its protected helpers (``_get_param`` and friends).
# pylint: disable=protected-access

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tools.sandbox.fidelity import fidelity_patch

# Lifecycle states of an instance that counts towards the group's capacity before it is InService (AWS's
# Pending -> Pending:Wait -> Pending:Proceed -> InService); moto knows InService only.
LAUNCHING_STATES = ("Pending", "Pending:Wait", "Pending:Proceed")
LAUNCH_TRANSITION = "autoscaling:EC2_INSTANCE_LAUNCHING"


def _launch_hooks(backend: Any, group_name: str) -> list[Any]:
    """The group's lifecycle hooks on the launch transition (moto keeps hooks per backend, by group name)."""
    return [
        hook
        for hook in backend.lifecycle_hooks.values()
        if hook.auto_scaling_group_name == group_name and hook.lifecycle_transition == LAUNCH_TRANSITION
    ]


def _group_or_error(backend: Any, group_name: str) -> Any:
    from moto.autoscaling.exceptions import ValidationError  # pylint: disable=import-outside-toplevel

    group = backend.autoscaling_groups.get(group_name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {group_name} not found")
    return group


@fidelity_patch(
    "CreateAutoScalingGroup keeps its LifecycleHookSpecificationList as lifecycle hooks before the first "
    "instance launches, and DescribeLifecycleHooks reports no "
    "notification target or role the hook was not given (moto drops the list and invents both ARNs)"
)
def autoscaling_initial_lifecycle_hooks() -> None:
    """Create the listed hooks first (AWS: 'lifecycle hooks to add to the Auto Scaling group before instances are
    launched'), then the group; a refused group leaves no hook behind."""
    from moto.autoscaling import models  # pylint: disable=import-outside-toplevel
    from moto.autoscaling.responses import AutoScalingResponse  # pylint: disable=import-outside-toplevel

    hook_init = models.LifecycleHook.__init__

    def init_hook(self: Any, *args: Any, **kwargs: Any) -> None:
        hook_init(self, *args, **kwargs)
        self.role_arn = None
        self.notification_target_arn = None

    original = AutoScalingResponse.create_auto_scaling_group

    def create_auto_scaling_group(self: Any) -> Any:
        group_name = self._get_param("AutoScalingGroupName")
        backend = self.autoscaling_backend
        created = []
        for spec in self._get_param("LifecycleHookSpecificationList", []) or []:
            hook = backend.create_lifecycle_hook(
                name=spec["LifecycleHookName"],
                as_name=group_name,
                transition=spec.get("LifecycleTransition"),
                timeout=spec.get("HeartbeatTimeout"),
                result=spec.get("DefaultResult"),
            )
            hook.notification_target_arn = spec.get("NotificationTargetARN")
            hook.role_arn = spec.get("RoleARN")
            hook.notification_metadata = spec.get("NotificationMetadata")
            created.append(hook.name)
        try:
            return original(self)
        except Exception:
            for name in created:
                backend.delete_lifecycle_hook(group_name, name)
            raise

    models.LifecycleHook.__init__ = init_hook  # type: ignore[method-assign]  # fidelity patch
    AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group  # type: ignore[method-assign]  # patch


@fidelity_patch(
    "While a group has a launch lifecycle hook, a launched instance waits in Pending:Wait (not registered with "
    "the group's target groups, but counted in its capacity) until CompleteLifecycleAction (moto puts every "
    "instance InService and into the target groups at once, and counts only InService instances)"
)
def autoscaling_launch_hooks_hold_instances() -> None:
    """New instances of a hooked group start Pending:Wait; capacity counts launching instances too (else every
    capacity update would launch more, and draining the group for deletion would never end); target groups
    receive InService instances only."""
    from moto.autoscaling import models  # pylint: disable=import-outside-toplevel

    original_launch = models.FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        known = {id(state) for state in self.instance_states}
        original_launch(self, count_needed, propagated_tags)
        if not _launch_hooks(self.autoscaling_backend, self.name):
            return
        for state in self.instance_states:
            if id(state) not in known:
                state.lifecycle_state = "Pending:Wait"
                state.lifecycle_action_token = str(uuid.uuid4())

    def active_instances(self: Any) -> list[Any]:
        return [s for s in self.instance_states if s.lifecycle_state in ("InService", *LAUNCHING_STATES)]

    def update_attached_target_groups(self: Any, group_name: str) -> None:
        group = self.autoscaling_groups[group_name]
        if not group.target_group_arns:
            return
        in_service = [s.instance.id for s in group.instance_states if s.lifecycle_state == "InService"]
        for target_group in self.elbv2_backend.describe_target_groups(
            target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
        ):
            targets = [{"Id": instance_id, "Port": target_group.port} for instance_id in in_service]
            self.elbv2_backend.register_targets(target_group.arn, targets)

    group, backend = models.FakeAutoScalingGroup, models.AutoScalingBackend
    group.replace_autoscaling_group_instances = replace_autoscaling_group_instances  # type: ignore[method-assign]  # patch
    group.active_instances = active_instances  # type: ignore[method-assign]  # fidelity patch
    backend.update_attached_target_groups = update_attached_target_groups  # type: ignore[method-assign]  # patch


def _waiting_state(backend: Any, params: Any) -> Any:
    """The Pending:Wait instance a CompleteLifecycleAction/RecordLifecycleActionHeartbeat names (by instance id or
    token), or AWS's ValidationError."""
    from moto.autoscaling.exceptions import ValidationError  # pylint: disable=import-outside-toplevel

    group = _group_or_error(backend, params("AutoScalingGroupName"))
    hook_name = params("LifecycleHookName")
    if hook_name not in {hook.name for hook in _launch_hooks(backend, group.name)}:
        raise ValidationError(f"No Lifecycle Hook found with name {hook_name} for group {group.name}")
    instance_id, token = params("InstanceId"), params("LifecycleActionToken")
    for state in group.instance_states:
        if state.lifecycle_state == "Pending:Wait" and (
            state.instance.id == instance_id or (token and getattr(state, "lifecycle_action_token", None) == token)
        ):
            return state
    raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id or token}")


@fidelity_patch(
    "CompleteLifecycleAction moves a Pending:Wait instance on: CONTINUE puts it InService (and into the target "
    "groups), ABANDON terminates it and the group launches a replacement; RecordLifecycleActionHeartbeat "
    "answers 200 for a waiting instance (moto answers both with a 500)"
)
def autoscaling_complete_lifecycle_action() -> None:
    """The two calls an instance's boot makes to its launch hook, with AWS's ValidationError for a group, hook or
    instance that has no waiting lifecycle action."""
    from moto.autoscaling.exceptions import ValidationError  # pylint: disable=import-outside-toplevel
    from moto.autoscaling.responses import AutoScalingResponse  # pylint: disable=import-outside-toplevel
    from moto.core.responses import EmptyResult  # pylint: disable=import-outside-toplevel
    from moto.elbv2.models import elbv2_backends  # pylint: disable=import-outside-toplevel

    def complete_lifecycle_action(self: Any) -> EmptyResult:
        backend = self.autoscaling_backend
        state = _waiting_state(backend, self._get_param)
        result = self._get_param("LifecycleActionResult")
        if result not in ("CONTINUE", "ABANDON"):
            raise ValidationError(f"LifecycleActionResult {result!r} is not CONTINUE or ABANDON")
        group = state.auto_scaling_group
        if result == "CONTINUE":
            state.lifecycle_state = "InService"
            backend.update_attached_target_groups(group.name)
            return EmptyResult()
        instance_id = state.instance.id
        group.instance_states = [s for s in group.instance_states if s is not state]
        backend.ec2_backend.terminate_instances([instance_id])
        elbv2_backends[self.current_account][self.region].notify_terminate_instances([instance_id])
        group.set_desired_capacity(group.desired_capacity)  # the replacement, Pending:Wait again
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self: Any) -> EmptyResult:
        _waiting_state(self.autoscaling_backend, self._get_param)
        return EmptyResult()

    responses = AutoScalingResponse
    responses.complete_lifecycle_action = complete_lifecycle_action  # type: ignore[attr-defined]  # op moto lacks
    responses.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat  # type: ignore[attr-defined]  # ditto


@fidelity_patch(
    "StartInstanceRefresh is recorded and DescribeInstanceRefreshes returns it (moto answers both with a 500, so "
    "an apply that makes a new launch template version fails); the emulator replaces no instance, so the refresh "
    "is reported Successful at once"
)
def autoscaling_instance_refresh() -> None:
    """Record each refresh with its strategy, preferences and desired configuration; list them newest first."""
    from moto.autoscaling.exceptions import AutoscalingClientError  # pylint: disable=import-outside-toplevel
    from moto.autoscaling.responses import AutoScalingResponse  # pylint: disable=import-outside-toplevel
    from moto.core.responses import ActionResult  # pylint: disable=import-outside-toplevel
    from moto.core.utils import utcnow  # pylint: disable=import-outside-toplevel

    class ActiveInstanceRefreshNotFound(AutoscalingClientError):
        """AWS's answer to CancelInstanceRefresh when no refresh is in progress."""

        code = "ActiveInstanceRefreshNotFound"

    def refreshes(backend: Any) -> list[dict[str, Any]]:
        if not hasattr(backend, "_sandbox_refreshes"):
            backend._sandbox_refreshes = []
        return backend._sandbox_refreshes

    def start_instance_refresh(self: Any) -> ActionResult:
        group = _group_or_error(self.autoscaling_backend, self._get_param("AutoScalingGroupName"))
        now = utcnow()
        refresh = {
            "InstanceRefreshId": str(uuid.uuid4()),
            "AutoScalingGroupName": group.name,
            "Status": "Successful",
            "StatusReason": "sandbox emulator: recorded, no instance replaced",
            "StartTime": now,
            "EndTime": now,
            "PercentageComplete": 100,
            "InstancesToUpdate": 0,
            "Strategy": self._get_param("Strategy") or "Rolling",
            "Preferences": self._get_param("Preferences") or {},
            "DesiredConfiguration": self._get_param("DesiredConfiguration") or {},
        }
        refreshes(self.autoscaling_backend).insert(0, refresh)
        return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})

    def describe_instance_refreshes(self: Any) -> ActionResult:
        group_name = self._get_param("AutoScalingGroupName")
        wanted = self._get_param("InstanceRefreshIds", []) or []
        found = [
            refresh
            for refresh in refreshes(self.autoscaling_backend)
            if refresh["AutoScalingGroupName"] == group_name and (not wanted or refresh["InstanceRefreshId"] in wanted)
        ]
        return ActionResult({"InstanceRefreshes": found})

    def cancel_instance_refresh(self: Any) -> ActionResult:
        group = _group_or_error(self.autoscaling_backend, self._get_param("AutoScalingGroupName"))
        raise ActiveInstanceRefreshNotFound(f"No in progress or pending Instance Refresh found for {group.name}")

    for name, handler in (
        ("start_instance_refresh", start_instance_refresh),
        ("describe_instance_refreshes", describe_instance_refreshes),
        ("cancel_instance_refresh", cancel_instance_refresh),
    ):
        setattr(AutoScalingResponse, name, handler)  # operations moto lacks, dispatched by the Action name


@fidelity_patch(
    "Auto Scaling groups keep the InstanceMaintenancePolicy they are created or updated with and "
    "DescribeAutoScalingGroups returns it (moto drops it, so every plan would set it again)"
)
def autoscaling_instance_maintenance_policy() -> None:
    """Store InstanceMaintenancePolicy from CreateAutoScalingGroup/UpdateAutoScalingGroup; -1 for both percentages
    clears it, as AWS documents."""
    from moto.autoscaling import models  # pylint: disable=import-outside-toplevel
    from moto.autoscaling.responses import AutoScalingResponse  # pylint: disable=import-outside-toplevel

    models.FakeAutoScalingGroup.instance_maintenance_policy = None  # type: ignore[attr-defined]  # class default

    def keeping(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def handler(self: Any) -> Any:
            result = original(self)
            policy = self._get_param("InstanceMaintenancePolicy")
            if policy is not None:
                group = self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")]
                values = {key: int(value) for key, value in policy.items() if value is not None}
                cleared = values.get("MinHealthyPercentage") == -1 and values.get("MaxHealthyPercentage") == -1
                group.instance_maintenance_policy = None if cleared else values
            return result

        return handler

    for name in ("create_auto_scaling_group", "update_auto_scaling_group"):
        setattr(AutoScalingResponse, name, keeping(getattr(AutoScalingResponse, name)))  # fidelity patch
