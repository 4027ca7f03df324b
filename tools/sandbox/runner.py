"""``make sandbox``: apply the whole stack on a local emulator, test it through the AWS API, destroy it.

Phases, each timed and logged under ``sandbox-logs/``:

emulator   start our patched moto server (child process, free loopback port), import a throwaway
           self-signed certificate into its ACM, create a public hosted zone for its name (``HOSTED_ZONE_ID``:
           the stack writes the API's alias record there), create the operator's Stripe secret and start localstripe
           on 10.213.0.1 (``tools/sandbox/stripe_emulator.py``: the stack runs ``PAYMENT_PROCESSOR=stripe`` against
           it), and take an inventory of what exists before apply
deploy     ``make deploy ENVIRONMENT=<suffix> AUTO_APPROVE=1``: the command a user runs on an account, given the
           emulator's endpoint and test credentials through the environment (``SANDBOX_ENDPOINT_URL``,
           ``AWS_ENDPOINT_URL``) and the certificate as ``TF_VAR_certificate_arn``. Its steps (artifact, synth,
           account preflight, init, plan, apply, outputs, the post-apply hook, frontend, verify) are listed under it
           in the summary. The post-apply hook is ``tools/sandbox/boot_phase.py``: what an API instance does at
           boot, locally and unprivileged, from the artifact in the emulator's bucket against a local PostgreSQL 15
           with TLS standing in for RDS, then a payment and a refund through HTTP
tests      ``pytest tests/integration`` with boto3 pointed at the emulator
drift      a second ``plan -detailed-exitcode`` must report no changes
no-egress  ``make plan`` of the shape without internet egress (``PAYMENT_PROCESSOR=simulated``, no Stripe settings,
           no processor egress CIDRs) synthesized into its own folder, against the same state, as the deployer; its
           plan must delete every NAT gateway, its Elastic IP and the app subnets' default routes, destroy or
           replace nothing stateful, and change nothing else the processor switch does not explain
           (``tools/sandbox/egress_plan.py``). A plan, never applied: the second shape costs seconds, not a cycle
release    release B over A with ``make deploy``, then ``make rollback RELEASE=<A>``: each plan changes only the
           artifact object, the launch template and the group, each boot rehearses its release, and the artifact key
           keeps B as a noncurrent version (``tools/sandbox/release_phase.py``)
destroy    ``make destroy ENVIRONMENT=<suffix> CONFIRM=TapStack<suffix> DELETE_LOG_ARCHIVE=1``, the command a user runs
           (tools/deploy/destroy.py): protection off (applied), buckets emptied, the GOVERNANCE log archive deleted
           with the bypass, ``terraform destroy``, a final snapshot kept, this stack's key out of the outputs file
leftovers  everything created since the first inventory must be gone (KMS keys pending deletion excepted), except
           what make destroy said it keeps (the final snapshot, listed as kept); anything else, or a kept item that
           is missing, fails

The emulator and localstripe are always stopped at the end, also on failure, Ctrl-C or SIGTERM. When tests or the
drift check fail after a successful apply, destroy and the leftover check still run, so one run reports every
problem; the exit status is non-zero and the summary names the first phase that failed. Logs are kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

from tap_contract import runtime
from tap_contract.identity import Output

from lib.config import PROJECT_ROOT, ConfigError, StackConfig, local_state_file  # no cdktf import: cheap
from lib.synth_output import stack_dir
from tools.deploy import outputs
from tools.sandbox import SANDBOX_SUFFIX, deployer_roles
from tools.sandbox.certificate import SANDBOX_DOMAIN, import_sandbox_certificate
from tools.sandbox.emulator import ROOT, MotoServer, aws_environment, client
from tools.sandbox.hosted_zone import create_sandbox_zone
from tools.sandbox.inventory import Inventory, leftovers, take_inventory
from tools.sandbox.migration_phase import REPORT as MIGRATION_REPORT
from tools.sandbox.stripe_emulator import SandboxStripe

DEFAULT_SUFFIX = SANDBOX_SUFFIX
# The sandbox is a development stack with local state, whatever the caller's shell says.
NOT_FROM_THE_CALLER = ("TERRAFORM_STATE_BUCKET", "TERRAFORM_STATE_BUCKET_REGION", "ENVIRONMENT_TYPE")
LOG_DIR = ROOT / "sandbox-logs"
MOTO_LOG = LOG_DIR / "moto.log"
OUTPUTS_FILE = outputs.OUTPUTS_FILE
# Held for the whole cycle: one cycle per checkout (see exclusive_run).
LOCK_FILE = ROOT / ".sandbox.lock"
# Synth output and terraform working folder live with the logs: kept for debugging after a failure, and out
# of cdktf.out/, which every `make synth` replaces as a whole (even during a sandbox run). The state lives in
# sandbox-state/ (lib.config.SANDBOX_STATE_DIR), never where a real deployment's local state would be.
SYNTH_DIR = LOG_DIR / "cdktf.out"
DEPLOY_REPORT = LOG_DIR / "deploy.json"
DESTROY_REPORT = LOG_DIR / "destroy.json"
# The no-egress phase's synth output and make plan report: their own, so the applied stack's folder stays as it is.
NO_EGRESS_SYNTH_DIR = LOG_DIR / "no-egress.out"
NO_EGRESS_REPORT = LOG_DIR / "no-egress-plan.json"
TERRAFORM_TIMEOUT = 30 * 60  # seconds; apply takes ~2 min, a hang should not block CI for its whole budget
STOP_SECONDS = 120  # an interrupted apply finishes its calls in flight and saves the state before it exits
INTERRUPTED_EXIT = 130  # what a shell reports for a command ended by Ctrl-C
PROGRESS_SECONDS = 15  # a progress line this often during apply and destroy (on a terminal: updated in place)
COMPLETED = re.compile(r": (?:Creation|Destruction|Modifications) complete after", re.MULTILINE)
PLANNED = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")
ROUTINE_REFUSAL = re.compile(r"NotFound|NoSuch|does not exist|not found|^error answer 404", re.IGNORECASE)


class PhaseFailed(RuntimeError):
    """A phase did not succeed; the message says why and where its log is."""


@dataclass
class Phase:
    """One timed phase of the cycle."""

    name: str
    status: str = "not run"
    seconds: float = 0.0
    detail: str = ""
    moto_log_offset: int = 0  # where this phase's emulator log starts (for refusals that explain a failure)


@dataclass
class Report:  # pylint: disable=too-many-instance-attributes  # one field per line of the summary
    """Everything the summary and ``phases.json`` show."""

    phases: list[Phase] = field(default_factory=list)
    deploy_steps: list[Phase] = field(default_factory=list)  # make deploy's own steps, from its report
    not_the_deployer: list[list[int]] = field(default_factory=list)  # moto log ranges of the boot hook's calls
    resources_applied: int | None = None
    tests: dict[str, int] = field(default_factory=dict)
    drift: str = "not checked"
    no_egress: dict[str, int] = field(default_factory=dict)  # the no-egress plan's counts (egress_plan.py)
    leftovers: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what make destroy announced it keeps, found after destroy
    emulator: dict[str, int] = field(default_factory=dict)
    failed_phase: str | None = None
    interrupted: bool = False
    cleanup: list[str] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        """Time the block as phase ``name``; a raised exception marks it failed (and propagates)."""
        record = Phase(name, moto_log_offset=MOTO_LOG.stat().st_size if MOTO_LOG.is_file() else 0)
        self.phases.append(record)
        print(f"[sandbox] {name} ...", flush=True)
        start = time.monotonic()
        try:
            yield record
        except BaseException as err:
            record.status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            message = str(err).strip()
            record.detail = message.splitlines()[0] if message else type(err).__name__
            self.failed_phase = self.failed_phase or name
            raise
        else:
            record.status = "passed"
        finally:
            record.seconds = round(time.monotonic() - start, 1)
            print(
                f"[sandbox] {name} {record.status} in {record.seconds:.1f} s"
                + (f": {record.detail}" if record.detail else ""),
                flush=True,
            )


class Terraform:
    """Runs terraform in the synthesized stack folder, one log file per command, child tracked by PID."""

    def __init__(self, stack_dir: Path, env: dict[str, str]) -> None:
        self.stack_dir = stack_dir
        self.env = env
        self.current: subprocess.Popen[bytes] | None = None
        self.current_what = ""
        self.stopped_pid: int | None = None  # a command this object had to interrupt
        self.stopped_what = ""  # and what it was: ``terraform destroy``, ``make deploy``

    def run(self, log_name: str, *args: str, ok_codes: tuple[int, ...] = (0,), total: int | None = None) -> int:
        """Run ``terraform <args>`` in the stack folder, output to ``sandbox-logs/<log_name>.log``; return its exit
        code. With ``total`` (resources to create or destroy), print a progress line while it runs."""
        return self.command(log_name, ["terraform", *args], cwd=self.stack_dir, ok_codes=ok_codes, total=total)

    def command(
        self,
        log_name: str,
        argv: list[str],
        *,
        cwd: Path,
        ok_codes: tuple[int, ...] = (0,),
        total: int | None = None,
        what: str = "",
    ) -> int:
        """Run ``argv`` in its own process group, output to ``sandbox-logs/<log_name>.log``, with progress lines
        while resources are created or destroyed (``total``, or the count of the first ``Plan:`` line in the log)."""
        log_path = LOG_DIR / f"{log_name}.log"
        with log_path.open("wb") as log:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            self.current_what = what or " ".join(argv[:2])
            self.current = subprocess.Popen(  # pylint: disable=consider-using-with
                argv, cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            started = time.monotonic()
            try:
                while True:
                    try:
                        code = self.current.wait(timeout=PROGRESS_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        elapsed = time.monotonic() - started
                        if elapsed > TERRAFORM_TIMEOUT:
                            raise
                        planned = total if total is not None else planned_count(log_path, 0)
                        if planned:
                            show_progress(progress_line(what or argv[1], log_path, planned, elapsed))
                if total is not None and sys.stdout.isatty():
                    print(flush=True)
            except subprocess.TimeoutExpired as err:
                self.stop()
                raise PhaseFailed(f"{self.current_what} timed out after {TERRAFORM_TIMEOUT} s; see {log_path}") from err
            except BaseException:
                self.stop()  # Ctrl-C / SIGTERM: let terraform finish its interrupt before the emulator goes away
                raise
            finally:
                self.current = None
        if code not in ok_codes:
            raise PhaseFailed(f"{self.current_what} exited {code}: {last_error(log_path)} (log: {rel(log_path)})")
        return code

    def stop(self) -> None:
        """Interrupt a running terraform (SIGINT lets it release state and locks), then kill it if needed."""
        process = self.current
        if process is None or process.poll() is not None:
            return
        self.stopped_pid = process.pid
        self.stopped_what = self.current_what
        try:
            os.killpg(process.pid, signal.SIGINT)  # its own group: make, the deploy tool and what they run
            process.wait(timeout=STOP_SECONDS)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def progress_line(command: str, log_path: Path, total: int, elapsed: float) -> str:
    """``apply: 37/104 resources, 45 s (follow sandbox-logs/apply.log)``, read from the log so far."""
    done = len(COMPLETED.findall(log_path.read_text(encoding="utf-8", errors="replace")))
    return f"[sandbox] {command}: {min(done, total)}/{total} resources, {elapsed:.0f} s (follow {rel(log_path)})"


def show_progress(line: str) -> None:
    """In place on a terminal, one line per update in a CI log."""
    if sys.stdout.isatty():
        print(f"\r{line}", end="", flush=True)
    else:
        print(line, flush=True)


def planned_count(log_path: Path, column: int) -> int | None:
    """From ``Plan: A to add, C to change, D to destroy``: A (column 0) or D (column 2)."""
    match = PLANNED.search(log_path.read_text(encoding="utf-8", errors="replace")) if log_path.is_file() else None
    return int(match.group(column + 1)) if match else None


def rel(path: Path) -> str:
    """Path relative to the repository, for short messages."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def last_error(log_path: Path) -> str:
    """``make deploy``'s failure line, else the first ``Error:`` line of a terraform log, else its last line."""
    text = log_path.read_text(encoding="utf-8", errors="replace")
    deploy_failure = [line for line in text.splitlines() if line.startswith(("[deploy] FAILED", "[destroy] FAILED"))]
    if deploy_failure:
        return deploy_failure[0]
    errors = [line.strip(" │╷╵") for line in text.splitlines() if "Error:" in line]
    if errors:
        return errors[0].strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def last_refusals(moto_log: Path, count: int = 5, width: int = 240, since: int = 0) -> list[str]:
    """The last ``count`` calls the emulator refused after byte ``since`` (the failing phase's start), without
    the provider's routine "not found" reads, shortened: the ones that can explain a failure.

    When CI keeps only the console output, these lines say which request moto refused and why.
    """
    if not moto_log.is_file():
        return []
    with moto_log.open("rb") as handle:
        handle.seek(since)
        text = handle.read().decode("utf-8", errors="replace")
    lines = [
        line for line in text.splitlines() if line.startswith("error answer ") and not ROUTINE_REFUSAL.search(line)
    ]
    return [line[:width] for line in lines[-count:]]


