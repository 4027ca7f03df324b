"""Fidelity patches of the emulator's AWS Backup: backup selections and a vault's recovery points (issue 28 item 7).

moto 5.2.5 has AWS Backup's vaults and plans but no backup selections (Create/Get/Delete/ListBackupSelections
answer "not implemented"), so the stack's selection of the database cannot be created, and no
ListRecoveryPointsByBackupVault, which Terraform calls before deleting a vault created with ``force_destroy``. The
patches below add them as AWS answers them (registered with ``tools.sandbox.fidelity.fidelity_patch``, applied by
``tools/sandbox/moto_server.py``, tested in ``tests/sandbox/test_moto_patches.py``, listed in docs/developing.md's
"Sandbox internals"). moto runs no backup job, so a vault never holds a recovery point: the list is always empty,
as a real vault's is before the plan's first window.
"""

# Patching moto means calling and replacing its protected helpers.
# pylint: disable=protected-access

from __future__ import annotations

import json
import uuid
from typing import Any

from tools.sandbox.fidelity import fidelity_patch


def _selections(backend: Any) -> dict[str, dict[str, Any]]:
    """The backend's selections by id (moto has no store of its own for them)."""
    if not hasattr(backend, "_sandbox_selections"):
        backend._sandbox_selections = {}
    store: dict[str, dict[str, Any]] = backend._sandbox_selections
    return store


def _plan_id(path: str) -> str:
    """``/backup/plans/<plan id>/selections/[<selection id>]``'s plan id."""
    return path.split("/plans/", 1)[1].split("/", 1)[0]


def _selection_id(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _live_plan(backend: Any, plan_id: str) -> Any:
    """The plan, refused as AWS refuses a selection of a missing or deleted plan."""
    from moto.backup.exceptions import ResourceNotFoundException  # pylint: disable=import-outside-toplevel

    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise ResourceNotFoundException(msg=f"Failed reading Backup plan {plan_id}")
    return plan


@fidelity_patch(
    "AWS Backup selections (Create/Get/Delete/ListBackupSelections) exist, and a plan with a selection cannot be "
    "deleted (moto 5.2.5 answers 'not implemented', so the stack's selection of the database cannot be created)"
)
def backup_selections() -> None:
    """Add the selection API to moto's Backup responses; DeleteBackupPlan refuses a plan that still has one."""
    # pylint: disable=import-outside-toplevel
    from moto.backup import responses
    from moto.backup.exceptions import ResourceNotFoundException
    from moto.core.exceptions import JsonRESTError
    from moto.core.utils import unix_time

    def create(self: Any) -> str:
        params = json.loads(self.body)
        plan_id = _plan_id(self.path)
        _live_plan(self.backup_backend, plan_id)
        selection = params.get("BackupSelection") or {}
        if not selection.get("SelectionName") or not selection.get("IamRoleArn"):
            raise JsonRESTError("InvalidParameterValueException", "SelectionName and IamRoleArn are required.")
        selection_id = str(uuid.uuid4())
        _selections(self.backup_backend)[selection_id] = {
            "BackupPlanId": plan_id,
            "SelectionId": selection_id,
            "BackupSelection": selection,
            "CreationDate": unix_time(),
            "CreatorRequestId": params.get("CreatorRequestId"),
        }
        return json.dumps({"SelectionId": selection_id, "BackupPlanId": plan_id, "CreationDate": unix_time()})

    def lookup(self: Any) -> dict[str, Any]:
        found = _selections(self.backup_backend).get(_selection_id(self.path))
        if found is None or found["BackupPlanId"] != _plan_id(self.path):
            raise ResourceNotFoundException(msg=f"Failed reading Backup selection {_selection_id(self.path)}")
        return found

    def get(self: Any) -> str:
        found = lookup(self)
        return json.dumps({key: value for key, value in found.items() if value is not None})

    def delete(self: Any) -> str:
        found = lookup(self)
        del _selections(self.backup_backend)[found["SelectionId"]]
        return "{}"

    def list_selections(self: Any) -> str:
        plan_id = _plan_id(self.path)
        _live_plan(self.backup_backend, plan_id)
        items = [
            {
                "SelectionId": s["SelectionId"],
                "SelectionName": s["BackupSelection"]["SelectionName"],
                "BackupPlanId": plan_id,
                "IamRoleArn": s["BackupSelection"]["IamRoleArn"],
                "CreationDate": s["CreationDate"],
            }
            for s in _selections(self.backup_backend).values()
            if s["BackupPlanId"] == plan_id
        ]
        return json.dumps({"BackupSelectionsList": items})

    original_delete_plan = responses.BackupResponse.delete_backup_plan

    def delete_plan(self: Any) -> str:
        plan_id = self.path.rstrip("/").rsplit("/", 1)[-1]
        if any(s["BackupPlanId"] == plan_id for s in _selections(self.backup_backend).values()):
            raise JsonRESTError(
                "InvalidRequestException",
                "Related backup plan selections must be deleted prior to backup plan deletion.",
            )
        result: str = original_delete_plan(self)
        return result

    handler = responses.BackupResponse
    handler.create_backup_selection = create  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.get_backup_selection = get  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.delete_backup_selection = delete  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.list_backup_selections = list_selections  # type: ignore[attr-defined]  # handler moto lacks, added
    handler.delete_backup_plan = delete_plan  # type: ignore[method-assign]  # refuses a plan with selections


@fidelity_patch(
    "ListRecoveryPointsByBackupVault exists (moto 5.2.5 has no route for it, so Terraform cannot destroy a vault "
    "created with force_destroy); moto runs no backup job, so the list is empty"
)
def backup_vault_recovery_points() -> None:
    """Route ``/backup-vaults/<name>/recovery-points/`` to an answer listing the vault's (no) recovery points."""
    # pylint: disable=import-outside-toplevel
    from moto.backup import responses, urls

    def list_recovery_points(self: Any) -> str:
        name = self.path.split("/backup-vaults/", 1)[1].split("/", 1)[0]
        self.backup_backend.describe_backup_vault(name)  # ResourceNotFoundException for a missing vault
        return json.dumps({"RecoveryPoints": []})

    handler = responses.BackupResponse
    handler.list_recovery_points_by_backup_vault = list_recovery_points  # type: ignore[attr-defined]  # added
    urls.url_paths["{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$"] = urls.response.dispatch


@fidelity_patch(
    "ListTags finds a vault's or plan's tags whatever the SDK's path form (moto 5.2.5 takes the second-last path "
    "segment, so Terraform's request without the trailing slash reads no tags and every plan re-adds them)"
)
def backup_list_tags_path() -> None:
    """Read the resource ARN as everything after ``/tags/``, unquoted, trailing slash dropped."""
    # pylint: disable=import-outside-toplevel
    from urllib.parse import unquote

    from moto.backup import responses

    def list_tags(self: Any) -> str:
        resource_arn = unquote(self.path.split("/tags/", 1)[1].split("?", 1)[0]).rstrip("/")
        return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=resource_arn)})

    responses.BackupResponse.list_tags = list_tags  # type: ignore[method-assign]  # the ARN read from the whole path


