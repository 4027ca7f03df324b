"""The local Stripe emulator's fidelity patches (tools/dev/local_stripe/patches.py), over HTTP as the SDK talks to
it: each test checks the patched emulator behaves as Stripe's test mode does, and that the same emulator without
that one patch (``--without NAME``) does not, so no patch is dead weight and a localstripe upgrade that closes a
gap shows up here. Also: the launcher's address rules and its 127.0.0.1 socket."""

from __future__ import annotations

import importlib
import json
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lib.runtime.node import project_node
from tools.dev.local_api.process import holds_listening_port
from tools.dev.local_stripe import AddressError, LocalStripe, check_host

with warnings.catch_warnings():
    # The patch registry imports localstripe, whose module-level routes are plain functions: aiohttp warns 59 times.
    warnings.filterwarnings("ignore", "Bare functions are deprecated", DeprecationWarning)
    PATCH_NAMES = [name for name, _, _ in importlib.import_module("tools.dev.local_stripe.patches").PATCHES]
KEY = ("sk_test_patches", "")
PICKLE = Path("/tmp/localstripe.pickle")


@pytest.fixture(name="patched", scope="module")
def fixture_patched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with LocalStripe(log_path=tmp_path_factory.mktemp("localstripe") / "patched.log") as emulator:
        with httpx.Client(base_url=emulator.url, auth=KEY, timeout=10) as client:
            yield client


@pytest.fixture(name="without", scope="module")
def fixture_without(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], httpx.Client]]:
    """An emulator with every patch but the one named (started once per name)."""
    started: dict[str, tuple[LocalStripe, httpx.Client]] = {}

    def without(name: str) -> httpx.Client:
        if name not in started:
            log = tmp_path_factory.mktemp("localstripe") / f"without-{name}.log"
            emulator = LocalStripe(log_path=log, without=(name,))
            emulator.start()
            started[name] = (emulator, httpx.Client(base_url=emulator.url, auth=KEY, timeout=10))
        return started[name][1]

    try:
        yield without
    finally:
        for emulator, client in started.values():
            client.close()
            emulator.stop()


def intent(client: httpx.Client, method: str, key: str | None = None, **extra: Any) -> httpx.Response:
    data = {
        "amount": "1000",
        "currency": "eur",
        "payment_method": method,
        "payment_method_types[]": "card",
        "confirm": "true",
        "expand[]": "payment_method",
        **extra,
    }
    return client.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": key} if key else {})


def test_every_patch_is_tested_here() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert set(PATCH_NAMES) <= tested