def emulator_counts(moto_log: Path) -> dict[str, int]:
    """SDK retries and repeated idempotent creates the emulator saw (see ``tools/sandbox/client_tokens.py``)."""
    prefixes = {
        "sdk_retries": "retry ",
        "lost_answers_replayed": "lost answer replayed",
        "token_replays": "client token ",
        "slow_answers": "slow answer ",
        "framing_mismatches": "framing mismatch ",
    }
    lines = moto_log.read_text(encoding="utf-8", errors="replace").splitlines() if moto_log.is_file() else []
    return {name: sum(line.startswith(prefix) for line in lines) for name, prefix in prefixes.items()}


def junit_counts(junit_path: Path) -> dict[str, int]:
    """passed/failed/errors/skipped from a pytest JUnit XML report."""
    root = ET.parse(junit_path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) for s in suites)
    errors = sum(int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return {"passed": total - failed - errors - skipped, "failed": failed, "errors": errors, "skipped": skipped}


def run_integration_tests(env: dict[str, str], counts: dict[str, int]) -> None:
    """Run tests/integration against the live emulator; they must all pass and at least one must run.

    ``counts`` is filled with passed/failed/errors/skipped, also when the tests fail.
    """
    junit = LOG_DIR / "integration-junit.xml"
    log_path = LOG_DIR / "integration-tests.log"
    with log_path.open("wb") as log:
        code = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/integration",
                "-p",
                "no:cacheprovider",
                "-q",
                "-rfEs",
                f"--junitxml={junit}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=15 * 60,
        ).returncode
    counts.update(junit_counts(junit) if junit.is_file() else {})
    if code != 0 or not counts.get("passed"):
        summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or f"pytest exited {code}"
        raise PhaseFailed(f"integration tests: {summary} (log: {rel(log_path)})")


