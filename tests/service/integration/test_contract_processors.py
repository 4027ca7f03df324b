"""The contract's black-box payment and refund outcomes (API.md v1.2) against both processors: the simulator and
Stripe (the local emulator), through a map from the contract's test tokens to Stripe's test PaymentMethods
(``STRIPE_TOKENS``). Only HTTP: what a client sees must not depend on the processor. What only one processor
does (the simulator's timeout token, Stripe's 3-D Secure) is tested with that processor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.service.integration.conftest import new_key, pay, refund
from tests.service.integration.stripe_fixtures import STRIPE_TOKENS, Emulator, stripe_env
from tools.dev.local_api.postgres import LocalPostgres
from tools.dev.local_api.process import ServiceProcess


@dataclass(frozen=True)
class Api:
    """A client of an API process, the processor's name for each of the contract's test tokens, an operator key."""

    client: httpx.Client
    tokens: dict[str, str]
    operator: str

    def token(self, contract_token: str) -> str:
        return self.tokens.get(contract_token, contract_token)


@pytest.fixture(name="stripe_api_server", scope="module")
def fixture_stripe_api_server(
    start_server: Callable[..., ServiceProcess],
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> ServiceProcess:
    folder = tmp_path_factory.mktemp("contract-stripe") / "credentials"
    process = start_server(**stripe_env(postgres, stripe_emulator, folder))
    process.wait_ready()
    return process


@pytest.fixture(name="api", params=["simulated", "stripe"])
def fixture_api(request: pytest.FixtureRequest, operator_key: str) -> Iterator[Api]:
    if request.param == "simulated":
        server, tokens = request.getfixturevalue("server"), {}
    else:
        server, tokens = request.getfixturevalue("stripe_api_server"), STRIPE_TOKENS
    with httpx.Client(base_url=server.url, timeout=15) as client:
        yield Api(client, tokens, operator_key)


@pytest.mark.parametrize(
    ("token", "brand", "last4"), [("pm_card_visa", "visa", "4242"), ("pm_card_mastercard", "mastercard", "4444")]
)
def test_a_test_card_succeeds_with_its_brand_and_last4(api: Api, token: str, brand: str, last4: str) -> None:
    created = pay(api.client, new_key(), payment_method=api.token(token), description="Order 1042")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["card"], body["failure_code"]) == ("succeeded", {"brand": brand, "last4": last4}, None)
    assert created.headers["Location"] == f"/v1/payments/{body['id']}"
    assert set(body) == {
        "id",
        "status",
        "amount",
        "currency",
        "amount_refunded",
        "description",
        "card",
        "failure_code",
        "created_at",
    }
    assert api.client.get(f"/v1/payments/{body['id']}").json() == body


@pytest.mark.parametrize(
    ("token", "code"), [("pm_card_declined", "card_declined"), ("pm_card_insufficient_funds", "insufficient_funds")]
)
def test_a_declined_card_is_a_final_failed_payment_with_its_code(api: Api, token: str, code: str) -> None:
    key = new_key()
    created = pay(api.client, key, payment_method=api.token(token))
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["failure_code"], created.json()["card"]) == ("failed", code, None)
    replayed = pay(api.client, key, payment_method=api.token(token))
    assert (replayed.status_code, replayed.content, replayed.headers["Idempotent-Replayed"]) == (
        201,
        created.content,
        "true",
    )
    refused = refund(api.client, created.json()["id"], api.operator, new_key())
    assert (refused.status_code, refused.json()["code"]) == (409, "payment_not_refundable")


def test_a_replay_is_byte_for_byte_and_another_body_under_the_key_is_422(api: Api) -> None:
    key = new_key()
    first = pay(api.client, key, payment_method=api.token("pm_card_visa"))
    again = pay(api.client, key, payment_method=api.token("pm_card_visa"))
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (201, first.content, "true")
    other = pay(api.client, key, payment_method=api.token("pm_card_visa"), amount=2000)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_an_unknown_token_is_400_and_stores_nothing(api: Api) -> None:
    key = new_key()
    refused = pay(api.client, key, payment_method="pm_card_nobody_issued_this")
    assert (refused.status_code, refused.json()["code"]) == (400, "payment_method_invalid")
    assert refused.json()["errors"][0]["field"] == "payment_method"
    corrected = pay(api.client, key, payment_method=api.token("pm_card_visa"))
    assert corrected.status_code == 201 and corrected.json()["status"] == "succeeded"


def test_refunds_up_to_the_amount_newest_first(api: Api) -> None:
    paid = pay(api.client, new_key(), amount=1000, payment_method=api.token("pm_card_visa")).json()
    part = refund(api.client, paid["id"], api.operator, new_key(), amount=300)
    assert (part.status_code, part.json()["status"], part.json()["amount"]) == (201, "succeeded", 300)
    rest = refund(api.client, paid["id"], api.operator, new_key())
    assert (rest.status_code, rest.json()["amount"]) == (201, 700)
    over = refund(api.client, paid["id"], api.operator, new_key(), amount=1)
    assert (over.status_code, over.json()["code"]) == (409, "refund_exceeds_payment")
    listed = api.client.get(f"/v1/payments/{paid['id']}/refunds", headers={"Authorization": f"Bearer {api.operator}"})
    assert [item["id"] for item in listed.json()["data"]] == [rest.json()["id"], part.json()["id"]]
    assert api.client.get(f"/v1/payments/{paid['id']}").json()["amount_refunded"] == 1000
