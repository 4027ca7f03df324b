"""``make destroy ENVIRONMENT=<name>``: the documented order that takes a stack down, saying up front what it will
do, what it keeps and why.

    python -m tools.deploy.destroy <name> [--report-json FILE]

Settings (environment variables, also given on make's command line):

CONFIRM=TapStack<name>  the typed confirmation without a terminal; on a terminal the stack name is asked for
AUTO_APPROVE=1          confirms a development stack without a terminal; never enough in production
DELETE_LOG_ARCHIVE=1    delete the log archive (GOVERNANCE mode, development only) instead of keeping it
SKIP_FINAL_SNAPSHOT=1   destroy the database without a final snapshot (development only)

Steps; nothing in the account changes before ``confirm``, and every input is checked before it:

prerequisites  python, npm and terraform (``tools/prereqs.py``)
environment    ``environments/<name>.env`` and ``.tfvars`` as ``make deploy`` reads them, with DESTROY=1; the flags
               above checked (a production stack refuses SKIP_FINAL_SNAPSHOT and DELETE_LOG_ARCHIVE)
artifact       the artifact the stack was deployed with (synth needs it; the targeted plan never changes it)
synth          ``python tap.py`` in destroy mode: deletion protection off, a final snapshot
               ``<db identifier>-final-<YYYYMMDDHHMMSS>`` (UTC) unless SKIP_FINAL_SNAPSHOT=1
init           ``terraform init``
inventory      the state and the synthesized stack: the database, the buckets to empty, the log archive; printed
confirm        CONFIRM=<stack name>, the stack name typed on a terminal, or (development) AUTO_APPROVE=1
unprotect      ``terraform plan -target`` the database and the load balancer, refused unless it only updates them,
               then applied: Terraform's destroy uses the protection and snapshot settings already in state
empty          every version and delete marker of the stack's unlocked buckets deleted, as the deployer
log-archive    ``terraform state rm`` of the log archive's buckets and their sub-resources: kept, with the reason
backup-vaults  production: ``terraform state rm`` of the database's AWS Backup vaults (and the copy vault's key): kept
               with their recovery points; a development vault is destroyed with them (``force_destroy``)
destroy        ``terraform destroy``
migration-results  the SSM parameters the migration hosts wrote (one per release, not Terraform's): deleted
delete-logs    DELETE_LOG_ARCHIVE=1 only: the log buckets' deny-delete policy removed, every version deleted with
               the governance bypass, the buckets deleted (their writers are gone by then); with
               BREAK_GLASS_ROLE_ARN set, as a session of that role named ``destroy-<operator>``
               (``tools/deploy/break_glass.py``: the policies refuse their own deletion to everyone else)
outputs        the stack's key leaves ``cfn-outputs/flat-outputs.json`` (no other key)
kept           the final snapshot is there; the summary lists everything kept, why, and how to delete it later

A run interrupted or failed after ``confirm`` can be run again: every step reads the state as it is.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tools.deploy import break_glass
from tools.deploy.environment import DeployEnvironmentError, Environment, load
from tools.deploy.runner import (
    PLANS,
    ROOT,
    DeployError,
    Report,
    artifact,
    checked,
    prerequisites,
    stack_folder,
    tool_env,
)

# Construct paths under the stack (lib/tap_stack.py): the log archive's construct, the database, the load balancer.
LOG_ARCHIVE = "log_archive"
DATABASE = ("aws_db_instance", "database/instance")
# What destroy mode unprotects, applied before terraform destroy (type, construct path end): a resource added later
# with a deletion protection of its own goes here (docs/developing.md, "Adding things").
UNPROTECTED_IN_DESTROY_MODE = (DATABASE, ("aws_alb", "compute/alb"))
# What the unprotect plan may do: update the targeted resources in place (read data sources on the way).
HARMLESS_ACTIONS = (["no-op"], ["read"])
DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys a call
# AWS Backup of the database (lib/components/backup.py): a production vault (force_destroy false) is kept with its
# recovery points, and so is the copy vault's key, without which the copies could not be restored.
BACKUP = "backup"
KEPT_BACKUP_TYPES = ("aws_backup_vault", "aws_kms_key", "aws_kms_alias")
BACKUP_KEEP_WHY = (
    "the database's AWS Backup recovery points ({retention}), the restore path after the stack is gone; the vault is "
    "created without force_destroy in production, so destroy removes it from state instead of failing on them"
)
KEEP_WHY = (
    "audit logs (ALB, CloudFront, S3 access) are kept for 12 months by PCI DSS 10.5.1 and sit under Object Lock "
    "({mode}); destroy never deletes them unless DELETE_LOG_ARCHIVE=1 (GOVERNANCE only)"
)
COMPLIANCE_REFUSAL = (
    "DELETE_LOG_ARCHIVE=1 is refused for {stack}: its log archive is in Object Lock COMPLIANCE mode (production), "
    "which no principal, the account root included, can delete before each log's retention ends. It is always kept: "
    "run again without DELETE_LOG_ARCHIVE; the summary names the buckets, and docs/deploying.md says how to delete "
    "them once the retention has passed."
)


class DestroyError(DeployError):
    """Bad input or a failed step; the message says which value or step, and what to do."""


@dataclass(frozen=True, kw_only=True)
class Kept:
    """Something that outlives the stack: what, why, and how to remove it later."""

    kind: str
    """``db-snapshot``, ``s3-bucket``, ``backup-vault`` or ``kms-key``: the sandbox's leftover check reads these with
    the name."""
    name: str
    why: str
    later: str


@dataclass(frozen=True, kw_only=True)
class Options:
    """The flags, read and checked once, before anything runs."""

    confirm: str | None
    auto_approve: bool
    delete_log_archive: bool
    skip_final_snapshot: bool


@dataclass(frozen=True, kw_only=True)
class Inventory:
    """What the stack holds, from its state and its synthesized JSON."""

    database: str | None
    """The database's address in state (None: already gone)."""
    database_identifier: str | None
    final_snapshot: str | None
    """The name destroy mode gives the final snapshot (None: SKIP_FINAL_SNAPSHOT=1 or no database)."""
    unprotect: list[str]
    """Addresses to apply first (:data:`UNPROTECTED_IN_DESTROY_MODE`: the database, the load balancer), where still in
    state."""
    buckets: dict[str, str]
    """Unlocked buckets to empty: address -> bucket name."""
    log_archive: list[str]
    """Every address of the log archive's construct in state (buckets and sub-resources)."""
    log_buckets: dict[str, str]
    """The log archive's buckets: address -> bucket name."""
    resources: int
    """Resources in state."""
    backup_kept: dict[str, str] = field(default_factory=dict)
    """A production stack's AWS Backup vaults and the copy vault's key and alias in state, kept (``terraform state
    rm``): address -> name (empty in development, whose vaults Terraform deletes with their recovery points)."""
    migration_results: str | None = None
    """The folder of the SSM parameters the migration hosts wrote (``/<project>/<suffix>/payment-api/migration``, from
    the synthesized run's environment), which Terraform does not manage: deleted after destroy (None: no host)."""


