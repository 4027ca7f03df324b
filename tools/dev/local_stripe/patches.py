"""Where localstripe 1.15.10 differs from Stripe's test mode in a way the payment service depends on, one patch
function each, registered with ``@stripe_fidelity("why")`` (the gap it closes and what Stripe does instead).

``tools.dev.local_stripe.server`` applies every registered patch before it serves (``--without NAME`` leaves one
out, which is how tests/service/integration/test_localstripe_patches.py shows each patch is needed: the same check
fails on the unpatched behaviour). docs/developing.md ("localstripe") lists them with what is still not patched.

The patches change localstripe's classes in this process only: the launcher's server is a child process of its own.
"""

# Patching localstripe means calling and replacing its protected helpers (``_api_retrieve`` and friends).
# pylint: disable=protected-access
from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

PatchFunction = Callable[[], None]
PATCHES: list[tuple[str, str, PatchFunction]] = []
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def stripe_fidelity(why: str) -> Callable[[PatchFunction], PatchFunction]:
    """Register ``function`` as a localstripe patch; ``why`` is the difference from Stripe it closes."""

    def register(function: PatchFunction) -> PatchFunction:
        PATCHES.append((function.__name__, why, function))
        return function

    return register


def apply(without: frozenset[str] = frozenset()) -> list[str]:
    """Apply every registered patch but those named in ``without``; returns the names applied, in order."""
    unknown = without - {name for name, _, _ in PATCHES}
    if unknown:
        raise ValueError(
            f"unknown localstripe patch(es) {', '.join(sorted(unknown))}: known are "
            + ", ".join(name for name, _, _ in PATCHES)
        )
    applied = []
    for name, _, function in PATCHES:
        if name not in without:
            function()
            applied.append(name)
    return applied


@stripe_fidelity(
    "localstripe loads /tmp/localstripe.pickle at start and dumps its whole store there after every write: one "
    "shared file for every run on the machine (one run's intents leak into the next, and any local user can read "
    "it). Stripe keeps nothing on our machine: the store stays in the process's memory and goes with it"
)
def store_in_memory_only() -> None:
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    server.app.middlewares.remove(server.save_store_middleware)


@dataclass(kw_only=True)
class _Idempotency:
    """The answers stored per (API key, Idempotency-Key): a fingerprint of the request and the response."""

    done: dict[tuple[str, str], tuple[str, int, bytes]] = field(default_factory=dict)
    running: set[tuple[str, str]] = field(default_factory=set)


def _stripe_error(status: int, kind: str, message: str) -> web.Response:
    return server.json_response({"error": {"type": kind, "message": message}}, status=status)


