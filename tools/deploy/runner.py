"""``make deploy ENVIRONMENT=<name>`` and ``make plan ENVIRONMENT=<name>``: one command from a configuration to a
checked stack, printing each step and its time.

    python -m tools.deploy deploy <name> [--auto-approve] [--post-apply-hook CMD] [--report-json FILE]
    python -m tools.deploy plan <name>

Steps (``plan`` stops after ``plan``):

prerequisites  python, npm and terraform at their minimum versions (``tools/prereqs.py``)
environment    ``environments/<name>.env`` and ``.tfvars`` merged with the caller's environment; a value given
               twice, differently, stops here (``tools/deploy/environment.py``)
artifact       the payment API archive of the kind the target needs: production (the RDS CA bundle, verified
               against the pinned roots) for any stack on an account, development only in the sandbox; an existing
               production artifact is never rebuilt as development
synth          ``python tap.py`` with the environment's settings: the production rules for a production stack
account        the account preflight with the caller's credentials (``tools/deploy/account.py``): certificates,
               quotas, names held outside the state, the hosted zone
init           ``terraform init`` (the S3 backend; the provider checked against the committed lock file)
migrate        once: ``terraform state rm`` of an artifact object of the old form (``payment-api/<version>/<sha256>/
               ...``), so the first apply of one key for every release does not delete it (``release_migration.py``)
plan           ``terraform plan`` saved to ``plans/TapStack<name>.tfplan`` (outside ``cdktf.out``), with a summary
               that lists every resource it would destroy or replace
archive        the plan changes no log bucket's policy, lifecycle or Object Lock configuration that the break-glass
               statement protects (``tools/deploy/archive_guard.py``); otherwise ``deploy`` stops here with the
               commands to run as ``BREAK_GLASS_ROLE_ARN`` (``plan`` says so and ends)
confirm        ``AUTO_APPROVE=1`` (CI), or the stack name typed on a terminal; anything else stops here
apply          ``terraform apply`` of the saved plan
outputs        ``terraform output -json`` into ``cfn-outputs/flat-outputs.json`` under ``TapStack<name>``
               ``DEPLOY_DURING_APPLY_HOOK`` (a command), when set, runs while it applies: the sandbox rehearses the
               migration host there (the apply waits for the host's result before it launches the API group)
post-apply     ``DEPLOY_POST_APPLY_HOOK`` (a command) when set: the sandbox boots the artifact here
frontend       ``make deploy-frontend`` (build when needed, upload what changed, invalidate)
verify         ``make verify-deployment`` (read-only checks of the deployed stack)

Re-running after an interruption is safe: every run makes a new plan from the state Terraform saved, and an apply
interrupted with Ctrl-C is stopped the way Terraform stops (it finishes the calls in flight and saves the state).
Ctrl-C says which step it interrupted and what that left.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from lib.synth_output import output_dir, stack_dir
from tools.deploy.environment import DeployEnvironmentError, Environment, load
from tools.deploy.release_migration import migrate

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "plans"
INTERRUPTED_EXIT = 130
# What an interruption during each step leaves, and what to do (Ctrl-C says it).
LEFT_BY = {
    "prerequisites": "nothing was changed",
    "environment": "nothing was changed",
    "artifact": "nothing in the account was changed; dist/ may hold a partial build, which the next run replaces",
    "synth": "nothing in the account was changed; synth writes cdktf.out only when it completes",
    "account": "nothing was changed (the account preflight only reads)",
    "init": "nothing in the account was changed; terraform init can simply run again",
    "migrate": "nothing in the account was changed; an object taken out of the state stays in the bucket, and the "
    "next run takes out what is left",
    "plan": "nothing in the account was changed; the next run makes a new plan",
    "archive": "nothing in the account was changed; the next run makes a new plan",
    "confirm": "nothing in the account was changed; the saved plan is in plans/",
    "apply": "Terraform stopped after the calls in flight and saved its state: what it created is tracked. Re-run "
    "`make deploy ENVIRONMENT={name}` to plan the rest from that state",
    "outputs": "the stack is applied; its outputs were not written. Re-run `make deploy ENVIRONMENT={name}` "
    "(the plan is then empty) to write them and finish",
    "post-apply": "the stack is applied and its outputs written; re-run `make deploy ENVIRONMENT={name}`",
    "frontend": "the stack is applied; the checkout may be partly uploaded. Re-run `make deploy-frontend` (only "
    "changed files are uploaded) or `make deploy ENVIRONMENT={name}`",
    "verify": "the stack is applied and nothing was changed by the checks; run `make verify-deployment`",
}


class DeployError(RuntimeError):
    """A step failed; the message says why and what to do."""


@dataclass
class Step:
    """One timed step of a run."""

    name: str
    status: str = "not run"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Report:
    """What the run did, for the summary and ``--report-json`` (the sandbox reads it)."""

    environment: str
    command: str
    steps: list[Step] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    result: str = "not finished"
    label: ClassVar[str] = "deploy"  # what each step's line starts with: [deploy] (make destroy: [destroy])

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Time the block as step ``name`` and print its start and end."""
        record = Step(name)
        self.steps.append(record)
        print(f"[{self.label}] {name} ...", flush=True)
        started = time.monotonic()
        try:
            yield record
        except BaseException as err:
            record.status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            raise
        else:
            record.status = record.status if record.status != "not run" else "passed"
        finally:
            record.seconds = round(time.monotonic() - started, 1)
            print(
                f"[{self.label}] {name} {record.status} in {record.seconds:.1f} s"
                + (f": {record.detail}" if record.detail else ""),
                flush=True,
            )