@dataclass
class DestroyReport(Report):
    """:class:`Report` and what the destroy kept (the sandbox reads ``kept``)."""

    kept: list[Kept] = field(default_factory=list)
    label: ClassVar[str] = "destroy"


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise DestroyError(f"{name}={value!r}: allowed 1 (on) or 0 / unset (off). Fix: {name}=1, or leave it unset.")


def read_options(environ: Mapping[str, str]) -> Options:
    """The flags of ``environ``; :class:`DestroyError` for a value that is neither 1 nor 0."""
    confirm = environ.get("CONFIRM", "").strip() or None
    return Options(
        confirm=confirm,
        auto_approve=_flag(environ, "AUTO_APPROVE"),
        delete_log_archive=_flag(environ, "DELETE_LOG_ARCHIVE"),
        skip_final_snapshot=_flag(environ, "SKIP_FINAL_SNAPSHOT"),
    )


def check_options(environment: Environment, options: Options, *, terminal: bool) -> str:
    """Refuse what cannot be done before anything runs; return how the run will be confirmed."""
    stack, config = environment.stack_name, environment.config
    production = config.environment_type == "production"
    if options.confirm is not None and options.confirm != stack:
        raise DestroyError(
            f"CONFIRM={options.confirm!r} is not this stack's name; it must be exactly {stack} (the stack "
            f"ENVIRONMENT={environment.name} names). Nothing was changed."
        )
    if options.delete_log_archive and config.log_lock_mode != "GOVERNANCE":
        raise DestroyError(COMPLIANCE_REFUSAL.format(stack=stack))
    if options.confirm is not None:
        return f"CONFIRM={stack}"
    if options.auto_approve and production:
        raise DestroyError(
            f"AUTO_APPROVE=1 alone does not destroy a production stack: confirm with CONFIRM={stack} "
            "(or type the name on a terminal). Nothing was changed."
        )
    if options.auto_approve:
        return "AUTO_APPROVE=1 (development)"
    if not terminal:
        raise DestroyError(
            f"no terminal to confirm on: give CONFIRM={stack}"
            + ("" if production else " (or AUTO_APPROVE=1 for a development stack)")
            + ". Nothing was changed."
        )
    return "terminal"


