"""The reconciler (``payment-api reconcile``) and the purge: a payment a client abandoned in ``processing`` is finished
by the job exactly once, never while a request (or another reconciler) holds its key, and its key outlives the
retention until it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.service.integration.conftest import charges, new_key, pay, pay_into_crash, unique
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli

TIMEOUT = "pm_card_processor_timeout"


def abandon(client: httpx.Client, key: str, **body: Any) -> str:
    """A payment whose processor call timed out (202, ``processing``) and that the client never retries."""
    answer = pay(client, key, payment_method=TIMEOUT, **body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "processing"
    return str(answer.json()["id"])


def reconcile(postgres: LocalPostgres, *args: str) -> list[dict[str, Any]]:
    """One ``reconcile --once`` pass; its JSON log lines."""
    done = run_cli(postgres.service_env(), "reconcile", "--once", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def reconciled(lines: list[dict[str, Any]], payment_id: str) -> int:
    return sum(1 for line in lines if line["message"] == "payment reconciled" and line["payment_id"] == payment_id)


def state(postgres: LocalPostgres, payment_id: str) -> tuple[str, str, int]:
    """The payment's status, its key's recovery point and the simulator's calls for it."""
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute(
            "SELECT p.status, k.recovery_point, c.calls FROM payments AS p JOIN idempotency_keys AS k"
            " ON k.payment_id = p.id JOIN simulated_charges AS c ON c.payment_id = p.id WHERE p.id = %s",
            (payment_id,),
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1]), int(row[2])


@pytest.fixture
def hold_key(postgres: LocalPostgres) -> Iterator[Any]:
    """Holds a payment's key lock the way a request working on the key does (a session advisory lock)."""
    with postgres.superuser(DATABASE) as conn:

        def hold(payment_id: str) -> None:
            conn.execute(
                "SELECT pg_advisory_lock(id) FROM idempotency_keys WHERE payment_id = %s", (payment_id,)
            ).fetchone()

        yield hold


def test_an_abandoned_timed_out_payment_is_finished_by_the_reconciler_exactly_once(
    client: httpx.Client, postgres: LocalPostgres
) -> None:
    key = new_key()
    payment_id = abandon(client, key)
    assert state(postgres, payment_id) == ("processing", "payment_created", 1)

    assert reconciled(reconcile(postgres), payment_id) == 0  # inside the default 60 s grace: left to the client
    assert state(postgres, payment_id)[0] == "processing"

    assert reconciled(reconcile(postgres, "--grace", "0s"), payment_id) == 1
    # Re-read, not re-charged: the simulator saw the one call of the request, and charged once.
    assert state(postgres, payment_id) == ("succeeded", "finished", 1)
    assert charges(postgres, payment_id) == 1
    got = client.get(f"/v1/payments/{payment_id}").json()
    assert got["status"] == "succeeded" and got["card"] == {"brand": "visa", "last4": "4242"}

    retry = pay(client, key, payment_method=TIMEOUT)  # the client comes back: the final answer, replayed
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == f"/v1/payments/{payment_id}"
    assert retry.json() == got
    assert reconciled(reconcile(postgres, "--grace", "0s"), payment_id) == 0  # nothing left to do
    assert state(postgres, payment_id) == ("succeeded", "finished", 1)


def test_a_payment_whose_request_holds_its_key_is_left_to_that_request(
    client: httpx.Client, postgres: LocalPostgres, hold_key: Any
) -> None:
    payment_id = abandon(client, new_key())
    hold_key(payment_id)
    assert reconciled(reconcile(postgres, "--grace", "0s"), payment_id) == 0
    assert state(postgres, payment_id) == ("processing", "payment_created", 1)


def test_two_reconcilers_at_once_finish_each_payment_once(client: httpx.Client, postgres: LocalPostgres) -> None:
    payment_ids = [abandon(client, new_key(), amount=11) for _ in range(30)]
    env = {**os.environ, **postgres.service_env()}
    command = [sys.executable, "-m", "payment_api", "reconcile", "--once", "--grace", "0s"]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # pylint: disable=consider-using-with
        for _ in range(2)
    ]
    lines: list[dict[str, Any]] = []
    for run in runs:
        out, _ = run.communicate(timeout=60)
        assert run.returncode == 0, out
        lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [reconciled(lines, payment_id) for payment_id in payment_ids] == [1] * len(payment_ids)
    assert {state(postgres, payment_id) for payment_id in payment_ids} == {("succeeded", "finished", 1)}


def test_a_payment_the_processor_never_saw_is_charged_once_by_the_reconciler(
    start_server: Any, postgres: LocalPostgres
) -> None:
    doomed: ServiceProcess = start_server(PAYMENT_TEST_CRASH_AFTER_PROCESSOR="1")
    key, marker = new_key(), unique("never reached ")
    pay_into_crash(doomed, key, description=marker)
    with postgres.superuser(DATABASE) as conn:  # as if the process had died before the processor call
        row = conn.execute("SELECT id FROM payments WHERE description = %s", (marker,)).fetchone()
        assert row is not None
        conn.execute("DELETE FROM simulated_charges WHERE payment_id = %s", (row[0],))
    assert reconciled(reconcile(postgres, "--grace", "0s"), row[0]) == 1
    assert state(postgres, row[0]) == ("succeeded", "finished", 1)
    assert charges(postgres, row[0]) == 1


def test_the_purge_keeps_the_key_of_an_unresolved_payment(client: httpx.Client, postgres: LocalPostgres) -> None:
    unresolved_key, finished_key = new_key(), new_key()
    unresolved = abandon(client, unresolved_key)
    finished = pay(client, finished_key).json()["id"]

    def age_keys() -> None:
        with postgres.superuser(DATABASE) as conn:
            conn.execute(
                "UPDATE idempotency_keys SET created_at = now() - interval '49 hours' WHERE payment_id = ANY(%s)",
                ([unresolved, finished],),
            )

    def kept() -> set[str]:
        with postgres.superuser(DATABASE) as conn:
            rows = conn.execute(
                "SELECT payment_id FROM idempotency_keys WHERE payment_id = ANY(%s)", ([unresolved, finished],)
            ).fetchall()
        return {row[0] for row in rows}

    age_keys()
    purged = run_cli(postgres.service_env(), "purge-idempotency-keys")
    assert purged.returncode == 0, purged.stderr
    assert kept() == {unresolved}  # the finished payment's key went; the processing one's stays

    retry = pay(client, unresolved_key, payment_method=TIMEOUT)  # so its retry still resumes the same payment
    assert retry.status_code == 201 and retry.json()["id"] == unresolved

    age_keys()
    assert run_cli(postgres.service_env(), "purge-idempotency-keys").returncode == 0
    assert not kept()  # resolved: an ordinary key again
