"""What the checkout's browser is told: the security headers CloudFront adds and the runtime ``config.json``.

Written once, as plain data, because two readers must agree byte for byte: ``lib/components/frontend.py``
turns it into the CloudFront response-headers policy and the ``config.json`` object, and the end-to-end
tests (``tools/dev/web_e2e.py``) serve the production build with exactly these headers, so a page that works
in the tests works under the CSP CloudFront sends. No cdktf import: tools read it without a jsii kernel.

The variables are the API's origin and, with the Stripe processor, Stripe's origins. ``connect-src`` admits the
API (and ``'self'`` for ``/config.json``); ``StripeOrigins`` adds exactly what Stripe.js needs for the card element
and 3-D Secure (``STRIPE``; the browser tests pass their emulator's origin through the same function:
``stripe_emulator``). Everything else is closed: scripts and styles from the page's own origin only (the Vite build
is module scripts and one stylesheet, no inline code), no plugins, no framing of the page, forms post nowhere but
here (PCI DSS 6.4.3, 11.6.1: the payment page's scripts are the ones it was built with, and Stripe's). With an API,
violations are reported to it (``report-to``, ``Reporting-Endpoints``: ``POST /v1/csp-reports``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tap_contract import routes

HSTS_MAX_AGE_SECONDS = 63072000  # two years, the preload list's minimum is one
FRAME_OPTION = "DENY"
REFERRER_POLICY = "strict-origin-when-cross-origin"
RUNTIME_CONFIG_KEY = "config.json"
# The two cache policies of the page's objects: revalidate (index.html, config.json: names that never change) and
# keep for a year (Vite's content-hashed assets, whose name changes with their bytes).
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
RUNTIME_CONFIG_CACHE_CONTROL = NO_CACHE
# The Reporting API group the CSP's report-to names; Reporting-Endpoints maps it to the API's collector.
CSP_REPORT_GROUP = "csp"


def api_origin(api_domain: str | None) -> str | None:
    """``https://<API_DOMAIN>``, or None for a stack without one (the browser checkout then has no API)."""
    return f"https://{api_domain}" if api_domain else None


@dataclass(frozen=True, kw_only=True)
class StripeOrigins:
    """The origins the payment page admits for Stripe.js, per CSP directive (none of them a wildcard scheme)."""

    script: tuple[str, ...]
    """``script-src``: where Stripe.js is loaded from."""
    frame: tuple[str, ...]
    """``frame-src``: Stripe's card-field iframes and its 3-D Secure challenge."""
    connect: tuple[str, ...]
    """``connect-src``: Stripe's API, which Stripe.js calls (PaymentMethods, confirmCardPayment)."""


# Stripe's documented CSP for Stripe.js and Elements: https://docs.stripe.com/security/guide#content-security-policy
# ("Integration security guide", section "Content Security Policy"). It lists script-src https://js.stripe.com
# https://*.js.stripe.com https://maps.googleapis.com, frame-src https://js.stripe.com https://*.js.stripe.com
# https://hooks.stripe.com, and connect-src https://api.stripe.com https://maps.googleapis.com. Every entry below is
# one of those: Stripe.js and its iframes come from js.stripe.com and its *.js.stripe.com subdomains, 3-D Secure
# challenges frame hooks.stripe.com, Stripe.js calls api.stripe.com. Left out: maps.googleapis.com, which serves only
# the Address Element's autocomplete (the page has no Address Element), and what other Stripe products need
# (checkout.stripe.com, connect-js.stripe.com). Checked for issue 26 against that section as public projects quote it
# (one naming that page): the stored copy of the guide we could search holds only its opening.
STRIPE = StripeOrigins(
    script=("https://js.stripe.com", "https://*.js.stripe.com"),
    frame=("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"),
    connect=("https://api.stripe.com",),
)

_LOOPBACK_ORIGIN = re.compile(r"^http://127\.0\.0\.1:[0-9]{1,5}$")