def test_store_in_memory_only(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    def written_by(client: httpx.Client) -> bool:
        before = PICKLE.stat().st_mtime_ns if PICKLE.exists() else None
        assert client.post("/v1/customers", data={"email": "a@example.com"}).status_code == 200
        return PICKLE.exists() and PICKLE.stat().st_mtime_ns != before

    assert not written_by(patched)
    assert written_by(without("store_in_memory_only"))


def test_idempotency_keys(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    first = intent(patched, "pm_card_visa", key="key-1")
    again = intent(patched, "pm_card_visa", key="key-1")
    assert first.status_code == again.status_code == 200
    assert (again.json()["id"], again.headers["Idempotent-Replayed"]) == (first.json()["id"], "true")
    other = intent(patched, "pm_card_visa", key="key-1", amount="2000")
    assert (other.status_code, other.json()["error"]["type"]) == (400, "idempotency_error")
    declined = intent(patched, "pm_card_visa_chargeDeclined", key="key-2")
    assert intent(patched, "pm_card_visa_chargeDeclined", key="key-2").json() == declined.json()

    stock = without("idempotency_keys")
    made = [intent(stock, "pm_card_visa", key="key-1").json()["id"] for _ in range(2)]
    assert made[0] != made[1]


def test_test_payment_methods(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    for method, brand, last4 in (
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_mastercard", "mastercard", "4444"),
        ("pm_card_threeDSecure2Required", "visa", "3220"),
    ):
        answer = intent(patched, method)
        assert answer.status_code == 200, answer.text
        card = answer.json()["payment_method"]
        assert (card["card"]["brand"], card["card"]["last4"]) == (brand, last4)
        assert card["id"] != method  # a PaymentMethod of its own, as Stripe makes
    assert intent(patched, "pm_card_visa_chargeDeclinedInsufficientFunds").status_code == 402

    assert intent(without("test_payment_methods"), "pm_card_mastercard").status_code == 400


def test_declines_at_charge(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    for method, decline_code in (
        ("pm_card_visa_chargeDeclined", "generic_decline"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ):
        answer = intent(patched, method, **{"metadata[payment_id]": f"pay_{decline_code}"})
        assert answer.status_code == 402, answer.text
        error = answer.json()["error"]
        assert (error["type"], error["code"], error["decline_code"]) == ("card_error", "card_declined", decline_code)
        stored = patched.get(f"/v1/payment_intents/{error['payment_intent']['id']}").json()
        assert stored["status"] == "requires_payment_method"
        assert stored["last_payment_error"]["decline_code"] == decline_code

    assert intent(without("declines_at_charge"), "pm_card_visa_chargeDeclined").json()["status"] == "succeeded"


def _refunds(client: httpx.Client) -> list[int]:
    paid = intent(client, "pm_card_visa").json()["id"]
    answers = [
        client.post("/v1/refunds", data={"payment_intent": paid, "amount": "600"}),
        client.post("/v1/refunds", data={"payment_intent": paid, "amount": "600"}),
        client.post("/v1/refunds", data={"payment_intent": paid}),
        client.post("/v1/refunds", data={"payment_intent": paid}),
    ]
    return [answer.status_code for answer in answers]


def test_refunds_within_the_charge(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    assert _refunds(patched) == [200, 400, 200, 400]  # 600, too much, the 400 left, nothing left
    assert _refunds(without("refunds_within_the_charge")) == [200, 200, 200, 200]


def _failed_events(client: httpx.Client) -> int:
    waiting = intent(client, "pm_card_threeDSecure2Required").json()
    assert waiting["status"] == "requires_action"
    failed = client.post(
        f"/v1/payment_intents/{waiting['id']}/_authenticate",
        data={"client_secret": waiting["client_secret"], "success": "false"},
    )
    assert failed.json()["status"] == "requires_payment_method"
    events = client.get("/v1/events", params={"type": "payment_intent.payment_failed"}).json()["data"]
    return sum(1 for event in events if event["data"]["object"]["id"] == waiting["id"])


def test_failed_authentication_event(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    assert _failed_events(patched) == 1
    assert _failed_events(without("failed_authentication_event")) == 0


def test_search_payment_intents(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    made = intent(patched, "pm_card_visa", **{"metadata[payment_id]": "pay_searched"}).json()
    query = {"query": "metadata['payment_id']:'pay_searched'", "expand[]": "data.payment_method"}
    found = patched.get("/v1/payment_intents/search", params=query).json()["data"]
    assert [(item["id"], item["payment_method"]["card"]["last4"]) for item in found] == [(made["id"], "4242")]
    other = patched.get("/v1/payment_intents/search", params={"query": "status:'succeeded'"})
    assert other.status_code == 400 and "metadata" in other.json()["error"]["message"]
    assert patched.get("/v1/payment_intents/search", params=query, auth=None).status_code == 401

    assert without("search_payment_intents").get("/v1/payment_intents/search", params=query).status_code == 404


def test_unknown_payment_method(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    refused = intent(patched, "pm_nobody_knows")
    error = refused.json()["error"]
    assert (refused.status_code, error["code"], error["param"]) == (400, "resource_missing", "payment_method")

    assert intent(without("unknown_payment_method"), "pm_nobody_knows").status_code == 404


PUBLISHABLE = "pk_test_patches"
CARD = {
    "type": "card",
    "card[number]": "4242424242424242",
    "card[exp_month]": "12",
    "card[exp_year]": "2034",
    "card[cvc]": "123",
}


def _without_secret_key(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    """POST as Stripe.js does: no Authorization header, the publishable key (or what is given) in the body."""
    with httpx.Client(base_url=client.base_url, timeout=10) as browser:
        return browser.post(path, data=data)


def test_publishable_key_creates_payment_methods(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    made = _without_secret_key(patched, "/v1/payment_methods", {**CARD, "key": PUBLISHABLE})
    assert made.status_code == 200, made.text
    assert (made.json()["id"][:3], made.json()["card"]["last4"]) == ("pm_", "4242")
    assert intent(patched, made.json()["id"]).json()["status"] == "succeeded"  # the server pays with it
    # Still refused, as on Stripe: any other call with a publishable key, and this one with a secret key in the body.
    for path, data in (
        ("/v1/payment_intents", {"amount": "1000", "currency": "eur", "key": PUBLISHABLE}),
        (f"/v1/payment_methods/{made.json()['id']}/attach", {"customer": "cus_nobody", "key": PUBLISHABLE}),
        ("/v1/payment_methods", {**CARD, "key": "sk_test_in_the_body"}),
    ):
        refused = _without_secret_key(patched, path, data)
        assert refused.status_code == 401, (path, refused.text)
    read = patched.get(f"/v1/payment_methods/{made.json()['id']}", params={"key": PUBLISHABLE}, auth=None)
    assert read.status_code == 401

    stock = without("publishable_key_creates_payment_methods")
    assert _without_secret_key(stock, "/v1/payment_methods", {**CARD, "key": PUBLISHABLE}).status_code == 401


DRIVER = Path(__file__).with_name("stand_in_driver.mjs")


def stand_in(client: httpx.Client, *args: str) -> Any:
    """What the Stripe.js stand-in served by ``client``'s emulator resolves to (stand_in_driver.mjs, in Node)."""
    ran = subprocess.run(
        [str(project_node()), str(DRIVER), str(client.base_url).rstrip("/"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def test_stand_in_creates_payment_methods(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    created = stand_in(patched, "create", "4000000000000002")["paymentMethod"]
    assert (created["card"]["last4"], created["billing_details"]["address"]["postal_code"]) == ("0002", "10001")
    paid = intent(patched, created["id"])  # the card's behaviour follows its number: this one declines
    assert (paid.status_code, paid.json()["error"]["decline_code"]) == (402, "generic_decline")
    assert stand_in(patched, "create")["error"]["code"] == "incomplete_number"  # nothing typed: no request

    assert stand_in(without("stand_in_creates_payment_methods"), "create", "4242424242424242") is None


def _authenticated(client: httpx.Client, button: str) -> Any:
    waiting = intent(client, "pm_card_threeDSecure2Required").json()
    assert waiting["status"] == "requires_action"
    return stand_in(client, "authenticate", waiting["client_secret"], button)


def test_stand_in_reports_failed_authentication(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    failed = _authenticated(patched, "Fail authentication")
    assert failed["error"]["code"] == "payment_intent_authentication_failure"
    assert failed["error"]["payment_intent"]["status"] == "requires_payment_method"
    assert _authenticated(patched, "Complete authentication")["paymentIntent"]["status"] == "succeeded"

    stock = _authenticated(without("stand_in_reports_failed_authentication"), "Fail authentication")
    assert "error" not in stock and stock["paymentIntent"]["status"] == "requires_payment_method"


def listening_addresses(port: int) -> list[str]:
    """The kernel's listening sockets on ``port`` (hex local addresses of /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def test_the_emulator_listens_on_loopback_only(tmp_path: Path) -> None:
    with LocalStripe(log_path=tmp_path / "stripe.log") as emulator:
        assert emulator.process is not None and emulator.port is not None
        assert holds_listening_port(emulator.process.pid, emulator.port)
        assert listening_addresses(emulator.port) == ["0100007F"]  # 127.0.0.1 only: no wildcard, no IPv6 socket


def test_the_emulator_listens_on_the_one_address_it_is_given(tmp_path: Path) -> None:
    with LocalStripe(log_path=tmp_path / "stripe.log", host="127.0.0.2") as emulator:
        assert emulator.url == f"http://127.0.0.2:{emulator.port}"
        assert emulator.port is not None and listening_addresses(emulator.port) == ["0200007F"]


@pytest.mark.parametrize(
    ("host", "allowed", "message"),
    [
        ("0.0.0.0", None, "every interface"),
        ("::", None, "every interface"),
        ("10.1.2.3", None, "--allow-address 10.1.2.3"),
        ("localhost", None, "not an IP address"),
    ],
)
def test_the_launcher_refuses_wildcards_and_unnamed_addresses(host: str, allowed: str | None, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        check_host(host, allowed)
    assert check_host("10.1.2.3", "10.1.2.3") == "10.1.2.3"
    assert check_host("127.0.0.1", None) == "127.0.0.1"


def test_cancellation_reason(patched: httpx.Client, without: Callable[[str], httpx.Client]) -> None:
    def cancel(client: httpx.Client, reason: str) -> httpx.Response:
        created = intent(client, "pm_card_threeDSecure2Required")
        assert created.status_code == 200 and created.json()["status"] == "requires_action", created.text
        return client.post(f"/v1/payment_intents/{created.json()['id']}/cancel", data={"cancellation_reason": reason})

    assert intent(patched, "pm_card_visa").json()["cancellation_reason"] is None  # Stripe's field, null until cancelled
    cancelled = cancel(patched, "abandoned")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancellation_reason"]) == ("canceled", "abandoned")
    events = patched.get("/v1/events", params={"type": "payment_intent.canceled"}).json()["data"]
    assert cancelled.json()["id"] in {event["data"]["object"]["id"] for event in events}
    refused = cancel(patched, "bored")
    assert (refused.status_code, refused.json()["error"]["type"]) == (400, "invalid_request_error"), refused.text

    unpatched = cancel(without("cancellation_reason"), "abandoned")
    assert unpatched.status_code == 400 and "Unexpected cancellation_reason" in unpatched.text, unpatched.text