# ------------------------------------------------------------------------------------------------ the steps
def prerequisites() -> str:
    """python, npm and terraform present and recent enough, on a platform the project's Node installs on."""
    from tools.prereqs import problems  # pylint: disable=import-outside-toplevel

    found = problems()
    if found:
        raise DeployError("; ".join(found))
    return "python, npm, terraform"


def tool_env(environment: Environment) -> dict[str, str]:
    """The environment every step runs with: the merged settings, Terraform's offline CLI config, no prompts."""
    from tools.deploy.tfcli import terraform_env  # pylint: disable=import-outside-toplevel

    env = terraform_env(environment.process_env)
    env.update({"TF_INPUT": "0", "TF_IN_AUTOMATION": "1"})
    if not sys.stdout.isatty():  # a CI log or the sandbox's deploy.log: no colour codes in the text
        env.setdefault("TF_CLI_ARGS", "-no-color")
    return env


def stack_folder(environment: Environment) -> Path:
    """Where synth writes the stack: ``$CDKTF_OUTDIR/stacks/TapStack<name>`` (default ``cdktf.out``)."""
    return stack_dir(output_dir(environment.process_env, ROOT), environment.stack_name)


def plan_file(environment: Environment) -> Path:
    """``plans/TapStack<name>.tfplan``: outside every synth output (git-ignored)."""
    return PLANS / f"{environment.stack_name}.tfplan"


CHILD_STOP_SECONDS = 10 * 60  # an interrupted terraform apply finishes the calls in flight and saves its state


def child(command: list[str], env: Mapping[str, str], *, cwd: Path = ROOT, capture: bool = False) -> tuple[int, str]:
    """Run ``command`` in its own process group (the terminal's Ctrl-C reaches us, not it); on an interruption, pass
    exactly one SIGINT on, so Terraform stops the way it stops on Ctrl-C (a second one makes it exit at once), and
    wait for it. Returns the exit code and, with ``capture``, the standard output."""
    with subprocess.Popen(
        command, cwd=cwd, env=dict(env), text=True, start_new_session=True, stdout=subprocess.PIPE if capture else None
    ) as process:
        try:
            out, _ = process.communicate()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=CHILD_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise
    return process.returncode, out or ""


HOOK_STOP_SECONDS = 60