def _path(body: Mapping[str, Any]) -> str:
    return str(body.get("//", {}).get("metadata", {}).get("path", ""))


def construct_addresses(stack_json: Mapping[str, Any], stack: str, construct: str) -> set[str]:
    """Terraform addresses of the resources under ``<stack>/<construct>/`` in the synthesized JSON."""
    prefix = f"{stack}/{construct}/"
    return {
        f"{rtype}.{name}"
        for rtype, bodies in (stack_json.get("resource") or {}).items()
        for name, body in bodies.items()
        if _path(body).startswith(prefix)
    }


def address_at(stack_json: Mapping[str, Any], rtype: str, path_end: str) -> tuple[str, dict[str, Any]] | None:
    """The address and body of the one ``rtype`` resource whose construct path ends with ``path_end``."""
    found = [
        (f"{rtype}.{name}", body)
        for name, body in ((stack_json.get("resource") or {}).get(rtype) or {}).items()
        if _path(body).endswith(path_end)
    ]
    return found[0] if len(found) == 1 else None


def state_resources(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``terraform show -json``'s managed resources of the root module: address -> values."""
    module = (state.get("values") or {}).get("root_module") or {}
    return {
        str(item["address"]): dict(item.get("values") or {})
        for item in module.get("resources") or []
        if item.get("mode") == "managed"
    }


def take_inventory(stack_json: Mapping[str, Any], stack: str, state: Mapping[str, Any]) -> Inventory:
    """What destroy will act on: ``stack_json`` is the destroy-mode synth, ``state`` the current state."""
    in_state = state_resources(state)
    log_archive = construct_addresses(stack_json, stack, LOG_ARCHIVE)
    database = address_at(stack_json, *DATABASE)
    protected = [address_at(stack_json, *where) for where in UNPROTECTED_IN_DESTROY_MODE]
    db_address = database[0] if database and database[0] in in_state else None
    buckets = {
        address: str(values.get("bucket"))
        for address, values in in_state.items()
        if address.startswith("aws_s3_bucket.")
    }
    return Inventory(
        database=db_address,
        database_identifier=str(in_state[db_address].get("identifier")) if db_address else None,
        final_snapshot=(database[1].get("final_snapshot_identifier") if database and db_address else None),
        unprotect=[found[0] for found in protected if found and found[0] in in_state],
        buckets={address: name for address, name in buckets.items() if address not in log_archive},
        log_archive=sorted(address for address in in_state if address in log_archive),
        log_buckets={address: name for address, name in buckets.items() if address in log_archive},
        resources=len(in_state),
        migration_results=migration_results_folder(stack_json),
        backup_kept=backup_kept(stack_json, stack, in_state),
    )


def database_key(stack_json: Mapping[str, Any]) -> set[str]:
    """The addresses of the KMS key the database is encrypted with (its ``kms_key_id``) and of that key's aliases:
    RDS snapshots and AWS Backup's recovery points of RDS keep their source's key, so whatever keeps them keeps it."""
    resources = stack_json.get("resource") or {}
    found = {
        match.group(1)
        for body in (resources.get("aws_db_instance") or {}).values()
        if (match := re.fullmatch(r"\$\{(aws_kms_key\.[\w-]+)\.arn\}", str(body.get("kms_key_id", ""))))
    }
    aliases = {
        f"aws_kms_alias.{name}"
        for name, body in (resources.get("aws_kms_alias") or {}).items()
        if any(f"${{{key}." in str(body.get("target_key_id", "")) for key in found)
    }
    return found | aliases


def backup_kept(stack_json: Mapping[str, Any], stack: str, in_state: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The backup construct's vaults, keys and aliases in state when its vaults keep their recovery points
    (``force_destroy`` false: production), and the database's key with its aliases, without which neither those
    recovery points nor the final snapshot could be restored: address -> name (a key: its ARN)."""
    addresses = construct_addresses(stack_json, stack, BACKUP)
    vaults = [
        body
        for name, body in ((stack_json.get("resource") or {}).get("aws_backup_vault") or {}).items()
        if f"aws_backup_vault.{name}" in addresses
    ]
    if not vaults or all(body.get("force_destroy") is True for body in vaults):
        return {}
    return {
        address: str(in_state[address].get("name") or in_state[address].get("arn"))
        for address in sorted(addresses | database_key(stack_json))
        if address in in_state and address.split(".", 1)[0] in KEPT_BACKUP_TYPES
    }


# The migration host's run (lib/components/migration_host.py): its local-exec names the result parameter.
MIGRATION_RUN = ("terraform_data", "migration_host/run")


def migration_results_folder(stack_json: Mapping[str, Any]) -> str | None:
    """The folder of the result parameters, read from the run's local-exec environment."""
    run = address_at(stack_json, *MIGRATION_RUN)
    if run is None:
        return None
    environment = run[1]["provisioner"][0]["local-exec"]["environment"]
    return str(environment["MIGRATION_RESULT_PARAMETER"]).rsplit("/", 1)[0]


def delete_migration_results(ssm: Any, folder: str) -> list[str]:
    """Every parameter under ``folder`` (the hosts' results, one per release): deleted; their names."""
    names: list[str] = []
    paginator = ssm.get_paginator("describe_parameters")
    under = [{"Key": "Name", "Option": "BeginsWith", "Values": [folder + "/"]}]
    for page in paginator.paginate(ParameterFilters=under):
        names += [parameter["Name"] for parameter in page["Parameters"]]
    for name in names:
        ssm.delete_parameter(Name=name)
    return names


def announce(
    environment: Environment, inventory: Inventory, options: Options, environ: Mapping[str, str] | None = None
) -> list[str]:
    """What the run will do, keep and why: printed before the confirmation (``environ`` names the operator)."""
    environ = {} if environ is None else environ
    config = environment.config
    lines = [
        f"make destroy {environment.stack_name} in {config.aws_region} ({config.environment_type}): "
        f"{inventory.resources} resources in state.",
        "  1. apply deletion protection off (database, load balancer)"
        + (" and the final snapshot's name" if inventory.final_snapshot else ""),
        f"  2. empty {len(inventory.buckets)} unlocked bucket(s), every version: "
        + (", ".join(sorted(inventory.buckets.values())) or "none"),
    ]
    archive = ", ".join(sorted(inventory.log_buckets.values())) or "none in state"
    if options.delete_log_archive:
        lines.append(f"  3. the log archive ({archive}) is DELETED after destroy, with the governance bypass")
        if config.break_glass_role_arn:
            lines.append(
                f"     as the break-glass role {config.break_glass_role_arn} (AssumeRole, session "
                f"{break_glass.session_name(environ)}): the archive's policies refuse their deletion to anyone else"
            )
    else:
        why = KEEP_WHY.format(mode=config.log_lock_mode)
        lines.append(f"  3. KEEP the log archive ({archive}): removed from state, not deleted; {why}")
    if inventory.backup_kept:
        names = ", ".join(inventory.backup_kept.values())
        lines.append(
            f"  3b. KEEP the database's AWS Backup vaults, the copy key and the database's key ({names}): removed "
            "from state, not deleted"
        )
    lines.append("  4. terraform destroy of everything else")
    if inventory.migration_results:
        lines.append(f"  5. delete the migration hosts' results ({inventory.migration_results}/*: not Terraform's)")
    if inventory.final_snapshot:
        lines.append(f"  KEEP the final snapshot {inventory.final_snapshot} of {inventory.database_identifier}")
    elif inventory.database:
        lines.append(
            f"  NO final snapshot of {inventory.database_identifier} (SKIP_FINAL_SNAPSHOT=1): its data is lost"
        )
    return lines


def unprotect_problems(plan: Mapping[str, Any], targets: list[str]) -> list[str]:
    """What the targeted destroy-mode plan would do besides updating ``targets`` in place."""
    problems = []
    for change in plan.get("resource_changes") or []:
        actions = change.get("change", {}).get("actions") or []
        if actions in HARMLESS_ACTIONS or (actions == ["update"] and change["address"] in targets):
            continue
        problems.append(f"{change['address']} ({'/'.join(actions)})")
    return problems


def empty_bucket(s3: Any, bucket: str, *, bypass_governance: bool = False) -> int:
    """Delete every object version and delete marker of ``bucket``; return how many. With ``bypass_governance``,
    versions under a GOVERNANCE retention go too (s3:BypassGovernanceRetention); a COMPLIANCE one never does."""
    removed = 0
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=DELETE_BATCH)
        entries = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if not entries:
            return removed
        request: dict[str, Any] = {"Bucket": bucket, "Delete": {"Objects": entries, "Quiet": True}}
        if bypass_governance:
            request["BypassGovernanceRetention"] = True
        errors = s3.delete_objects(**request).get("Errors") or []
        if errors:
            first = errors[0]
            raise DestroyError(
                f"s3://{bucket}: {len(errors)} version(s) could not be deleted, first {first.get('Key')} "
                f"({first.get('Code')}: {first.get('Message')}). "
                + (
                    "A version under Object Lock retention stays until it expires; "
                    if "lock" in str(first).lower() or first.get("Code") == "AccessDenied"
                    else ""
                )
                + "check the deployer's policy (docs/deployer-policy.json and docs/deployer-*-policy.json)."
            )
        removed += len(entries)


def delete_log_bucket(s3: Any, bucket: str) -> int:
    """Remove the deny-delete policy (it refuses every deletion, the bypass included), delete every version with the
    governance bypass, then the bucket; return the versions deleted."""
    s3.delete_bucket_policy(Bucket=bucket)
    removed = empty_bucket(s3, bucket, bypass_governance=True)
    s3.delete_bucket(Bucket=bucket)
    return removed


def archive_client(
    environment: Environment, env: Mapping[str, str], environ: Mapping[str, str], s3: Any
) -> tuple[Any, str]:
    """The S3 client for the log archive's deletion: a session of BREAK_GLASS_ROLE_ARN named for the operator
    (``environ``'s user) when it is set, else the deployer's ``s3``; and how the step's detail names it."""
    role, region = environment.config.break_glass_role_arn, environment.config.aws_region
    if not role:
        return s3, ""
    from tools.deploy.account import boto3_clients  # pylint: disable=import-outside-toplevel  # boto3: only here

    session = break_glass.session_name(environ)
    try:
        credentials = break_glass.assume(
            boto3_clients(region, env), role, session, region, env.get("AWS_ENDPOINT_URL") or None
        )
    except break_glass.BreakGlassError as err:
        raise DestroyError(str(err)) from err
    return break_glass.s3_client(credentials, region), f" (as {role}, session {session})"


def kept_items(environment: Environment, inventory: Inventory, options: Options) -> list[Kept]:
    """Everything this run leaves, for the summary and the report."""
    config = environment.config
    kept = []
    if inventory.final_snapshot:
        kept.append(
            Kept(
                kind="db-snapshot",
                name=inventory.final_snapshot,
                why=f"the final snapshot of {inventory.database_identifier}, the payments' system of record",
                later=f"aws rds delete-db-snapshot --db-snapshot-identifier {inventory.final_snapshot} "
                f"--region {config.aws_region} (or restore it: aws rds restore-db-instance-from-db-snapshot)",
            )
        )
    for address, name in inventory.backup_kept.items():
        if address.startswith("aws_backup_vault."):
            kept.append(
                Kept(
                    kind="backup-vault",
                    name=name,
                    why=BACKUP_KEEP_WHY.format(retention="BACKUP_RETENTION_DAYS each"),
                    later=f"once no recovery point is needed: aws backup list-recovery-points-by-backup-vault "
                    f"--backup-vault-name {name}, delete-recovery-point for each, then delete-backup-vault (in the "
                    "vault's region); then schedule the deletion of the copy vault's key",
                )
            )
        elif address.startswith("aws_kms_key."):
            kept.append(
                Kept(
                    kind="kms-key",
                    name=name,
                    why="the key of the kept recovery points (the database's key for the database's recovery points "
                    "and its final snapshot, the copy key for the copies): deleting it would make them unrestorable",
                    later=f"once nothing encrypted with it is kept: aws kms schedule-key-deletion --key-id {name} "
                    "--pending-window-in-days 30 (its aliases were kept with it: aws kms delete-alias)",
                )
            )
    if not options.delete_log_archive:
        for name in sorted(inventory.log_buckets.values()):
            kept.append(
                Kept(
                    kind="s3-bucket",
                    name=name,
                    why=KEEP_WHY.format(mode=config.log_lock_mode),
                    later="after every version's retention has passed: delete the bucket policy, then every "
                    'version, then the bucket (docs/deploying.md, "Destroying a stack")',
                )
            )
    return kept


class Destroy:  # pylint: disable=too-few-public-methods
    """One ``make destroy`` run; :meth:`run` returns the exit status."""

    def __init__(
        self, name: str, *, environ: Mapping[str, str] | None = None, ask: Callable[[str], str] = input
    ) -> None:
        self.name = name
        self.environ = dict(os.environ if environ is None else environ)
        self.ask = ask
        self.report = DestroyReport(environment=name, command="destroy")

    def run(self) -> int:
        """Every step in order; a failure says in which step and what it left."""
        try:
            self._steps()
            self.report.result = "passed"
            return 0
        except (DeployError, DeployEnvironmentError) as err:
            self.report.result = "failed"
            step = self.report.steps[-1].name if self.report.steps else "environment"
            print(f"[destroy] FAILED in step '{step}': {err}", file=sys.stderr, flush=True)
            return 1
        except KeyboardInterrupt:
            self.report.result = "interrupted"
            print("\n[destroy] INTERRUPTED: run `make destroy` again; it starts from the state as it is.", flush=True)
            return 130

    def _environment(self) -> tuple[Environment, Options, str]:
        options = read_options(self.environ)  # the configuration reads SKIP_FINAL_SNAPSHOT too, with its guardrails
        environment = load(self.name, {**self.environ, "DESTROY": "1"})
        how = check_options(environment, options, terminal=sys.stdin.isatty())
        return environment, options, how

    def _steps(self) -> None:
        report = self.report
        with report.step("prerequisites") as step:
            step.detail = prerequisites()
        with report.step("environment") as step:
            environment, options, how = self._environment()
            env, stack_dir = tool_env(environment), stack_folder(environment)
            step.detail = f"{environment.stack_name}, {environment.config.environment_type}; confirmed by {how}"
        with report.step("artifact") as step:
            step.detail = artifact(environment, env)
        with report.step("synth") as step:
            checked([sys.executable, "tap.py"], env, "python tap.py (destroy mode)")
            step.detail = f"destroy mode, stamp {environment.config.destroy_stamp}"
        with report.step("init"):
            checked(["terraform", "init", "-input=false"], env, "terraform init", cwd=stack_dir)
        with report.step("inventory") as step:
            inventory = self._inventory(environment, env, stack_dir)
            step.detail = f"{inventory.resources} resources in state"
        if inventory.resources == 0:
            self._outputs(environment)
            print(f"[destroy] {environment.stack_name} has no resources in state: nothing to destroy.", flush=True)
            return
        lines = announce(environment, inventory, options, self.environ)
        print("\n".join(f"[destroy] {line}" for line in lines), flush=True)
        with report.step("confirm") as step:
            step.detail = self._confirm(environment, how)
        self._change(environment, env, stack_dir, inventory, options)
        report.kept = kept_items(environment, inventory, options)
        with report.step("kept") as step:
            step.detail = self._check_kept(environment, env, report.kept)
        for item in report.kept:
            print(f"[destroy] kept {item.kind} {item.name}: {item.why}. Later: {item.later}", flush=True)

    def _inventory(self, environment: Environment, env: Mapping[str, str], stack_dir: Path) -> Inventory:
        stack_json = json.loads((stack_dir / "cdk.tf.json").read_text(encoding="utf-8"))
        shown = checked(["terraform", "show", "-json"], env, "terraform show", cwd=stack_dir, capture=True)
        return take_inventory(stack_json, environment.stack_name, json.loads(shown or "{}"))

    def _confirm(self, environment: Environment, how: str) -> str:
        if how != "terminal":
            return how
        stack = environment.stack_name
        answer = self.ask(f"Destroy {stack} in {environment.config.aws_region} as listed above? Type {stack}: ")
        if answer.strip() != stack:
            raise DestroyError(f"not confirmed ({answer.strip()!r} is not {stack}); nothing was changed")
        return "typed on the terminal"

    def _change(
        self, environment: Environment, env: Mapping[str, str], stack_dir: Path, inventory: Inventory, options: Options
    ) -> None:
        report = self.report
        var_file = [f"-var-file={environment.tfvars_file}"] if environment.tfvars_file else []
        with report.step("unprotect") as step:
            step.detail = self._unprotect(environment, env, stack_dir, inventory, var_file)
        from tools.deploy.account import boto3_clients  # pylint: disable=import-outside-toplevel  # boto3: only here

        s3 = boto3_clients(environment.config.aws_region, env)("s3", environment.config.aws_region)
        with report.step("empty") as step:
            counts = {name: empty_bucket(s3, name) for name in sorted(inventory.buckets.values())}
            step.detail = ", ".join(f"{name}: {count} versions" for name, count in counts.items()) or "no buckets"
        with report.step("log-archive") as step:
            if inventory.log_archive:
                checked(["terraform", "state", "rm", *inventory.log_archive], env, "terraform state rm", cwd=stack_dir)
            step.detail = f"{len(inventory.log_archive)} addresses removed from state: " + (
                ", ".join(sorted(inventory.log_buckets.values())) or "no buckets"
            )
        if inventory.backup_kept:
            with report.step("backup-vaults") as step:
                checked(["terraform", "state", "rm", *inventory.backup_kept], env, "terraform state rm", cwd=stack_dir)
                step.detail = "kept (removed from state): " + ", ".join(inventory.backup_kept.values())
        with report.step("destroy"):
            checked(
                ["terraform", "destroy", "-auto-approve", "-input=false", "-lock-timeout=120s", *var_file],
                env,
                "terraform destroy",
                cwd=stack_dir,
            )
        if inventory.migration_results:
            with report.step("migration-results") as step:
                ssm = boto3_clients(environment.config.aws_region, env)("ssm", environment.config.aws_region)
                deleted = delete_migration_results(ssm, inventory.migration_results)
                step.detail = f"{len(deleted)} deleted under {inventory.migration_results}"
        if options.delete_log_archive:
            with report.step("delete-logs") as step:
                archive_s3, who = archive_client(environment, env, self.environ, s3)
                counts = {name: delete_log_bucket(archive_s3, name) for name in sorted(inventory.log_buckets.values())}
                step.detail = ", ".join(f"{name}: {count} versions, deleted" for name, count in counts.items()) + who
        self._outputs(environment)

    def _unprotect(
        self,
        environment: Environment,
        env: Mapping[str, str],
        stack_dir: Path,
        inventory: Inventory,
        var_file: list[str],
    ) -> str:
        if not inventory.unprotect:
            return "no database or load balancer in state"
        target = PLANS / f"{environment.stack_name}.destroy-mode.tfplan"
        target.parent.mkdir(parents=True, exist_ok=True)
        targets = [f"-target={address}" for address in inventory.unprotect]
        checked(
            ["terraform", "plan", "-input=false", "-lock-timeout=120s", f"-out={target}", *targets, *var_file],
            env,
            "terraform plan (destroy mode)",
            cwd=stack_dir,
        )
        shown = checked(["terraform", "show", "-json", str(target)], env, "terraform show", cwd=stack_dir, capture=True)
        problems = unprotect_problems(json.loads(shown), inventory.unprotect)
        if problems:
            raise DestroyError(
                "the destroy-mode plan would change more than deletion protection and the final snapshot: "
                + ", ".join(problems)
                + f". Nothing was changed. Bring the stack in line with its configuration first (`make deploy "
                f"ENVIRONMENT={environment.name}`), or fix the environment's settings, then run make destroy again."
            )
        checked(
            ["terraform", "apply", "-input=false", "-lock-timeout=120s", str(target)],
            env,
            "terraform apply",
            cwd=stack_dir,
        )
        return "applied to " + ", ".join(inventory.unprotect)

    def _outputs(self, environment: Environment) -> None:
        from tools.deploy import outputs  # pylint: disable=import-outside-toplevel

        with self.report.step("outputs") as step:
            removed = outputs.remove_stack(environment.stack_name)
            step.detail = f"{environment.stack_name} {'removed from' if removed else 'was not in'} " + str(
                outputs.OUTPUTS_FILE.relative_to(ROOT)
            )

    def _check_kept(self, environment: Environment, env: Mapping[str, str], kept: list[Kept]) -> str:
        """The final snapshot exists (a destroy that lost it must say so)."""
        from tools.deploy.account import boto3_clients  # pylint: disable=import-outside-toplevel

        snapshots = [item.name for item in kept if item.kind == "db-snapshot"]
        rds = boto3_clients(environment.config.aws_region, env)("rds", environment.config.aws_region)
        for name in snapshots:
            try:
                rds.describe_db_snapshots(DBSnapshotIdentifier=name)
            except rds.exceptions.DBSnapshotNotFoundFault as err:
                raise DestroyError(f"the final snapshot {name} was not found after destroy ({err})") from err
        return f"{len(kept)} kept: " + ", ".join(f"{item.kind} {item.name}" for item in kept)


def main(argv: list[str] | None = None) -> int:
    """``make destroy``."""
    import argparse  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy.destroy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("environment", nargs="?", default="")
    parser.add_argument("--report-json", type=Path, default=os.environ.get("DESTROY_REPORT_JSON") or None)
    args = parser.parse_args(argv)
    if not args.environment:
        print("[destroy] name the environment: make destroy ENVIRONMENT=<name> CONFIRM=TapStack<name>", file=sys.stderr)
        return 2
    destroy = Destroy(args.environment)
    code = destroy.run()
    if args.report_json is not None:
        args.report_json.parent.mkdir(parents=True, exist_ok=True)
        args.report_json.write_text(json.dumps(asdict(destroy.report), indent=2) + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
