"""``make api`` (tools/dev/local_api/local.py): ready lines printed, the API works with the key, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.service.integration.conftest import new_key, pay, refund
from tools.dev.local_api.local import ProcessorChoiceError, processor_choice
from tools.dev.local_api.postgres import free_port


def payment_api_children(pid: int) -> list[int]:
    """The running ``payment_api`` processes whose parent is ``pid`` (from /proc; a zombie has no command line)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if parent == pid and b"payment_api" in command:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return b"payment_api" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop(process: subprocess.Popen[str]) -> None:
    """After a failed check: Ctrl-C first, so that make api stops what it started (PostgreSQL and the emulator run in
    sessions of their own and would outlive a SIGKILL of make api); SIGKILL only if it does not exit."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def make_operator_token(port: int) -> subprocess.CompletedProcess[str]:
    """``make operator-token`` for the ``make api`` on ``port``."""
    return subprocess.run(
        [sys.executable, "-m", "tools.dev.local_api.operator_token", "--port", str(port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def refunds_with_a_fresh_token(client: httpx.Client, port: int) -> None:
    """``make operator-token``, while ``make api`` runs: a fresh token of the same local operator, which refunds."""
    fresh = make_operator_token(port)
    assert fresh.returncode == 0, fresh.stderr
    token = fresh.stdout.strip().splitlines()[-1].removeprefix("Operator key: ")
    payment = pay(client, new_key(), amount=10).json()
    refunded = refund(client, payment["id"], token, new_key(), amount=10)
    assert refunded.status_code == 201 and refunded.json()["created_by"] == "local:make-api", refunded.text


def test_make_api_prints_the_url_and_key_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "tools.dev.local_api.local", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("Operator key: ") for line in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        assert f"API: http://127.0.0.1:{port}" in lines, lines
        assert not [line for line in lines if line.startswith("Stripe:")], (
            "no emulator without PAYMENT_PROCESSOR=stripe"
        )
        key = next(line for line in lines if line.startswith("Operator key: ")).removeprefix("Operator key: ")
        folder = Path(next(line for line in lines if line.startswith("[api] PostgreSQL 15 in ")).split()[4])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
            assert client.get("/ready").status_code == 200
            payment = pay(client, new_key(), amount=10).json()
            assert refund(client, payment["id"], key, new_key(), amount=10).status_code == 201
            refunds_with_a_fresh_token(client, port)
            abandoned = pay(client, new_key(), payment_method="pm_card_processor_timeout")
            assert abandoned.status_code == 202, abandoned.text
            # The reconciler beside the API (a pass every 10 s, 10 s of grace) finishes it: the client never retries.
            deadline = time.monotonic() + 45
            while client.get(abandoned.headers["Location"]).json()["status"] == "processing":
                assert time.monotonic() < deadline, "the reconciler did not finish the abandoned payment in 45 s"
                time.sleep(1)
            assert client.get(abandoned.headers["Location"]).json()["status"] == "succeeded"
        children = payment_api_children(process.pid)
        assert len(children) == 2, children  # the API and the reconciler
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
        assert not [pid for pid in children if alive(pid)], "a child outlived Ctrl-C"
        assert not folder.exists()
        stale = make_operator_token(port)  # make api gone: make operator-token says so
        assert stale.returncode == 1 and "no make api runs on port" in stale.stderr
        with httpx.Client(timeout=2) as client:
            try:
                client.get(f"http://127.0.0.1:{port}/health")
                raise AssertionError("the API still answers after Ctrl-C")
            except httpx.TransportError:
                pass
    finally:
        stop(process)


def emulators_of(pid: int) -> list[int]:
    """The running local Stripe emulators whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"tools.dev.local_stripe.server" in command:
            found.append(int(stat.parent.name))
    return found


def test_make_api_with_stripe_prints_the_emulator_before_the_key_and_pays_through_it() -> None:
    port, stripe_port = free_port(), free_port()
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "tools.dev.local_api.local", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PAYMENT_PROCESSOR": "stripe",
            "LOCAL_STRIPE_PORT": str(stripe_port),
        },
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("Operator key: ") for line in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        assert lines[-1].startswith("Operator key: ") and lines[-2] == f"Stripe: http://127.0.0.1:{stripe_port}", lines
        key = lines[-1].removeprefix("Operator key: ")
        emulators = emulators_of(process.pid)
        assert len(emulators) == 1, emulators
        emulator = emulators[0]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
            paid = pay(client, new_key(), amount=1000)
            assert (paid.status_code, paid.json()["status"]) == (201, "succeeded"), paid.text
            declined = pay(client, new_key(), payment_method="pm_card_visa_chargeDeclinedInsufficientFunds").json()
            assert (declined["status"], declined["failure_code"]) == ("failed", "insufficient_funds")
            waiting = pay(client, new_key(), payment_method="pm_card_threeDSecure2Required").json()
            assert waiting["status"] == "requires_action" and waiting["client_secret"].startswith("pi_")
            assert refund(client, paid.json()["id"], key, new_key(), amount=400).json()["status"] == "succeeded"
        with httpx.Client(base_url=lines[-2].removeprefix("Stripe: "), timeout=5) as stripe:
            assert stripe.get("/v1/balance").status_code == 401, "the emulator asks for a key, as Stripe does"
            # 3-D Secure completed as the Stripe.js stand-in completes it; the outcome reaches the API by its webhook.
            intent = waiting["client_secret"].split("_secret_")[0]
            completed = stripe.post(
                f"/v1/payment_intents/{intent}/_authenticate",
                params={"success": "true"},
                json={"key": "pk_test_makeApi", "client_secret": waiting["client_secret"]},
            )
            assert completed.status_code == 200, completed.text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
            deadline = time.monotonic() + 20
            status = waiting["status"]
            while status == "requires_action" and time.monotonic() < deadline:
                time.sleep(0.5)
                status = client.get(f"/v1/payments/{waiting['id']}").json()["status"]
            assert status == "succeeded", "make api registers the API's webhook with the emulator"
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
        try:
            still = b"tools.dev.local_stripe.server" in Path(f"/proc/{emulator}/cmdline").read_bytes()
        except OSError:
            still = False
        assert not still, "the Stripe emulator outlived Ctrl-C"
    finally:
        stop(process)


def test_make_api_names_the_processors_it_runs() -> None:
    assert processor_choice({}) == "simulated"
    assert processor_choice({"PAYMENT_PROCESSOR": " stripe "}) == "stripe"
    with pytest.raises(ProcessorChoiceError, match=r"give simulated .* or stripe"):
        processor_choice({"PAYMENT_PROCESSOR": "paypal"})