def _idempotency_middleware(state: _Idempotency) -> Any:
    @web.middleware
    async def idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        slot = (request.headers.get("Authorization", ""), key)
        fingerprint = hashlib.sha256(f"{request.path_qs}\n".encode() + await request.read()).hexdigest()
        if slot in state.done:
            first, status, body = state.done[slot]
            if first != fingerprint:
                return _stripe_error(
                    400,
                    "idempotency_error",
                    f"Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                )
            return web.Response(
                body=body, status=status, content_type="application/json", headers={"Idempotent-Replayed": "true"}
            )
        if slot in state.running:
            return _stripe_error(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Stripe-Idempotency-Key; retry later.",
            )
        state.running.add(slot)
        try:
            response = await handler(request)
        finally:
            state.running.discard(slot)
        # Stripe stores the result once the endpoint ran (a success or a card error); a request refused by
        # validation stores nothing, so the key may be retried.
        answer = response.body if isinstance(response, web.Response) else None
        if isinstance(answer, bytes) and (response.status < 400 or response.status == 402):
            state.done[slot] = (fingerprint, response.status, answer)
        return response

    return idempotency


@stripe_fidelity(
    "localstripe ignores the Idempotency-Key header, so a retried create makes a second PaymentIntent (a second "
    "charge). Stripe stores the first answer of a POST for 24 hours per key and replays it (Idempotent-Replayed: "
    "true); the same key with other parameters is a 400 idempotency_error, and one still running a 409"
)
def idempotency_keys() -> None:
    server.app.middlewares.insert(0, _idempotency_middleware(_Idempotency()))


# Stripe's test PaymentMethods (docs.stripe.com/testing): id -> card number, brand.
TEST_METHODS: dict[str, tuple[str, str]] = {
    "pm_card_visa": ("4242424242424242", "visa"),
    "pm_card_mastercard": ("5555555555554444", "mastercard"),
    "pm_card_visa_chargeDeclined": ("4000000000000002", "visa"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": ("4000000000009995", "visa"),
    "pm_card_threeDSecure2Required": ("4000000000003220", "visa"),
}


def _test_method(method_id: str) -> Any:
    number, brand = TEST_METHODS[method_id]
    method = resources.PaymentMethod(
        type="card", card={"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}
    )
    method.card["brand"] = brand
    return method


@stripe_fidelity(
    "localstripe knows only pm_card_visa, pm_card_visa_chargeDeclined and pm_card_chargeCustomerFail, brands every "
    "card visa, and keeps the test id on the PaymentIntent. Stripe's test mode knows pm_card_mastercard, "
    "pm_card_visa_chargeDeclinedInsufficientFunds and pm_card_threeDSecure2Required too, with their brands, and "
    "turns the test id into a new PaymentMethod whose id the PaymentIntent then carries"
)
def test_payment_methods() -> None:
    canonical = resources.PaymentMethod._try_get_canonical_test_article  # bound to PaymentMethod, as it is called
    intent_init = resources.PaymentIntent.__init__

    def test_article(cls: Any, method_id: str) -> Any:
        del cls
        return _test_method(method_id) if method_id in TEST_METHODS else canonical(method_id)

    def init(self: Any, *args: Any, payment_method: Any = None, **kwargs: Any) -> None:
        if isinstance(payment_method, str) and payment_method in TEST_METHODS:
            payment_method = _test_method(payment_method).id
        intent_init(self, *args, payment_method=payment_method, **kwargs)

    resources.PaymentMethod._try_get_canonical_test_article = classmethod(test_article)
    resources.PaymentIntent.__init__ = init


# Stripe's decline test cards: number -> decline_code (the error's code is card_declined for each).
DECLINES = {"4000000000000002": "generic_decline", "4000000000009995": "insufficient_funds"}


@stripe_fidelity(
    "localstripe declines 4000000000000002 and 4000000000009995 only when attached to a customer: a PaymentIntent "
    "confirmed with them succeeds. Stripe declines them at the charge: a 402 card_error with code card_declined and "
    "decline_code generic_decline or insufficient_funds, also in the intent's last_payment_error"
)
def declines_at_charge() -> None:
    declined = resources.PaymentMethod._charging_is_declined
    set_failure = resources.Charge._set_auth_failure
    last_error = resources.PaymentIntent.last_payment_error.fget

    def number(charge: Any) -> str | None:
        method = resources.PaymentMethod._api_retrieve(charge.payment_method)
        return getattr(method, "_card_number", None)

    def charging_is_declined(self: Any) -> bool:
        return bool(declined(self)) or getattr(self, "_card_number", None) in DECLINES

    def set_auth_failure(self: Any) -> None:
        set_failure(self)
        self._decline_code = DECLINES.get(number(self) or "", "generic_decline")

    def raise_failure(self: Any) -> None:
        error = UserError(
            402,
            self.failure_message,
            {
                "code": self.failure_code,
                "decline_code": self._decline_code,
                "charge": self.id,
                "payment_intent": {"id": self.payment_intent, "status": "requires_payment_method"},
            },
        )
        error.body["error"]["type"] = "card_error"  # UserError sets invalid_request_error for every error
        raise error

    def last_payment_error(self: Any) -> Any:
        error = last_error(self)  # pylint: disable=assignment-from-no-return  # pylint reads only its last branch
        if error and self.latest_charge is not None and self.latest_charge.status == "failed":
            error = {**error, "type": "card_error", "decline_code": self.latest_charge._decline_code}
        return error

    resources.PaymentMethod._charging_is_declined = charging_is_declined
    resources.Charge._set_auth_failure = set_auth_failure
    resources.Charge._raise_failure = raise_failure
    resources.PaymentIntent.last_payment_error = property(last_payment_error)


@stripe_fidelity(
    "localstripe refunds any amount, again and again, and an omitted amount is the whole charge even after a "
    "partial refund. Stripe refunds at most what is left (400 amount_too_large, or charge_already_refunded when "
    "nothing is), and an omitted amount is what is left"
)
def refunds_within_the_charge() -> None:
    refund_init = resources.Refund.__init__

    def init(self: Any, charge: Any = None, payment_intent: Any = None, amount: Any = None, **kwargs: Any) -> None:
        charge_id = charge
        if charge_id is None and isinstance(payment_intent, str):
            intent = resources.PaymentIntent._api_retrieve(payment_intent)
            charge_id = intent.latest_charge.id if intent.latest_charge is not None else None
        if isinstance(charge_id, str):
            charged = resources.Charge._api_retrieve(charge_id)
            left = charged.amount - charged.amount_refunded
            wanted = resources.try_convert_to_int(amount) if amount is not None else left
            if left <= 0:
                raise UserError(
                    400, f"Charge {charge_id} has already been refunded.", {"code": "charge_already_refunded"}
                )
            if isinstance(wanted, int) and wanted > left:
                raise UserError(
                    400,
                    f"Refund amount ({wanted}) is greater than unrefunded amount on charge ({left})",
                    {"code": "amount_too_large", "param": "amount"},
                )
            amount = wanted
        refund_init(self, charge=charge, payment_intent=payment_intent, amount=amount, **kwargs)

    resources.Refund.__init__ = init


@stripe_fidelity(
    "localstripe sends no event when 3-D Secure fails (the _authenticate call with success=false): the intent goes "
    "back to requires_payment_method silently. Stripe sends payment_intent.payment_failed, which is how the service "
    "learns the outcome"
)
def failed_authentication_event() -> None:
    @web.middleware
    async def failed_event(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        found = AUTHENTICATE.fullmatch(request.path)
        if request.method == "POST" and found and response.status == 200:
            intent = resources.PaymentIntent._api_retrieve(found["id"])
            if intent._authentication_failed:
                resources.schedule_webhook(resources.Event("payment_intent.payment_failed", intent))
        return response

    _insert_inside_errors(failed_event)


AUTHENTICATE = re.compile(r"/v1/payment_intents/(?P<id>pi_[A-Za-z0-9]+)/_authenticate")


def _insert_inside_errors(middleware: Any) -> None:
    """Add ``middleware`` just inside localstripe's error middleware, which turns a UserError into Stripe's answer."""
    server.app.middlewares.insert(server.app.middlewares.index(server.error_middleware) + 1, middleware)


METADATA_QUERY = re.compile(r"metadata\['(?P<key>[A-Za-z0-9_]{1,40})'\]:'(?P<value>[^'\\]{1,500})'")


@stripe_fidelity(
    "localstripe has no Search API: GET /v1/payment_intents/search answers 404 (read as the id 'search'). Stripe "
    "searches PaymentIntents by metadata (query=metadata['payment_id']:'pay_...'), which the service uses to find "
    "the intent of a payment whose create answer was lost. Only that one-clause query is served here; anything else "
    "is a 400 saying so"
)
def search_payment_intents() -> None:
    @web.middleware
    async def search(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET" or request.path != "/v1/payment_intents/search":
            return await handler(request)
        if server.get_api_key(request) is None:
            raise UserError(401, "Unauthorized")
        match = METADATA_QUERY.fullmatch(request.query.get("query", ""))
        if match is None:
            raise UserError(400, "localstripe's search serves only query=metadata['<key>']:'<value>'")
        expand = server.unflatten_data(request.query).get("expand") or []
        expand = [path.removeprefix("data.") for path in expand] if isinstance(expand, list) else []
        found = [
            value._export(expand=expand)
            for key, value in resources.store.items()
            if key.startswith("payment_intent:") and value.metadata.get(match["key"]) == match["value"]
        ]
        body = {
            "object": "search_result",
            "data": found,
            "has_more": False,
            "next_page": None,
            "url": "/v1/payment_intents/search",
        }
        return server.json_response(body)

    _insert_inside_errors(search)


@stripe_fidelity(
    "localstripe answers a PaymentIntent naming an unknown PaymentMethod with a bare 404 'Not Found'. Stripe answers "
    '400 invalid_request_error, code resource_missing, param payment_method ("No such PaymentMethod"), which is how '
    "the service tells an unknown token (400 payment_method_invalid) from a failure of its own"
)
def unknown_payment_method() -> None:
    intent_init = resources.PaymentIntent.__init__

    def init(self: Any, *args: Any, payment_method: Any = None, **kwargs: Any) -> None:
        try:
            intent_init(self, *args, payment_method=payment_method, **kwargs)
        except UserError as error:
            if error.code != 404 or not isinstance(payment_method, str):
                raise
            raise UserError(
                400,
                f"No such PaymentMethod: '{payment_method}'",
                {"code": "resource_missing", "param": "payment_method"},
            ) from None

    resources.PaymentIntent.__init__ = init


# Stripe's publishable keys: what Stripe.js sends as ``key`` in the body of the calls it makes (localstripe's own test).
PUBLISHABLE_KEY = re.compile(r"pk_[A-Za-z0-9_]+")


@stripe_fidelity(
    "localstripe refuses POST /v1/payment_methods without a secret key (401 Unauthorized): it admits a publishable "
    "key (key=pk_... in the body, as Stripe.js sends it) only for tokens, sources and its own 3-D Secure calls. "
    "Stripe.js creates PaymentMethods with the publishable key (createPaymentMethod). Only that one call is admitted: "
    "every other call with a publishable key is still refused, as on Stripe"
)
def publishable_key_creates_payment_methods() -> None:
    authenticate = server.auth_middleware

    @web.middleware
    async def publishable(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/v1/payment_methods" and server.get_api_key(request) is None:
            data = await server.get_post_data(request, remove_auth=False)
            key = data.get("key") if isinstance(data, dict) else None
            if isinstance(key, str) and PUBLISHABLE_KEY.fullmatch(key):
                return await handler(request)
        return await authenticate(request, handler)

    middlewares = server.app.middlewares
    middlewares[middlewares.index(authenticate)] = publishable


STAND_IN = Path(server.__file__).with_name("localstripe-v3.js")  # what localstripe serves at /js.stripe.com/v3/
STAND_IN_PATH = "/js.stripe.com/v3/"
ADDITIONS = Path(__file__).with_name("stand_in")
_stand_in_additions: list[str] = []


def _add_to_stand_in(name: str) -> None:
    """Serve the stand-in with ``stand_in/<name>`` appended (after any added before): one script, so the addition
    sees the stand-in's own names (``LOCALSTRIPE_BASE_API``, its card ``Element``) and wraps its ``Stripe``."""

    @web.middleware
    async def stand_in(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET" or request.path != STAND_IN_PATH:
            return await handler(request)
        script = "\n".join([STAND_IN.read_text(encoding="utf-8"), *_stand_in_additions])
        return web.Response(text=script, content_type="application/javascript")

    if not _stand_in_additions:
        _insert_inside_errors(stand_in)
    _stand_in_additions.append((ADDITIONS / name).read_text(encoding="utf-8"))


@stripe_fidelity(
    "localstripe's Stripe.js stand-in has createPaymentMethod as an empty function: it resolves undefined and creates "
    "nothing. Stripe.js's createPaymentMethod({type: 'card', card: element}) posts the card element's fields with the "
    "publishable key to /v1/payment_methods and resolves {paymentMethod} or {error}; the stand-in is served with that "
    "(stand_in/create_payment_method.js)"
)
def stand_in_creates_payment_methods() -> None:
    _add_to_stand_in("create_payment_method.js")


@stripe_fidelity(
    "localstripe's Stripe.js stand-in resolves confirmCardPayment with {paymentIntent} (status "
    "requires_payment_method) when the customer fails its 3-D Secure box, as if it had succeeded. Stripe.js resolves "
    "{error} with code payment_intent_authentication_failure; the stand-in is served with that "
    "(stand_in/failed_authentication_error.js)"
)
def stand_in_reports_failed_authentication() -> None:
    _add_to_stand_in("failed_authentication_error.js")


CANCEL = re.compile(r"/v1/payment_intents/(?P<id>pi_[A-Za-z0-9]+)/cancel")
CANCELLATION_REASONS = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")


@stripe_fidelity(
    "localstripe refuses PaymentIntent cancel's cancellation_reason (400 'Unexpected cancellation_reason'), keeps no "
    "reason on the intent and sends no event. Stripe takes abandoned, duplicate, fraudulent or requested_by_customer, "
    "shows it as the intent's cancellation_reason (null until then) and sends payment_intent.canceled; the service "
    "cancels a payment left requires_action too long with the reason abandoned"
)
def cancellation_reason() -> None:
    resources.PaymentIntent.cancellation_reason = None  # exported with every intent, as Stripe's field is

    @web.middleware
    async def cancel(request: web.Request, handler: Handler) -> web.StreamResponse:
        found = CANCEL.fullmatch(request.path)
        if request.method != "POST" or found is None:
            return await handler(request)
        if server.get_api_key(request) is None:
            raise UserError(401, "Unauthorized")
        data = await server.get_post_data(request) or {}
        reason = data.pop("cancellation_reason", None)
        if reason is not None and reason not in CANCELLATION_REASONS:
            raise UserError(400, f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}")
        expand = data.pop("expand", None)
        intent = resources.PaymentIntent._api_cancel(found["id"], **data)
        intent.cancellation_reason = reason
        resources.schedule_webhook(resources.Event("payment_intent.canceled", intent))
        return server.json_response(intent._export(expand=expand))

    _insert_inside_errors(cancel)