@fidelity_patch(
    "UpdateBackupPlan replaces a live plan's document and gives it a new VersionId (moto 5.2.5 answers 'not "
    "implemented', so a second apply that changes BACKUP_RETENTION_DAYS, the schedule or the copy region fails)"
)
def backup_update_plan() -> None:
    """``POST /backup/plans/<id>``: the new document (rule defaults filled in as on create), a new version id, the
    plan's id, ARN and creation date kept; a missing or deleted plan is refused as AWS refuses it."""
    # pylint: disable=import-outside-toplevel
    from moto.backup import responses
    from moto.backup.models import Plan

    def update(self: Any) -> str:
        params = json.loads(self.body)
        plan_id = self.path.rstrip("/").rsplit("/", 1)[-1]
        plan = _live_plan(self.backup_backend, plan_id)
        document = params.get("BackupPlan") or {}
        if not document.get("BackupPlanName") or not document.get("Rules"):
            raise _invalid("BackupPlan needs a BackupPlanName and at least one rule.")
        # A plan built from the new document fills in the rule defaults and a fresh version id as CreateBackupPlan
        # does; the existing plan takes them, keeping its id, ARN, creation date and creator request id.
        updated = Plan(backup_plan=document, creator_request_id=plan.creator_request_id, backend=self.backup_backend)
        plan.backup_plan = updated.backup_plan
        plan.version_id = updated.version_id
        plan.advanced_backup_settings = updated.advanced_backup_settings
        return json.dumps(plan.to_dict())

    responses.BackupResponse.update_backup_plan = update  # type: ignore[attr-defined]  # handler moto lacks, added


def _invalid(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError  # pylint: disable=import-outside-toplevel

    return JsonRESTError("InvalidParameterValueException", message)