def stripe_emulator(origin: str) -> StripeOrigins:
    """The local Stripe emulator's origin in every Stripe directive: its Stripe.js stand-in and API are one server.

    Only a loopback ``http://127.0.0.1:<port>`` origin is accepted: it exists for the browser tests and
    ``make web``, never for a deployed page."""
    if not _LOOPBACK_ORIGIN.fullmatch(origin):
        raise ValueError(
            f"the Stripe emulator origin {origin!r} is not http://127.0.0.1:<port>: the emulator listens on loopback "
            "only (tools/dev/local_stripe); pass the URL it printed, without a path"
        )
    return StripeOrigins(script=(origin,), frame=(origin,), connect=(origin,))


def page_stripe_origins(stripe_publishable_key: str | None) -> StripeOrigins | None:
    """What a stack's page admits: Stripe's origins when it runs the Stripe processor (it has a publishable key)."""
    return STRIPE if stripe_publishable_key is not None else None


def reporting_endpoints(api: str | None) -> str | None:
    """The ``Reporting-Endpoints`` header: the CSP's report group at the API's collector (``POST /v1/csp-reports``),
    None without an API origin (nowhere to report to)."""
    return f'{CSP_REPORT_GROUP}="{api}{routes.CSP_REPORTS}"' if api else None


def content_security_policy(api: str | None, *, stripe: StripeOrigins | None = None) -> str:
    """The payment page's CSP; ``api`` is the API's origin (scheme and host), None when there is none; ``stripe``
    the Stripe.js origins (``STRIPE``, or the emulator's in tests), None for a page without Stripe. With an API, the
    browser reports violations to it (``report-to``, the group ``reporting_endpoints`` defines: PCI DSS 11.6.1)."""

    def sources(*values: str | None, extra: tuple[str, ...] = ()) -> str:
        return " ".join([value for value in values if value] + list(extra))

    script, frame, connect = (stripe.script, stripe.frame, stripe.connect) if stripe else ((), (), ())
    directives = (
        ("default-src", "'self'"),
        ("script-src", sources("'self'", extra=script)),
        ("style-src", "'self'"),
        ("img-src", "'self' data:"),
        ("font-src", "'self'"),
        ("connect-src", sources("'self'", api, extra=connect)),
        # Without Stripe, default-src 'self' already governs frames: the directive is written only to admit Stripe's.
        *((("frame-src", sources(extra=frame)),) if frame else ()),
        ("object-src", "'none'"),
        ("frame-ancestors", "'none'"),
        ("base-uri", "'self'"),
        ("form-action", "'self'"),
        *((("report-to", CSP_REPORT_GROUP),) if api else ()),
    )
    return "; ".join(f"{name} {value}" for name, value in directives)


def response_headers(api: str | None, *, stripe: StripeOrigins | None = None) -> dict[str, str]:
    """Every header the CloudFront response-headers policy adds, as the browser receives them."""
    reporting = reporting_endpoints(api)
    return {
        "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains; preload",
        "Content-Security-Policy": content_security_policy(api, stripe=stripe),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": FRAME_OPTION,
        "Referrer-Policy": REFERRER_POLICY,
        "X-XSS-Protection": "1; mode=block",
        **({"Reporting-Endpoints": reporting} if reporting else {}),
    }


def runtime_config(
    api: str | None, *, stripe_publishable_key: str | None = None, stripe_js_url: str | None = None
) -> str:
    """``config.json``: the API base URL the app reads at start (null without an API origin: the app says so) and,
    with the Stripe processor, Stripe's publishable key (``STRIPE_PUBLISHABLE_KEY``; absent with the simulator).
    ``stripe_js_url`` (@default None: absent) is a Stripe.js stand-in's URL, which only the development build reads
    (the browser tests' localstripe checkout); the stack never writes it."""
    document: dict[str, str | None] = {"apiBaseUrl": api}
    if stripe_publishable_key is not None:
        document["stripePublishableKey"] = stripe_publishable_key
    if stripe_js_url is not None:
        document["stripeJsUrl"] = stripe_js_url
    return json.dumps(document, sort_keys=True) + "\n"
