"""What the checkout's browser is told: the security headers CloudFront adds and the runtime ``config.json``.

Written once, as plain data, because two readers must agree byte for byte: ``lib/components/frontend.py``
turns it into the CloudFront response-headers policy and the ``config.json`` object, and the end-to-end
tests (``tools/dev/web_e2e.py``) serve the production build with exactly these headers, so a page that works
in the tests works under the CSP CloudFront sends. No cdktf import: tools read it without a jsii kernel.

The one variable is the API's origin. ``connect-src`` admits it (and ``'self'`` for ``/config.json``);
everything else is closed: scripts and styles from the page's own origin only (the Vite build is one
module script and one stylesheet, no inline code), no plugins, no framing, forms post nowhere but here
(PCI DSS 6.4.3, 11.6.1: the payment page's scripts are the ones it was built with).
"""

from __future__ import annotations

import json

HSTS_MAX_AGE_SECONDS = 63072000  # two years, the preload list's minimum is one
FRAME_OPTION = "DENY"
REFERRER_POLICY = "strict-origin-when-cross-origin"
RUNTIME_CONFIG_KEY = "config.json"
# The two cache policies of the page's objects: revalidate (index.html, config.json: names that never change) and
# keep for a year (Vite's content-hashed assets, whose name changes with their bytes).
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
RUNTIME_CONFIG_CACHE_CONTROL = NO_CACHE


def api_origin(api_domain: str | None) -> str | None:
    """``https://<API_DOMAIN>``, or None for a stack without one (the browser checkout then has no API)."""
    return f"https://{api_domain}" if api_domain else None


def content_security_policy(api: str | None) -> str:
    """The payment page's CSP; ``api`` is the API's origin (scheme and host), None when there is none."""
    connect = "'self'" if api is None else f"'self' {api}"
    directives = (
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self'"),
        ("img-src", "'self' data:"),
        ("font-src", "'self'"),
        ("connect-src", connect),
        ("object-src", "'none'"),
        ("frame-ancestors", "'none'"),
        ("base-uri", "'self'"),
        ("form-action", "'self'"),
    )
    return "; ".join(f"{name} {value}" for name, value in directives)


def response_headers(api: str | None) -> dict[str, str]:
    """Every header the CloudFront response-headers policy adds, as the browser receives them."""
    return {
        "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains; preload",
        "Content-Security-Policy": content_security_policy(api),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": FRAME_OPTION,
        "Referrer-Policy": REFERRER_POLICY,
        "X-XSS-Protection": "1; mode=block",
    }


def runtime_config(api: str | None, *, stripe_publishable_key: str | None = None) -> str:
    """``config.json``: the API base URL the app reads at start (null without an API origin: the app says so) and,
    with the Stripe processor, Stripe's publishable key (``STRIPE_PUBLISHABLE_KEY``; absent with the simulator)."""
    document: dict[str, str | None] = {"apiBaseUrl": api}
    if stripe_publishable_key is not None:
        document["stripePublishableKey"] = stripe_publishable_key
    return json.dumps(document, sort_keys=True) + "\n"
