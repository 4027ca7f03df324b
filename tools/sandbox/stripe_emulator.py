"""The sandbox's Stripe: the stack runs ``PAYMENT_PROCESSOR=stripe`` against a localstripe the rehearsed boots reach.

The runner (``tools/sandbox/runner.py``), before the first inventory, as an account's own set-up (like the sandbox
certificate, which the stack is given, not made):

- creates the Stripe secret in the emulator's Secrets Manager, ``sandbox/stripe-<suffix>``, holding the JSON the
  stack's ``STRIPE_SECRET_KEY_ARN`` names (``{"api_key": "sk_test_...", "webhook_secret": "whsec_..."}``, fresh
  values from ``tools.dev.local_stripe.stripe_credential``);
- puts :data:`STRIPE_ADDRESS` on the host's loopback device and starts localstripe (``tools.dev.local_stripe``, our
  launcher with its fidelity patches) bound to that one address, never a wildcard, for the whole run. Every rehearsed
  boot's namespace routes everything but its own /30 through the host's end of its veth (``10.213.<n>.1``), so it
  reaches that address as a host address; index 0 is no boot's;
- gives ``make deploy`` (every one of the run: deploy, settings, release, rollback) ``PAYMENT_PROCESSOR=stripe``, the
  secret's ARN, a ``pk_test_`` publishable key and ``STRIPE_API_BASE`` (the emulator's URL: it reaches the runtime
  parameter and so the service's ``PAYMENT_STRIPE_API_BASE``);
- stops localstripe and removes the address at the end, also on failure or Ctrl-C.

The boot hook (``tools/sandbox/boot_phase.py``) then checks, per instance, that the Stripe secret reached the serving
unit's credentials (fetched by the instance session: :func:`instance_read_secret` reads the request log) and that its
payment and refund are at localstripe (:func:`payment_at_stripe`).
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import subprocess
from pathlib import Path
from typing import Any, TextIO

import httpx

from tools.dev.local_stripe import LocalStripe, stripe_credential

# The host address localstripe listens on: in the rehearsal's 10.213.0.0/16, where boot <n> has 10.213.<n>.0/30.
STRIPE_ADDRESS = "10.213.0.1"
PUBLISHABLE_KEY = "pk_test_sandboxlocalstripe"
# localstripe accepts any sk_ key and keeps one set of objects: the boot hook reads with a key of its own, so it never
# reads the stack's secret (the request log then shows the instance's GetSecretValue alone).
READER_KEY = "sk_test_sandboxbootcheck"
# Where the host-address locks live (machine-wide, like the address).
LOCK_DIR = Path("/run/lock")


class SandboxStripeError(RuntimeError):
    """The sandbox's Stripe could not be set up, or a boot's payment is not at Stripe as it must be."""


def secret_name(suffix: str) -> str:
    """The Stripe secret of the sandbox stack ``suffix``: the operator's, outside the stack's ``payment-*`` names."""
    return f"sandbox/stripe-{suffix}"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)


class HostAddress:
    """``address``/32 on the host's loopback device while in use (added by ``add``, removed by ``remove``).

    The address is the machine's, not the checkout's, so whoever uses it holds an exclusive lock on
    ``/run/lock/tap-sandbox-<address>.lock`` (:data:`LOCK_DIR`) for as long as it does; the kernel releases the lock
    when the process ends, however it ends. ``add`` then tells the two cases apart:

    - the lock is held: another sandbox run or boot rehearsal uses the address, and removing it at our end would cut
      that one off: refused (run them one at a time: ``flock /tmp/rehearsal.lock``);
    - the lock is free but the address is there: a run was killed before its ``remove`` (SIGKILL, a CI time-out):
      the address is taken over, said so, and removed at our end like our own.
    """

    def __init__(self, address: str, lock_dir: Path | None = None) -> None:
        ipaddress.IPv4Address(address)
        self.address = address
        self.lock_path = (lock_dir or LOCK_DIR) / f"tap-sandbox-{address}.lock"
        self.added = False
        self._lock: TextIO | None = None

    def present(self) -> bool:
        """Whether the host has the address (on any device)."""
        listed = _ip("-4", "-o", "addr", "show").stdout.split()
        return f"{self.address}/32" in listed or any(word.startswith(f"{self.address}/") for word in listed)

    def add(self) -> None:
        self._take_lock()
        try:
            if self.present():
                print(
                    f"[sandbox] {self.address} was left on the host by a run that ended without removing it "
                    "(its lock is free): taken over, and removed at the end",
                    flush=True,
                )
            else:
                added = _ip("addr", "add", f"{self.address}/32", "dev", "lo")
                if added.returncode != 0:
                    raise SandboxStripeError(
                        f"cannot add {self.address}/32 to lo (the rehearsal runs as root): {added.stderr.strip()}"
                    )
        except BaseException:
            self._release_lock()
            raise
        self.added = True

    def remove(self) -> None:
        if self.added:
            _ip("addr", "del", f"{self.address}/32", "dev", "lo")
            self.added = False
        self._release_lock()

    def _take_lock(self) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise SandboxStripeError(
                f"{self.address} is in use by another sandbox run or boot rehearsal on this machine (pid {holder}, "
                f"lock {self.lock_path}); run one at a time (flock /tmp/rehearsal.lock make sandbox)"
            ) from err
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.truncate(0)
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


class SandboxStripe:
    """localstripe on :data:`STRIPE_ADDRESS` and the Stripe secret, for one sandbox run: ``start``, then ``stop``."""

    def __init__(self, log_path: Path, address: str = STRIPE_ADDRESS) -> None:
        self.host = HostAddress(address)
        self.emulator = LocalStripe(log_path=log_path, host=address)
        self.secret_arn = ""

    @property
    def pid(self) -> int | None:
        return self.emulator.process.pid if self.emulator.process is not None else None

    def start(self, secrets_manager: Any, suffix: str) -> dict[str, str]:
        """Create the secret (``secrets_manager``: the emulator's, as the account), start localstripe; return the
        settings ``make deploy`` runs the stack with."""
        self.secret_arn = str(
            secrets_manager.create_secret(
                Name=secret_name(suffix),
                Description="The sandbox's Stripe secret (localstripe's test keys): the operator's, not the stack's",
                SecretString=stripe_credential(),
            )["ARN"]
        )
        self.host.add()
        try:
            url = self.emulator.start()
        except Exception:
            self.host.remove()
            raise
        return {
            "PAYMENT_PROCESSOR": "stripe",
            "STRIPE_SECRET_KEY_ARN": self.secret_arn,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_API_BASE": url,
        }

    def stop(self) -> None:
        """Stop localstripe (by its PID) and remove the address. Safe to call twice."""
        try:
            self.emulator.stop()
        finally:
            self.host.remove()


def payment_at_stripe(api_base: str, payment_id: str, refund_id: str, amount: int) -> str:
    """The one PaymentIntent localstripe holds for our ``payment_id`` (in its metadata), succeeded for ``amount``,
    and our refund ``refund_id`` of it; a :class:`SandboxStripeError` saying what differs otherwise."""
    with httpx.Client(base_url=api_base, auth=(READER_KEY, ""), timeout=15) as stripe:
        found = stripe.get("/v1/payment_intents/search", params={"query": f"metadata['payment_id']:'{payment_id}'"})
        found.raise_for_status()
        intents = found.json()["data"]
        if len(intents) != 1 or intents[0]["status"] != "succeeded" or intents[0]["amount"] != amount:
            raise SandboxStripeError(
                f"localstripe at {api_base} holds {len(intents)} PaymentIntent(s) for payment {payment_id} "
                f"({[(i['id'], i['status'], i['amount']) for i in intents]}): one, succeeded, for {amount}, expected"
            )
        listed = stripe.get("/v1/refunds", params={"payment_intent": intents[0]["id"]})
        listed.raise_for_status()
    refunds = [r["id"] for r in listed.json()["data"] if r.get("metadata", {}).get("refund_id") == refund_id]
    if len(refunds) != 1:
        raise SandboxStripeError(f"localstripe holds {len(refunds)} refund(s) of {intents[0]['id']} for {refund_id}")
    return (
        f"at localstripe: PaymentIntent {intents[0]['id']} (metadata payment_id {payment_id}), refund {refunds[0]} "
        f"(metadata refund_id {refund_id})"
    )


def instance_read_secret(moto_log: Path, since: int, secret_arn: str, session: str) -> str:
    """The request log's ``GetSecretValue`` of ``secret_arn`` by the instance ``session``
    (``assumed-role/<role>/<instance id>``) after byte ``since``; a :class:`SandboxStripeError` when there is none."""
    resource = "secret:" + secret_arn.split(":secret:", 1)[1]
    with moto_log.open("rb") as handle:
        handle.seek(since)
        lines = handle.read().decode("utf-8", "replace").splitlines()
    wanted = [
        line
        for line in lines
        if line.startswith("request secretsmanager GetSecretValue ") and line.endswith(f" {resource} by={session}")
    ]
    if not any(line.split()[4] == "200" for line in wanted):
        raise SandboxStripeError(
            f"the request log shows no GetSecretValue of {resource} by {session} answered 200 ({len(wanted)} tried)"
        )
    return f"the request log: GetSecretValue {resource} by={session} (200)"