@contextmanager
def during_apply(hook: str | None, env: Mapping[str, str]) -> Iterator[None]:
    """``DEPLOY_DURING_APPLY_HOOK`` (a command), run while Terraform applies: the sandbox rehearses the migration host
    the apply launches (tools/sandbox/migration_phase.py). Stopped with SIGTERM when the apply ends; when the apply
    passed, the hook's failure fails the step."""
    if not hook:
        yield
        return
    with subprocess.Popen(shlex.split(hook), cwd=ROOT, env=dict(env), start_new_session=True) as process:
        try:
            yield
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=HOOK_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if process.returncode != 0:
        raise DeployError(f"the during-apply hook {hook!r} exited {process.returncode} (its output is above)")


def checked(command: list[str], env: Mapping[str, str], what: str, *, cwd: Path = ROOT, capture: bool = False) -> str:
    """:func:`child`, raising :class:`DeployError` naming ``what`` when it fails."""
    code, out = child(command, env, cwd=cwd, capture=capture)
    if code != 0:
        raise DeployError(f"{what} exited {code} (its output is above)")
    return out


# ------------------------------------------------------------------------------------------------ artifact
def wanted_artifact_kind(environment: Environment) -> str:
    """Production for every stack on an account (instances verify RDS against the real CA bundle); development only
    for a development stack in the sandbox, whose PostgreSQL stand-in carries the development test CA."""
    config = environment.config
    return "development" if config.sandbox and config.environment_type != "production" else "production"


def _pointer_kind() -> str | None:
    from lib.artifact import POINTER  # pylint: disable=import-outside-toplevel

    try:
        return str(json.loads(POINTER.read_text(encoding="utf-8"))["build_kind"])
    except (OSError, ValueError, KeyError):
        return None


def artifact(environment: Environment, env: Mapping[str, str]) -> str:
    """Build the artifact when missing, stale or of another kind; refuse what the target cannot boot. A pointer given
    in ``PAYMENT_API_ARTIFACT`` (``make rollback`` writes one for the release it restores) is deployed as it is."""
    from lib.artifact import (  # pylint: disable=import-outside-toplevel
        POINTER_VARIABLE,
        ArtifactMissingError,
        load_artifact,
    )

    given_pointer = env.get(POINTER_VARIABLE, "").strip()
    wanted = wanted_artifact_kind(environment)
    current = wanted if given_pointer else _pointer_kind()  # a given pointer is not built: checked below as given
    if current == "production" and wanted == "development":
        raise DeployError(
            "dist/ holds a production artifact and the sandbox boots a development one (the test CA); "
            "it is not rebuilt behind your back. Keep a copy of dist/ if you need it, run "
            "`make artifact` (ARTIFACT_KIND=development), then run again."
        )
    bundle = env.get("RDS_CA_BUNDLE")
    if current != wanted:  # Make's rule would call the pointer fresh: build the other kind explicitly
        given = ["--ca-bundle", bundle] if bundle else []
        checked(
            [sys.executable, "-m", "tools.release.build_artifact", "--kind", wanted, *given],
            env,
            f"the {wanted} artifact build",
        )
    elif not given_pointer:  # rebuilt by the Makefile's rule only when the sources changed
        checked(
            ["make", "--no-print-directory", "dist/payment-api.json", f"ARTIFACT_KIND={wanted}"],
            env,
            "make dist/payment-api.json",
        )
    try:
        built = load_artifact(Path(given_pointer).resolve() if given_pointer else None)
    except ArtifactMissingError as err:
        raise DeployError(str(err)) from err
    if built.build_kind != wanted:
        raise DeployError(
            f"{built.path.name} is a {built.build_kind} artifact; this stack needs a {wanted} one. Run "
            f"`make artifact ARTIFACT_KIND={wanted}`"
            + (" RDS_CA_BUNDLE=<path or URL>`" if wanted == "production" else "`")
        )
    if wanted == "production" and not built.ca_bundle_verified and not environment.config.sandbox:
        raise DeployError(
            f"{built.path.name} carries an UNVERIFIED CA bundle (built with RDS_CA_BUNDLE_UNVERIFIED=1, "
            "for tests and documents): instances would trust certificates the pinned RDS roots do not "
            "name. Build it from AWS's bundle: `make artifact ARTIFACT_KIND=production "
            "RDS_CA_BUNDLE=<global-bundle.pem path or URL>`, or set RDS_CA_BUNDLE in "
            f"environments/{environment.name}.env and run again."
        )
    return f"{built.path.name} ({built.build_kind}, sha256 {built.sha256[:12]}…)"


