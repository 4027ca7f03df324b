"""A refund is ``pending`` while its processor call is in flight; a processor timeout answers ``202`` with the refund
``pending`` and ``Retry-After: 1``, the retry with the same key finishes it, and so does the reconciler when the
client never comes back (API.md v1.2, POST …/refunds).

The simulated processor has no way to time a refund out: the contract's ``pm_card_processor_timeout`` times out the
first *charge* of a payment and defines no refund counterpart, so these tests run the app in process with a stand-in
processor (the simulator, whose first refund call per refund id loses its answer after refunding, as a network
timeout does), rather than a token the contract does not have."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from payment_api import app as app_module
from payment_api.app import create_app
from payment_api.config import Settings, load_settings
from payment_api.db import make_pool
from payment_api.processor import ProcessorTimeout, SimulatedProcessor
from payment_api.reconcile import reconcile_once
from psycopg_pool import ConnectionPool

from tests.service.integration.conftest import VISA, new_key
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess

FAILS = 7
"""A refund of this amount fails at the processor (once its answer arrives)."""


class RefundTimesOutOnce(SimulatedProcessor):
    """The simulator, except that the first refund call for each refund id refunds and then times out; ``watch``
    runs inside every refund call, while it is in flight."""

    def __init__(self, settings: Settings, watch: Callable[[str, str], None]) -> None:
        super().__init__(settings)
        self.watch = watch
        self.calls: dict[str, int] = {}

    def refund(self, refund_id: str, payment_id: str, amount: int, reference: str | None = None) -> bool:
        self.calls[refund_id] = self.calls.get(refund_id, 0) + 1
        self.watch(refund_id, payment_id)
        succeeded = super().refund(refund_id, payment_id, amount, reference) and amount != FAILS
        if self.calls[refund_id] == 1:
            raise ProcessorTimeout(refund_id)
        return succeeded


class Harness:
    """The app in process with the stand-in, the session's server for reads from outside, and what was seen."""

    def __init__(self, postgres: LocalPostgres, server: ServiceProcess, operator_key: str) -> None:
        self.postgres = postgres
        self.server = server
        self.auth = {"Authorization": f"Bearer {operator_key}"}
        self.in_flight: list[tuple[str, int]] = []
        self.settings = load_settings(postgres.service_env())
        self.processor = RefundTimesOutOnce(self.settings, self.watch)

    def watch(self, refund_id: str, payment_id: str) -> None:
        """While the call is in flight: the refund as another instance of the API lists it, and the payment's
        amount refunded (the reservation)."""
        with httpx.Client(base_url=self.server.url, timeout=15) as other:
            listed = other.get(f"/v1/payments/{payment_id}/refunds", headers=self.auth).json()["data"]
            refunded = other.get(f"/v1/payments/{payment_id}").json()["amount_refunded"]
        statuses = {item["id"]: item["status"] for item in listed}
        self.in_flight.append((statuses[refund_id], refunded))

    def refunds_recorded(self, refund_id: str) -> int:
        with self.postgres.superuser(DATABASE) as conn:
            row = conn.execute("SELECT count(*) FROM simulated_refunds WHERE refund_id = %s", (refund_id,)).fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture(name="harness")
def fixture_harness(
    postgres: LocalPostgres, server: ServiceProcess, operator_key: str, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    harness = Harness(postgres, server, operator_key)
    monkeypatch.setattr(app_module, "make_processor", lambda _settings: harness.processor)
    return harness


@pytest.fixture(name="api")
def fixture_api(harness: Harness) -> Iterator[TestClient]:
    with TestClient(create_app(harness.settings)) as client:
        yield client


@pytest.fixture(name="pool")
def fixture_pool(harness: Harness) -> Iterator[ConnectionPool]:
    pool = make_pool(harness.settings)
    pool.open(wait=True, timeout=30)
    try:
        yield pool
    finally:
        pool.close()


def paid(api: TestClient, amount: int = 100) -> str:
    created = api.post("/v1/payments", json={**VISA, "amount": amount}, headers={"Idempotency-Key": new_key()})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def post_refund(api: TestClient, harness: Harness, payment_id: str, key: str, amount: int) -> Any:
    return api.post(
        f"/v1/payments/{payment_id}/refunds",
        json={"reason": "requested_by_customer", "amount": amount},
        headers={**harness.auth, "Idempotency-Key": key},
    )


def test_pending_in_flight_202_on_a_timeout_and_the_retry_finishes_it_once(api: TestClient, harness: Harness) -> None:
    payment_id, key = paid(api), new_key()
    timed_out = post_refund(api, harness, payment_id, key, 40)
    assert timed_out.status_code == 202, timed_out.text
    assert timed_out.headers["Retry-After"] == "1" and "Idempotent-Replayed" not in timed_out.headers
    body = timed_out.json()
    assert (body["status"], body["amount"], body["created_by"]) == ("pending", 40, "local:tests")
    assert harness.in_flight == [("pending", 40)]  # committed and visible to another instance during the call
    listed = api.get(f"/v1/payments/{payment_id}/refunds", headers=harness.auth).json()["data"]
    assert [(item["id"], item["status"]) for item in listed] == [(body["id"], "pending")]

    finished = post_refund(api, harness, payment_id, key, 40)
    assert finished.status_code == 201, finished.text
    assert "Idempotent-Replayed" not in finished.headers
    assert {**finished.json(), "status": "pending"} == body and finished.json()["status"] == "succeeded"
    replay = post_refund(api, harness, payment_id, key, 40)
    assert replay.status_code == 201 and replay.content == finished.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert harness.processor.calls[body["id"]] == 2 and harness.refunds_recorded(body["id"]) == 1
    assert api.get(f"/v1/payments/{payment_id}").json()["amount_refunded"] == 40


@pytest.mark.parametrize("outcome", [(30, "succeeded", 30), (FAILS, "failed", 0)], ids=["succeeds", "fails"])
def test_the_reconciler_finishes_a_refund_left_pending(
    api: TestClient, harness: Harness, pool: ConnectionPool, outcome: tuple[int, str, int]
) -> None:
    amount, status, refunded = outcome
    payment_id, key = paid(api), new_key()
    abandoned = post_refund(api, harness, payment_id, key, amount)
    assert abandoned.status_code == 202, abandoned.text
    refund_id = abandoned.json()["id"]

    assert reconcile_once(pool, harness.processor, 3600).refunds_finished == 0  # inside the grace: the client's
    assert harness.processor.calls[refund_id] == 1
    assert reconcile_once(pool, harness.processor, 0).refunds_finished == 1
    assert harness.processor.calls[refund_id] == 2 and harness.refunds_recorded(refund_id) == 1
    listed = api.get(f"/v1/payments/{payment_id}/refunds", headers=harness.auth).json()["data"]
    assert [(item["id"], item["status"]) for item in listed] == [(refund_id, status)]
    assert api.get(f"/v1/payments/{payment_id}").json()["amount_refunded"] == refunded

    retry = post_refund(api, harness, payment_id, key, amount)  # the client comes back: the final answer
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == {**abandoned.json(), "status": status}
    assert reconcile_once(pool, harness.processor, 0).refunds_finished == 0  # nothing left to do
    assert harness.processor.calls[refund_id] == 2