def kept_by_destroy(report_path: Path) -> dict[str, str]:
    """What ``make destroy`` said it keeps (its report's ``kept``), as inventory items: ``"<kind> <name>"`` -> why."""
    if not report_path.is_file():
        return {}
    document = json.loads(report_path.read_text(encoding="utf-8"))
    return {f"{item['kind']} {item['name']}": item["why"] for item in document.get("kept") or []}


def sort_leftovers(found: list[str], expected: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """``(unannounced, kept, missing)``: what survived destroy without make destroy keeping it (a failure), what it
    kept as it said, and what it said it kept but is not there (a failure too: a final snapshot that was not taken)."""
    unannounced = [item for item in found if item not in expected]
    kept = [item for item in found if item in expected]
    missing = sorted(set(expected) - set(found))
    return unannounced, kept, missing


def tool_environment(endpoint: str, region: str, suffix: str, hosted_zone_id: str) -> dict[str, str]:
    """Environment for synth, terraform and pytest: emulator endpoint and test keys, nothing from the user's AWS
    configuration, our terraform CLI config (offline provider mirror)."""
    from tools.deploy.tfcli import terraform_env  # pylint: disable=import-outside-toplevel

    env = aws_environment(endpoint, region, base=terraform_env())
    env.update(
        {
            "ENVIRONMENT_SUFFIX": suffix,
            "CDKTF_OUTDIR": str(SYNTH_DIR),
            "SANDBOX_OUTPUTS_FILE": str(OUTPUTS_FILE),
            "DEPLOY_REPORT_JSON": str(DEPLOY_REPORT),
            "DESTROY_REPORT_JSON": str(DESTROY_REPORT),
            "SANDBOX_INTEGRATION_REQUIRED": "1",  # the integration tests fail rather than skip when run from here
            # The name on the sandbox certificate: the listener then forwards only that Host, as in production.
            "API_DOMAIN": SANDBOX_DOMAIN,
            # The zone the runner made for that name (tools/sandbox/hosted_zone.py): the stack writes its alias there.
            "HOSTED_ZONE_ID": hosted_zone_id,
            # The sandbox's deployer and a second, an IAM Identity Center permission set (deployer_roles.py).
            "DEPLOYER_PRINCIPAL_ARNS": deployer_roles.DEPLOYER_PRINCIPAL_ARNS,
            # The log archive's break-glass role (deployer_roles.py): the deployer may not change the archive's
            # policy, lifecycle or lock after the first apply; make destroy assumes the role to delete the archive.
            "BREAK_GLASS_ROLE_ARN": deployer_roles.BREAK_GLASS.arn,
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
    )
    for unwanted in (*NOT_FROM_THE_CALLER, "TF_WORKSPACE"):
        env.pop(unwanted, None)
    return env


def sandbox_config(environ: Mapping[str, str] | None = None) -> StackConfig:
    """The sandbox stack's configuration: the caller's ``ENVIRONMENT_SUFFIX`` (default ``sandbox``) and region,
    as synth will read them, so a bad value stops here before the emulator starts."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault("ENVIRONMENT_SUFFIX", DEFAULT_SUFFIX)
    for unwanted in NOT_FROM_THE_CALLER:
        env.pop(unwanted, None)
    env["SANDBOX_ENDPOINT_URL"] = "http://127.0.0.1:1"  # placeholder: sandbox mode, the real port comes later
    return StackConfig.from_env(env)


class RealStateInTheWay(RuntimeError):
    """The project root holds local state for the sandbox's stack name: it may track a real deployment."""


def check_no_real_state(config: StackConfig) -> None:
    """Refuse to run a sandbox under a stack name whose project-root state may track real resources."""
    real = local_state_file(PROJECT_ROOT, config.stack_name)
    if real.exists():
        raise RealStateInTheWay(
            f"{rel(real)} exists: that local state of {config.stack_name} may track a real deployment, and a "
            "sandbox under the same name would mix their outputs and names. Run the sandbox with another "
            "suffix (ENVIRONMENT_SUFFIX=<another> make sandbox); nothing was started or changed."
        )


# The second apply's change of a runtime setting (phase settings): API_DB_POOL_MAX, whose default is 10.
CHANGED_POOL_MAX = 12


def prepare_folders(config: StackConfig) -> None:
    """Fresh logs, no stale outputs, no state from an earlier emulator (which no longer exists)."""
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    outputs.remove_stack(config.stack_name)  # an earlier cycle's, if it stopped before destroy; no other stack's
    shutil.rmtree(SYNTH_DIR, ignore_errors=True)
    config.local_state_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (config.local_state_path, config.local_state_path.with_name(config.local_state_path.name + ".backup")):
        stale.unlink(missing_ok=True)


def _raise_keyboard_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class SandboxRun:  # pylint: disable=too-few-public-methods
    """One full cycle; :meth:`run` returns the process exit status."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.report = Report()
        self.moto = MotoServer(log_path=MOTO_LOG)
        self.stripe = SandboxStripe(log_path=LOG_DIR / "localstripe.log")
        self.terraform: Terraform | None = None
        self.certificate_arn = ""
        self.baseline: Inventory = {}
        self.started = time.monotonic()

    def run(self) -> int:
        """Run every phase; always stop terraform and the emulator; print and write the summary."""
        # Both stop the cycle with its clean-up, also when the caller started us with SIGINT ignored (a
        # non-interactive shell does that to background jobs, and Python then keeps ignoring Ctrl-C). A handled
        # signal is reset to its default in the children at exec, so terraform can be interrupted too.
        previous = {sig: signal.signal(sig, _raise_keyboard_interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._cycle()
        except PhaseFailed:
            pass  # recorded on the phase; the summary names it
        except Exception:  # pylint: disable=broad-exception-caught  # a bug here must still clean up and report
            (LOG_DIR / "runner-error.log").write_text(traceback.format_exc(), encoding="utf-8")
            print(f"[sandbox] unexpected error, traceback in {rel(LOG_DIR / 'runner-error.log')}", flush=True)
            self.report.failed_phase = self.report.failed_phase or "runner"
        except KeyboardInterrupt:
            print("\n[sandbox] interrupted by you: stopping terraform and the emulator", flush=True)
            self.report.interrupted = True
            self.report.failed_phase = self.report.failed_phase or "interrupted"
        finally:
            self._clean_up()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._summarize()
        if self.report.interrupted:
            return INTERRUPTED_EXIT
        return 0 if self.report.failed_phase is None else 1

    def _clean_up(self) -> None:
        """Stop terraform and the emulator, and say what was done (the summary repeats it)."""
        cleanup = self.report.cleanup
        if self.terraform is not None:
            self.terraform.stop()
            if self.terraform.stopped_pid is not None:
                cleanup.append(
                    f"{self.terraform.stopped_what} (pid {self.terraform.stopped_pid}) interrupted and "
                    f"waited for; its state is in {rel(self.config.local_state_path)}"
                )
        stripe_pid = self.stripe.pid
        self.stripe.stop()
        if stripe_pid is not None:
            cleanup.append(f"localstripe (pid {stripe_pid}) stopped, {self.stripe.host.address} off lo")
        moto_pid = self.moto.pid
        self.moto.stop()
        if moto_pid is not None:
            cleanup.append(f"emulator (pid {moto_pid}) stopped; what the stack had created there is gone with it")

    def _cycle(self) -> None:
        report = self.report
        region = self.config.aws_region
        with report.phase("emulator") as phase:
            endpoint = self.moto.start()
            self.certificate_arn = import_sandbox_certificate(client("acm", endpoint, region))
            hosted_zone_id = create_sandbox_zone(client("route53", endpoint, region))
            # Before the inventory: the deployers' roles are the account's, not the stack's (destroy keeps them).
            deployer_roles.create_roles(client("iam", endpoint, region))
            # The operator's Stripe secret too; localstripe runs for the whole cycle (tools/sandbox/stripe_emulator.py).
            secrets_manager = client("secretsmanager", endpoint, region)
            stripe_settings = self.stripe.start(secrets_manager, self.config.environment_suffix)
            self.baseline, errors = take_inventory(endpoint, region)
            if errors:
                raise PhaseFailed("cannot list resources before apply: " + "; ".join(errors))
            phase.detail = f"{endpoint} (pid {self.moto.pid}); localstripe {stripe_settings['STRIPE_API_BASE']}"
        env = tool_environment(endpoint, region, self.config.environment_suffix, hosted_zone_id)
        env.update(stripe_settings)  # every make deploy of the cycle runs the Stripe processor against localstripe
        # make deploy, the second plan and destroy run as a session of the sandbox's deployer role, as on AWS.
        env.update(
            deployer_roles.session_environment(client("sts", endpoint, region), deployer_roles.DEPLOYER, "sandbox")
        )
        env.update(
            {
                "TF_VAR_certificate_arn": self.certificate_arn,
                "DEPLOY_POST_APPLY_HOOK": f"{sys.executable} -m tools.sandbox.boot_phase",
                # The migration host the apply launches boots while the apply waits for its result (issue 27).
                "DEPLOY_DURING_APPLY_HOOK": f"{sys.executable} -m tools.sandbox.migration_phase",
            }
        )
        terraform = self.terraform = Terraform(stack_dir(SYNTH_DIR, self.config.stack_name), env)
        try:
            with report.phase("deploy") as phase:
                self._make_deploy("deploy", "make deploy")
                phase.detail = "make deploy passed"
        except PhaseFailed:
            if not (terraform.stack_dir / ".terraform").is_dir():
                raise  # nothing was initialised, so nothing was applied: no destroy to run
        finally:
            self._deploy_steps()
        applied = any(p.name == "apply" and p.status == "passed" for p in report.deploy_steps)
        checks: list[tuple[str, Callable[[Phase], None]]] = [
            ("tests", self._tests),
            ("settings", self._settings),
            ("drift", self._drift),
            ("no-egress", self._no_egress),
            ("release", self._release),
        ]
        for name, check in checks if applied else []:
            try:
                with report.phase(name) as phase:
                    check(phase)
            except Exception:  # pylint: disable=broad-exception-caught  # recorded on the phase
                # Keep going: destroy and the leftover check still tell us something.
                (LOG_DIR / f"{name}-error.log").write_text(traceback.format_exc(), encoding="utf-8")
        with report.phase("destroy") as phase:
            phase.detail = self._make_destroy()
        with report.phase("leftovers") as phase:
            after, errors = take_inventory(endpoint, region)
            if errors:
                raise PhaseFailed("cannot list resources after destroy: " + "; ".join(errors))
            expected = kept_by_destroy(DESTROY_REPORT)
            report.leftovers, report.kept, missing = sort_leftovers(leftovers(self.baseline, after), expected)
            if report.leftovers or missing:
                (LOG_DIR / "leftovers.txt").write_text("\n".join(report.leftovers) + "\n", encoding="utf-8")
                raise PhaseFailed(
                    (f"make destroy said it kept {', '.join(missing)}, which is not there; " if missing else "")
                    + (
                        f"{len(report.leftovers)} resources survived destroy unannounced: "
                        + ", ".join(report.leftovers[:5])
                        + (" ..." if len(report.leftovers) > 5 else "")
                        if report.leftovers
                        else ""
                    )
                )
            phase.detail = "nothing left" + (
                f"; kept as make destroy announced: {', '.join(report.kept)}" if report.kept else ""
            )
        with report.phase("policy") as phase:
            phase.detail = self._deployer_policy()

    def _migration_host_calls(self) -> None:
        """The emulator log's ranges of the migration hosts' rehearsals (make deploy's during-apply hook): the hosts'
        calls, left out of the deployer-policy check like the boot hook's."""
        if MIGRATION_REPORT.is_file():
            ranges = json.loads(MIGRATION_REPORT.read_text(encoding="utf-8")).get("moto_log_ranges", [])
            self.report.not_the_deployer.extend(ranges)

    def _make_deploy(self, log_name: str, what: str) -> None:
        """`make deploy ENVIRONMENT=<suffix> AUTO_APPROVE=1`, the command a user runs, in the sandbox's environment."""
        assert self.terraform is not None
        suffix = self.config.environment_suffix
        self.terraform.command(
            log_name,
            ["make", "--no-print-directory", "deploy", f"ENVIRONMENT={suffix}", "AUTO_APPROVE=1"],
            cwd=ROOT,
            what=what,
        )

    def _make_destroy(self) -> str:
        """`make destroy ENVIRONMENT=<suffix> CONFIRM=TapStack<suffix> DELETE_LOG_ARCHIVE=1`, the command a user runs:
        the log archive is deleted (GOVERNANCE, with the bypass), so the leftover check expects only the final
        snapshot. Its key leaves the outputs file (a copy stays in the logs)."""
        assert self.terraform is not None
        stack = self.config.stack_name
        self.terraform.command(
            "destroy",
            [
                "make",
                "--no-print-directory",
                "destroy",
                f"ENVIRONMENT={self.config.environment_suffix}",
                f"CONFIRM={stack}",
                "DELETE_LOG_ARCHIVE=1",
            ],
            cwd=ROOT,
            total=self.report.resources_applied,
            what="make destroy",
        )
        document = json.loads(DESTROY_REPORT.read_text(encoding="utf-8"))
        steps = {step["name"]: step["detail"] for step in document.get("steps", [])}
        return f"make destroy passed; {steps.get('outputs', '')}; {steps.get('kept', 'nothing kept')}"

    def _deploy_steps(self) -> None:
        """List ``make deploy``'s steps under the deploy phase (from its report), and keep a copy of the outputs."""
        if not DEPLOY_REPORT.is_file():
            return
        document = json.loads(DEPLOY_REPORT.read_text(encoding="utf-8"))
        for step in document.get("steps", []):
            self.report.deploy_steps.append(
                Phase(
                    step["name"],
                    status=step["status"],
                    seconds=step["seconds"],
                    detail=step["detail"].splitlines()[0] if step["detail"] else "",
                )
            )
        boot = LOG_DIR / "boot.json"
        if boot.is_file():
            self.report.not_the_deployer.append(json.loads(boot.read_text(encoding="utf-8"))["moto_log_range"])
        self._migration_host_calls()
        match = re.search(
            r"Resources: (\d+) added", (LOG_DIR / "deploy.log").read_text(encoding="utf-8", errors="replace")
        )
        self.report.resources_applied = int(match.group(1)) if match else None
        stack = self.config.stack_name
        if stack in outputs.read():
            (LOG_DIR / "outputs.json").write_text(
                json.dumps(outputs.stack_outputs(stack), indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )

    def _deployer_policy(self) -> str:
        """Every call the emulator served to the deployer (make deploy less its boot hook, the second plan, destroy)
        is allowed by docs/deployer-policy.json with the two managed ones (docs/deployer-*-policy.json), and so are the
        hand-added actions no call shows."""
        from tools.sandbox import deployer_policy  # pylint: disable=import-outside-toplevel  # runs node

        document = {"phases": [asdict(p) for p in self.report.phases], "not_the_deployer": self.report.not_the_deployer}
        names = [name for name in deployer_policy.DEPLOYER_PHASES if any(p.name == name for p in self.report.phases)]
        requests = [
            request
            for start, end in deployer_policy.ranges_of(document, names)
            for request in deployer_policy.read_requests(MOTO_LOG, start, end)
        ]
        refused = sorted(
            {check.action for check in deployer_policy.unallowed_checks(requests, deployer_policy.POLICIES)}
        )
        if refused:
            raise PhaseFailed(
                "the deployer's policies (docs/deployer-policy.json and docs/deployer-*-policy.json) do not allow "
                f"{len(refused)} action(s) the deployer used: " + ", ".join(refused)
            )
        actions = {
            action for request in requests for action in deployer_policy.iam_actions(request.service, request.operation)
        }
        return f"{len(requests)} deployer requests, {len(actions)} actions, all allowed ({', '.join(names)})"

    def _tests(self, phase: Phase) -> None:
        assert self.terraform is not None
        env = dict(self.terraform.env, SANDBOX_CERTIFICATE_ARN=self.certificate_arn)
        run_integration_tests(env, self.report.tests)
        phase.detail = ", ".join(f"{v} {k}" for k, v in self.report.tests.items() if v)

    def _settings(self, phase: Phase) -> None:
        """A second ``make deploy`` that changes one runtime setting (``API_DB_POOL_MAX``): the parameter gets a new
        version, the launch template a new version whose instance tags carry it, the group an instance refresh, and
        the boot hook boots the refresh's replacement from the new user data, which must get the new value."""
        assert self.terraform is not None
        endpoint, region = self.moto.endpoint, self.config.aws_region
        values = outputs.stack_outputs(self.config.stack_name)
        ssm, ec2 = client("ssm", endpoint, region), client("ec2", endpoint, region)
        name, template = values[Output.API_RUNTIME_PARAMETER_NAME], values[Output.LAUNCH_TEMPLATE_ID]
        before = ssm.get_parameter(Name=name)["Parameter"]["Version"]
        env, self.terraform.env = self.terraform.env, dict(self.terraform.env, API_DB_POOL_MAX=str(CHANGED_POOL_MAX))
        try:
            self._make_deploy("settings", "make deploy (API_DB_POOL_MAX changed)")
        finally:
            self.terraform.env = env
            boot = LOG_DIR / "boot.json"
            if boot.is_file():
                self.report.not_the_deployer.append(json.loads(boot.read_text(encoding="utf-8"))["moto_log_range"])
            self._migration_host_calls()
        after = ssm.get_parameter(Name=name)["Parameter"]["Version"]
        latest = ec2.describe_launch_template_versions(LaunchTemplateId=template, Versions=["$Latest"])
        data = latest["LaunchTemplateVersions"][0]
        tags = {
            tag["Key"]: tag["Value"]
            for spec in data["LaunchTemplateData"].get("TagSpecifications", [])
            if spec["ResourceType"] == "instance"
            for tag in spec["Tags"]
        }
        refreshes = client("autoscaling", endpoint, region).describe_instance_refreshes(
            AutoScalingGroupName=values[Output.ASG_NAME]
        )["InstanceRefreshes"]
        steps = json.loads((LOG_DIR / "boot.json").read_text(encoding="utf-8")).get("steps", [])
        problems = [
            f"the runtime parameter's version went from {before} to {after}" if after != before + 1 else "",
            f"the launch template's instance tag RuntimeSettingsVersion is {tags.get('RuntimeSettingsVersion')!r}, "
            f"not {after}"
            if tags.get("RuntimeSettingsVersion") != str(after)
            else "",
            "no instance refresh was started" if not refreshes else "",
            f"no replacement booted with {runtime.DB_POOL_MAX.env}={CHANGED_POOL_MAX}"
            if not any(f'{runtime.DB_POOL_MAX.env}="{CHANGED_POOL_MAX}"' in step for step in steps)
            else "",
        ]
        if any(problems):
            raise PhaseFailed("a changed setting did not roll the fleet: " + "; ".join(filter(None, problems)))
        phase.detail = (
            f"API_DB_POOL_MAX={CHANGED_POOL_MAX}: parameter version {before} -> {after}, launch template version "
            f"{data['VersionNumber']}, instance refresh {refreshes[0]['InstanceRefreshId'][:8]}, replacement booted"
        )

    def _release(self, phase: Phase) -> None:
        """Release B over A, then make rollback to A (``tools/sandbox/release_phase.py``), as the deployer; each
        command's boot hook is the instances' calls, left out of the deployer-policy check."""
        from tools.sandbox.release_phase import release_cycle  # pylint: disable=import-outside-toplevel

        terraform = self.terraform
        assert terraform is not None
        # The settings the stack runs with since the settings phase: a release changes the artifact, nothing else.
        settings = {"API_DB_POOL_MAX": str(CHANGED_POOL_MAX)}

        def run(log_name: str, argv: list[str], what: str, extra: Mapping[str, str]) -> None:
            env, terraform.env = terraform.env, {**terraform.env, **settings, **extra}
            boot = LOG_DIR / "boot.json"
            boot.unlink(missing_ok=True)  # a range is recorded only for a boot this command ran
            MIGRATION_REPORT.unlink(missing_ok=True)
            try:
                terraform.command(log_name, argv, cwd=ROOT, what=what)
            finally:
                terraform.env = env
                if boot.is_file():
                    self.report.not_the_deployer.append(json.loads(boot.read_text(encoding="utf-8"))["moto_log_range"])
                self._migration_host_calls()

        phase.detail = release_cycle(
            run,
            endpoint=self.moto.endpoint,
            region=self.config.aws_region,
            stack=self.config.stack_name,
            suffix=self.config.environment_suffix,
            reports=(DEPLOY_REPORT, LOG_DIR / "boot.json"),
            deployer_s3=deployer_roles.deployer_client("s3", self.moto.endpoint, self.config.aws_region, terraform.env),
        )

    def _drift(self, phase: Phase) -> None:
        assert self.terraform is not None
        code = self.terraform.run(
            "drift-plan",
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            "-lock-timeout=60s",
            f"-var=certificate_arn={self.certificate_arn}",
            ok_codes=(0, 2),
        )
        if code == 2:
            changed = re.findall(
                r"^\s+# (\S+) (?:will|must) be",
                (LOG_DIR / "drift-plan.log").read_text(encoding="utf-8"),
                flags=re.MULTILINE,
            )
            self.report.drift = f"{len(changed)} resources would change"
            raise PhaseFailed(
                f"second plan is not empty: {', '.join(changed) or 'see log'} (log: {rel(LOG_DIR / 'drift-plan.log')})"
            )
        self.report.drift = "none"
        phase.detail = "no changes"

    def _no_egress(self, phase: Phase) -> None:
        """``make plan`` of the no-egress shape on the applied Stripe shape's state (``tools/sandbox/egress_plan.py``):
        after the drift phase, so the state matches the Stripe shape and every planned change is the switch's."""
        from tools.sandbox import egress_plan  # pylint: disable=import-outside-toplevel

        terraform = self.terraform
        assert terraform is not None
        stack = self.config.stack_name
        # The settings the stack runs with since the settings phase, as the release phase keeps them.
        env = egress_plan.no_egress_environment(
            {**terraform.env, "API_DB_POOL_MAX": str(CHANGED_POOL_MAX)},
            outdir=NO_EGRESS_SYNTH_DIR,
            report=NO_EGRESS_REPORT,
        )
        saved, terraform.env = terraform.env, env
        try:
            terraform.command(
                "no-egress-plan",
                ["make", "--no-print-directory", "plan", f"ENVIRONMENT={self.config.environment_suffix}"],
                cwd=ROOT,
                what="make plan (no egress)",
            )
        finally:
            terraform.env = saved
        planned_dir = stack_dir(NO_EGRESS_SYNTH_DIR, stack)
        plan_file = ROOT / json.loads(NO_EGRESS_REPORT.read_text(encoding="utf-8"))["plan"]["plan_file"]
        shown = subprocess.run(
            ["terraform", "show", "-json", str(plan_file)],
            cwd=planned_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if shown.returncode != 0:
            raise PhaseFailed(
                f"terraform show -json {rel(plan_file)} exited {shown.returncode}: {shown.stderr.strip()}"
            )
        (LOG_DIR / "no-egress-plan.show.json").write_text(shown.stdout, encoding="utf-8")
        result = egress_plan.check_plan(
            json.loads(shown.stdout),
            applied_stack=json.loads((terraform.stack_dir / "cdk.tf.json").read_text(encoding="utf-8")),
            planned_stack=json.loads((planned_dir / "cdk.tf.json").read_text(encoding="utf-8")),
        )
        self.report.no_egress = result.counts
        if result.problems:
            raise PhaseFailed(
                f"the no-egress plan has {len(result.problems)} problem(s): "
                + "; ".join(result.problems)
                + f" (plan: {rel(LOG_DIR / 'no-egress-plan.show.json')}, log: {rel(LOG_DIR / 'no-egress-plan.log')})"
            )
        phase.detail = result.describe()

    def _summarize(self) -> None:
        report = self.report
        report.emulator = emulator_counts(MOTO_LOG)
        total = round(time.monotonic() - self.started, 1)
        result = "interrupted" if report.interrupted else "failed" if report.failed_phase else "passed"
        document = {**asdict(report), "total_seconds": total, "result": result}
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / "phases.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print("\n[sandbox] summary")
        for phase in report.phases:
            print(f"  {phase.name:<16} {phase.status:<11} {phase.seconds:7.1f} s  {phase.detail}")
            if phase.name == "deploy":
                for step in report.deploy_steps:
                    print(f"    {step.name:<14} {step.status:<11} {step.seconds:7.1f} s  {step.detail}")
        tests = report.tests
        print(f"  resources applied: {report.resources_applied if report.resources_applied is not None else '-'}")
        print(
            f"  tests: {tests.get('passed', 0)} passed, {tests.get('failed', 0) + tests.get('errors', 0)} failed"
            + (f", {tests['skipped']} skipped" if tests.get("skipped") else "")
        )
        print(f"  drift: {report.drift}")
        egress = report.no_egress
        print(
            "  no-egress plan: "
            + (
                f"{egress['nat_gateways_deleted']} NAT gateways, {egress['nat_addresses_deleted']} Elastic IPs, "
                f"{egress['default_routes_deleted']} default routes deleted; {egress['other_changes_explained']} "
                f"other changes explained, {egress['unexplained']} problems"
                if egress
                else "not checked"
            )
        )
        counts = report.emulator
        print(
            f"  emulator: {counts['sdk_retries']} SDK retries ({counts['lost_answers_replayed']} after a lost "
            f"answer, replayed), {counts['token_replays']} repeated creates answered once, {counts['slow_answers']} "
            f"slow answers, {counts['framing_mismatches']} framing mismatches (details in {rel(MOTO_LOG)})"
        )
        destroy = next((p for p in report.phases if p.name == "leftovers"), None)
        clean = "clean" + (f" (kept as announced: {', '.join(report.kept)})" if report.kept else "")
        print(f"  destroy: {clean if destroy and destroy.status == 'passed' else destroy.detail if destroy else '-'}")
        print(f"  total: {total:.1f} s; timings in {rel(LOG_DIR / 'phases.json')}")
        if report.cleanup:
            print("  cleaned up: " + "; ".join(report.cleanup))
        if report.interrupted:
            during = next((p.name for p in report.phases if p.status == "interrupted"), "set-up")
            print(f"[sandbox] INTERRUPTED by you during '{during}'; logs kept in {rel(LOG_DIR)}/", flush=True)
        elif report.failed_phase:
            failing = next((p for p in report.phases if p.name == report.failed_phase), None)
            refusals = last_refusals(MOTO_LOG, since=failing.moto_log_offset if failing else 0)
            if refusals:
                print(
                    f"  calls the emulator refused during '{report.failed_phase}' (routine not-found reads left "
                    f"out; all in {rel(MOTO_LOG)}):"
                )
                print("\n".join(f"    {line}" for line in refusals))
            print(f"[sandbox] FAILED in phase '{report.failed_phase}'; logs kept in {rel(LOG_DIR)}/", flush=True)
        else:
            print("[sandbox] PASSED", flush=True)


class SandboxBusy(RuntimeError):
    """Another cycle is running in this checkout."""


@contextmanager
def exclusive_run(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` for the block, or raise :class:`SandboxBusy` at once.

    Two cycles in one checkout would share ``sandbox-logs/``: the second one's clean-up deletes the first
    one's Terraform state mid-apply, and the first then fails with errors that have nothing to do with the
    stack. The lock is released by the kernel when the process ends, however it ends.
    """
    import fcntl  # pylint: disable=import-outside-toplevel  # POSIX only, like the rest of the tool chain

    with lock_path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise SandboxBusy(
                f"another sandbox cycle (pid {holder}) is running in this checkout and owns "
                f"{rel(LOG_DIR)}/; wait for it to finish or stop it, then run again"
            ) from err
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.sandbox``: run the full cycle."""
    if argv:
        print(__doc__)
        return 0 if argv[0] in ("-h", "--help") else 2
    if shutil.which("terraform") is None:
        print("[sandbox] terraform is not on PATH (Terraform >= 1.10 is required)", file=sys.stderr)
        return 2
    try:
        config = sandbox_config()
        check_no_real_state(config)
        with exclusive_run(LOCK_FILE):
            prepare_folders(config)
            print(f"[sandbox] stack {config.stack_name}, state in {rel(config.local_state_path)}", flush=True)
            return SandboxRun(config).run()
    except (SandboxBusy, RealStateInTheWay, ConfigError) as err:
        print(f"[sandbox] {err}", file=sys.stderr)
        return 2