# ------------------------------------------------------------------------------------------------ state, plan
def read_state(environment: Environment, clients: Callable[[str, str], Any]) -> dict[str, Any] | None:
    """The stack's current Terraform state (None before the first apply), read without ``terraform init``: the
    account preflight runs before init, and must tell a re-run from a name held outside the state."""
    config = environment.config
    if config.state_bucket is None:
        path = config.local_state_path
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    s3 = clients("s3", config.state_bucket_region or config.aws_region)
    try:
        body = s3.get_object(Bucket=config.state_bucket, Key=config.state_key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    except Exception as err:  # pylint: disable=broad-exception-caught  # botocore's errors: said with the fix
        raise DeployError(
            f"cannot read the state s3://{config.state_bucket}/{config.state_key} ({err}). The "
            "deploying identity needs s3:GetObject and s3:ListBucket on the state bucket "
            "(docs/deployer-policy.json); check TERRAFORM_STATE_BUCKET and your credentials."
        ) from err
    state: dict[str, Any] = json.loads(body)
    return state


def summarize_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Counts per action from ``terraform show -json <plan>``, the addresses it would destroy or replace, and every
    changed address with its action (``changed``: what the sandbox's release phase checks a release changes)."""
    counts = {"create": 0, "update": 0, "delete": 0, "replace": 0}
    destroyed: list[str] = []
    changed: dict[str, str] = {}
    for change in plan.get("resource_changes") or []:
        actions = change.get("change", {}).get("actions") or []
        if "create" in actions and "delete" in actions:
            counts["replace"] += 1
            destroyed.append(f"{change['address']} (replaced)")
            changed[change["address"]] = "replace"
        elif "delete" in actions:
            counts["delete"] += 1
            destroyed.append(f"{change['address']} (destroyed)")
            changed[change["address"]] = "delete"
        elif "create" in actions or "update" in actions:
            counts["create" if "create" in actions else "update"] += 1
            changed[change["address"]] = "create" if "create" in actions else "update"
    outputs = sum(
        1 for change in (plan.get("output_changes") or {}).values() if change.get("actions") not in (["no-op"], None)
    )
    return {
        **counts,
        "outputs_changed": outputs,
        "destroyed": destroyed,
        "changed": changed,
        "changes": sum(counts.values()) > 0,
    }


def describe_plan(summary: Mapping[str, Any]) -> str:
    """``12 to create, 1 to update, 0 to replace, 0 to destroy`` (the destroyed addresses follow, one a line)."""
    line = (
        f"{summary['create']} to create, {summary['update']} to update, {summary['replace']} to replace, "
        f"{summary['delete']} to destroy"
    )
    return line + "".join(f"\n    ! {address}" for address in summary["destroyed"])


def archive_refusal(environment: Environment, plan: Mapping[str, Any], stack_dir: Path) -> str | None:
    """Why the plan may not be applied by the deployer, with the break-glass commands (None: it may be)."""
    from tools.deploy import archive_guard  # pylint: disable=import-outside-toplevel

    changes = archive_guard.guarded_changes(plan)
    if not changes:
        return None
    folder = stack_dir.relative_to(ROOT) if stack_dir.is_relative_to(ROOT) else stack_dir
    var_file = environment.tfvars_file
    return archive_guard.refusal(
        changes, stack_dir=str(folder), var_file=str(var_file) if var_file else None, environment=environment.name
    )


def archive_check(command: str, summary: Mapping[str, Any]) -> str:
    """``deploy`` stops on an archive refusal (:func:`archive_refusal`); ``plan`` prints it and ends."""
    refusal = summary.get("archive_refusal")
    if not refusal:
        return "no protected log bucket configuration changes"
    if command == "plan":
        print(f"[plan] notice: make deploy would stop on this plan: {refusal}", flush=True)
        return "make deploy would stop: the plan changes the log archive's protected configuration"
    raise DeployError(refusal)


def confirm(
    environment: Environment, summary: Mapping[str, Any], auto_approve: bool, ask: Callable[[str], str] = input
) -> str:
    """``AUTO_APPROVE=1``, or the stack name typed on a terminal; otherwise :class:`DeployError`."""
    if auto_approve:
        return "AUTO_APPROVE=1"
    stack = environment.stack_name
    if not sys.stdin.isatty():
        raise DeployError(
            f"no terminal to confirm on and AUTO_APPROVE is not 1. The plan is saved in "
            f"{plan_file(environment).relative_to(ROOT)}: review it, then run again on a terminal, or "
            "with AUTO_APPROVE=1 (CI)."
        )
    warning = (
        f" It DESTROYS or REPLACES {len(summary['destroyed'])} resource(s) listed above."
        if summary["destroyed"]
        else ""
    )
    answer = ask(f"Apply this plan to {stack} in {environment.config.aws_region}?{warning} Type {stack} to apply: ")
    if answer.strip() != stack:
        raise DeployError(f"not confirmed ({answer.strip()!r} is not {stack}); nothing was applied")
    return "confirmed on the terminal"


# ------------------------------------------------------------------------------------------------ the run
class Deploy:
    """One ``deploy`` or ``plan`` run; :meth:`run` returns the exit status."""

    def __init__(
        self,
        command: str,
        name: str,
        *,
        auto_approve: bool,
        post_apply_hook: str | None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.command = command
        self.name = name
        self.auto_approve = auto_approve
        self.post_apply_hook = post_apply_hook
        self.environ = dict(os.environ if environ is None else environ)
        self.report = Report(environment=name, command=command)

    def run(self) -> int:
        """Every step in order; the summary says where it stopped and what that left."""
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._steps()
            self.report.result = "passed"
            return 0
        except (DeployError, DeployEnvironmentError) as err:
            self.report.result = "failed"
            print(f"[deploy] FAILED in step '{self.report.steps[-1].name}': {err}", file=sys.stderr, flush=True)
            return 1
        except KeyboardInterrupt:
            self.report.result = "interrupted"
            step = self.report.steps[-1].name if self.report.steps else "prerequisites"
            left = LEFT_BY.get(step, "see the output above").format(name=self.name)
            print(f"\n[deploy] INTERRUPTED during '{step}': {left}.", file=sys.stderr, flush=True)
            return INTERRUPTED_EXIT
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _steps(self) -> None:  # pylint: disable=too-many-locals  # one local per step's product, in order
        report = self.report
        with report.step("prerequisites") as step:
            step.detail = prerequisites()
        with report.step("environment") as step:
            environment, named = self._development_deployer(load(self.name, self.environ))
            env, stack_dir = tool_env(environment), stack_folder(environment)
            sources = [str(p.relative_to(ROOT)) for p in (environment.env_file, environment.tfvars_file) if p]
            step.detail = (
                f"{environment.stack_name}, {environment.config.environment_type}, "
                f"{environment.config.aws_region}; {', '.join(sources) or 'settings from the environment'}{named}"
            )
        with report.step("artifact") as step:
            step.detail = artifact(environment, env)
        with report.step("synth") as step:
            checked([sys.executable, "tap.py"], env, "python tap.py")
            step.detail = str(stack_dir.relative_to(ROOT) if stack_dir.is_relative_to(ROOT) else stack_dir)
        from tools.deploy.account import boto3_clients  # pylint: disable=import-outside-toplevel  # boto3: only here

        clients = boto3_clients(environment.config.aws_region, env)
        with report.step("account") as step:
            step.detail = self._account(environment, stack_dir, clients)
        with report.step("init"):
            checked(["terraform", "init", "-input=false"], env, "terraform init", cwd=stack_dir)
        with report.step("migrate") as step:
            step.detail = migrate(lambda command, what: checked(command, env, what, cwd=stack_dir, capture=True))
        with report.step("plan") as step:
            summary = self._plan(environment, env, stack_dir)
            report.plan = summary
            step.detail = describe_plan(summary)
        with report.step("archive") as step:
            step.detail = archive_check(self.command, summary)
        if self.command == "plan":
            return
        with report.step("confirm") as step:
            step.detail = confirm(environment, summary, self.auto_approve) if summary["changes"] else "no changes"
        with report.step("apply") as step:
            if summary["changes"] or summary["outputs_changed"]:
                with during_apply(env.get("DEPLOY_DURING_APPLY_HOOK") or None, env):
                    checked(
                        ["terraform", "apply", "-input=false", "-lock-timeout=120s", str(plan_file(environment))],
                        env,
                        "terraform apply",
                        cwd=stack_dir,
                    )
            else:
                step.detail = "nothing to apply"
        with report.step("outputs") as step:
            step.detail = self._outputs(environment, env, stack_dir)
        self._after_apply(environment, env)

    def _development_deployer(self, environment: Environment) -> tuple[Environment, str]:
        """A development stack without ``DEPLOYER_PRINCIPAL_ARNS`` names the caller's role (resolved with its path), so
        a one-person stack needs no setting; the notice says whom it admits and how to add more. Production requires
        the list (the environment's configuration refused it already)."""
        from botocore.exceptions import BotoCoreError, ClientError  # pylint: disable=import-outside-toplevel

        from tools.deploy.account import boto3_clients  # pylint: disable=import-outside-toplevel
        from tools.deploy.deployer_check import (  # pylint: disable=import-outside-toplevel
            CallerError,
            development_default,
        )

        config = environment.config
        if config.deployers or config.environment_type != "development":
            return environment, ""
        try:
            role = development_default(config, boto3_clients(config.aws_region, tool_env(environment)))
        except CallerError as err:
            raise DeployError(
                f"DEPLOYER_PRINCIPAL_ARNS is not set, and the caller cannot be named instead: {err}"
            ) from err
        except (BotoCoreError, ClientError) as err:
            raise DeployError(
                f"DEPLOYER_PRINCIPAL_ARNS is not set, and naming the caller's role instead needs its credentials "
                f"({err}); set DEPLOYER_PRINCIPAL_ARNS in environments/{self.name}.env, or check the credentials "
                "(`aws sts get-caller-identity` must answer), then run again"
            ) from err
        if role is None:
            return environment, ""
        print(
            f"[deploy] notice: DEPLOYER_PRINCIPAL_ARNS is not set: this development stack names the caller's role "
            f"{role} only, so another deployer's plan would be refused the artifact. To share the stack, list every "
            f"role in environments/{self.name}.env (production requires the list).",
            flush=True,
        )
        return load(self.name, {**self.environ, "DEPLOYER_PRINCIPAL_ARNS": role}), f"; deployer {role} (the caller)"

    def _account(self, environment: Environment, stack_dir: Path, clients: Callable[[str, str], Any]) -> str:
        from tools.deploy.account import account_preflight  # pylint: disable=import-outside-toplevel
        from tools.deploy.checks import failed, render  # pylint: disable=import-outside-toplevel

        stack = json.loads((stack_dir / "cdk.tf.json").read_text(encoding="utf-8"))
        checks = account_preflight(
            stack,
            config=environment.config,
            tfvars=environment.tfvars,
            state=read_state(environment, clients),
            clients=clients,
            sandbox=environment.config.sandbox,
            stack_dir=stack_dir,
            tfvars_file=environment.tfvars_file,
        )
        print(render("[deploy] account preflight", checks), flush=True)
        if failed(checks):
            raise DeployError(
                f"{len(failed(checks))} account check(s) failed (each with its fix above); nothing was "
                "planned or changed"
            )
        return f"{len(checks)} checks, {sum(c.status == 'passed' for c in checks)} passed"

    def _plan(self, environment: Environment, env: Mapping[str, str], stack_dir: Path) -> dict[str, Any]:
        target = plan_file(environment)
        target.parent.mkdir(parents=True, exist_ok=True)
        var_file = [f"-var-file={environment.tfvars_file}"] if environment.tfvars_file else []
        code, _ = child(
            [
                "terraform",
                "plan",
                "-input=false",
                "-lock-timeout=120s",
                "-detailed-exitcode",
                f"-out={target}",
                *var_file,
            ],
            env,
            cwd=stack_dir,
        )
        if code not in (0, 2):
            missing = (
                ""
                if environment.tfvars_file
                else (
                    f" (no environments/{environment.name}.tfvars: certificate_arn and the sizes go there, see "
                    "environments/example.tfvars)"
                )
            )
            raise DeployError(f"terraform plan exited {code} (its output is above){missing}")
        shown = checked(["terraform", "show", "-json", str(target)], env, "terraform show", cwd=stack_dir, capture=True)
        summary = summarize_plan(json.loads(shown))
        summary["plan_file"] = str(target.relative_to(ROOT))
        summary["archive_refusal"] = archive_refusal(environment, json.loads(shown), stack_dir)
        return summary

    def _outputs(self, environment: Environment, env: Mapping[str, str], stack_dir: Path) -> str:
        from tools.deploy import outputs  # pylint: disable=import-outside-toplevel

        raw = checked(["terraform", "output", "-json"], env, "terraform output", cwd=stack_dir, capture=True)
        values = outputs.flatten(json.loads(raw))
        outputs.write_stack(environment.stack_name, values)
        return f"{len(values)} outputs -> {outputs.OUTPUTS_FILE.relative_to(ROOT)} ({environment.stack_name})"

    def _after_apply(self, environment: Environment, env: Mapping[str, str]) -> None:
        report = self.report
        if self.post_apply_hook:
            with report.step("post-apply") as step:
                checked(shlex.split(self.post_apply_hook), env, f"the post-apply hook {self.post_apply_hook!r}")
                step.detail = self.post_apply_hook
        with report.step("frontend"):
            checked([sys.executable, "-m", "tools.release.deploy_frontend"], env, "make deploy-frontend")
        with report.step("verify"):
            wait = ["--wait", env["VERIFY_WAIT"]] if env.get("VERIFY_WAIT") else []
            checked(
                [sys.executable, "-m", "tools.deploy.verify", "--stack", environment.stack_name, *wait],
                env,
                "make verify-deployment",
            )


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


USAGE = (
    "usage: python -m tools.deploy {deploy|plan} <environment> [--auto-approve] [--post-apply-hook CMD] "
    "[--report-json FILE]"
)


def main(argv: list[str] | None = None) -> int:
    """``make deploy`` / ``make plan``."""
    import argparse  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("deploy", "plan"))
    parser.add_argument("environment", nargs="?", default="")
    parser.add_argument("--auto-approve", action="store_true", default=os.environ.get("AUTO_APPROVE") == "1")
    parser.add_argument("--post-apply-hook", default=os.environ.get("DEPLOY_POST_APPLY_HOOK") or None)
    parser.add_argument("--report-json", type=Path, default=os.environ.get("DEPLOY_REPORT_JSON") or None)
    args = parser.parse_args(argv)
    if os.environ.get("DESTROY"):
        print(
            f"[deploy] DESTROY={os.environ['DESTROY']!r} is set: `make destroy`'s destroy mode (deletion protection "
            f"off), which make {args.command} never plans or applies. Unset DESTROY, or run `make destroy "
            "ENVIRONMENT=<name>`.",
            file=sys.stderr,
        )
        return 2
    if not args.environment:
        print(
            f"[deploy] name the environment: make {args.command} ENVIRONMENT=<name> (its settings in "
            "environments/<name>.env, its Terraform variables in environments/<name>.tfvars; "
            "see environments/example.env)",
            file=sys.stderr,
        )
        return 2
    deploy = Deploy(
        args.command, args.environment, auto_approve=args.auto_approve, post_apply_hook=args.post_apply_hook
    )
    code = deploy.run()
    if args.report_json is not None:
        args.report_json.parent.mkdir(parents=True, exist_ok=True)
        args.report_json.write_text(json.dumps(asdict(deploy.report), indent=2) + "\n", encoding="utf-8")
    return code
