"""Exactly-once under concurrency: two server processes share the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.service.integration.conftest import VISA, charges, new_key, pay, unique
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess


@pytest.fixture(scope="module")
def two_servers(start_server: Callable[..., ServiceProcess]) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    first, second = start_server(), start_server()
    first.wait_ready()
    second.wait_ready()
    yield first, second
    first.stop()
    second.stop()


def fire(urls: list[str], count: int, request: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """``count`` requests at once (a barrier releases them together), alternating between the servers."""
    barrier = threading.Barrier(count, timeout=30)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    clients = [httpx.Client(base_url=url, timeout=30, limits=limits) for url in urls]

    def one(index: int) -> httpx.Response:
        client = clients[index % len(clients)]
        barrier.wait()
        return request(client)

    try:
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, range(count), timeout=120))
    finally:
        for client in clients:
            client.close()


def test_200_concurrent_posts_with_one_key_make_one_payment_and_one_charge(
    two_servers: tuple[ServiceProcess, ServiceProcess], postgres: LocalPostgres
) -> None:
    key, marker = new_key(), unique("concurrency ")
    responses = fire([server.url for server in two_servers], 200, lambda client: pay(client, key, description=marker))
    created = [response for response in responses if response.status_code == 201]
    busy = [response for response in responses if response.status_code == 409]
    assert len(created) + len(busy) == 200, sorted({response.status_code for response in responses})
    assert created, "no request finished"
    assert len({response.content for response in created}) == 1  # byte-identical, first answer or replays
    assert all(response.json()["code"] == "idempotency_request_in_progress" for response in busy)
    assert all(response.headers["Retry-After"] == "1" for response in busy)
    with postgres.superuser(DATABASE) as conn:
        rows = conn.execute("SELECT id FROM payments WHERE description = %s", (marker,)).fetchall()
    assert len(rows) == 1
    assert charges(postgres, rows[0][0]) == 1
    assert created[0].json()["id"] == rows[0][0]


def test_100_concurrent_one_unit_refunds_of_a_50_unit_payment(
    two_servers: tuple[ServiceProcess, ServiceProcess], operator_key: str, postgres: LocalPostgres
) -> None:
    with httpx.Client(base_url=two_servers[0].url, timeout=15) as client:
        payment = pay(client, new_key(), **{**VISA, "amount": 50}).json()

    def refund_one(client: httpx.Client) -> httpx.Response:
        return client.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"amount": 1, "reason": "duplicate"},
            headers={"Idempotency-Key": new_key(), "Authorization": f"Bearer {operator_key}"},
        )

    responses = fire([server.url for server in two_servers], 100, refund_one)
    statuses = [response.status_code for response in responses]
    assert statuses.count(201) == 50, sorted(set(statuses))
    assert statuses.count(409) == 50
    assert {response.json()["code"] for response in responses if response.status_code == 409} == {
        "refund_exceeds_payment"
    }
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute(
            "SELECT amount_refunded, (SELECT count(*) FROM refunds WHERE payment_id = %s) FROM payments WHERE id = %s",
            (payment["id"], payment["id"]),
        ).fetchone()
    assert row == (50, 50)
