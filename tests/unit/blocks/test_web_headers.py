"""``lib/blocks/web_headers.py``: the response headers and runtime configuration the end-to-end server and
CloudFront share."""

import pytest

from lib.blocks import web_headers


@pytest.mark.pci("6.4.3, 11.6.1")
def test_csp_and_config_come_from_the_headers_block_the_e2e_server_serves():
    """The end-to-end server serves response_headers(); CloudFront gets the same CSP string for the same origin."""
    headers = web_headers.response_headers("http://127.0.0.1:8080")
    assert headers["Content-Security-Policy"] == web_headers.content_security_policy("http://127.0.0.1:8080")
    assert "connect-src 'self' http://127.0.0.1:8080;" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert (
        web_headers.runtime_config(web_headers.api_origin("api.example.com"))
        == '{"apiBaseUrl": "https://api.example.com"}\n'
    )


def _directives(csp: str) -> dict[str, str]:
    return dict(part.split(" ", 1) for part in csp.split("; "))


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_stripe_page_admits_stripe_js_and_nothing_else_new():
    """Stripe's origins go exactly where Stripe.js needs them; every other directive is the page without Stripe."""
    api = "https://api.pay.example.com"
    with_stripe = _directives(web_headers.content_security_policy(api, stripe=web_headers.STRIPE))
    without = _directives(web_headers.content_security_policy(api))
    assert with_stripe["script-src"] == "'self' https://js.stripe.com https://*.js.stripe.com"
    assert with_stripe["frame-src"] == "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"
    assert with_stripe["connect-src"] == f"'self' {api} https://api.stripe.com"
    changed = {name for name in with_stripe if with_stripe[name] != without.get(name)}
    assert changed == {"script-src", "frame-src", "connect-src"}
    assert "frame-src" not in without  # without Stripe, default-src 'self' governs frames
    assert web_headers.response_headers(api, stripe=web_headers.STRIPE)["Content-Security-Policy"] == (
        web_headers.content_security_policy(api, stripe=web_headers.STRIPE)
    )


def test_the_emulator_origin_goes_through_the_same_function():
    """The browser tests admit the local Stripe emulator where production admits Stripe, and only there."""
    emulator = web_headers.stripe_emulator("http://127.0.0.1:8420")
    csp = _directives(web_headers.content_security_policy("http://127.0.0.1:9000", stripe=emulator))
    assert csp["script-src"] == "'self' http://127.0.0.1:8420"
    assert csp["frame-src"] == "http://127.0.0.1:8420"
    assert csp["connect-src"] == "'self' http://127.0.0.1:9000 http://127.0.0.1:8420"
    assert "stripe.com" not in web_headers.content_security_policy(None, stripe=emulator)


@pytest.mark.parametrize(
    "origin", ["http://0.0.0.0:8420", "https://127.0.0.1:8420", "http://127.0.0.1:8420/js.stripe.com/v3/", "*"]
)
def test_an_emulator_origin_that_is_not_loopback_is_refused_naming_it(origin: str):
    with pytest.raises(ValueError, match=r"is not http://127\.0\.0\.1:<port>.*pass the URL it printed") as raised:
        web_headers.stripe_emulator(origin)
    assert repr(origin) in str(raised.value)


def test_a_stack_admits_stripe_exactly_when_it_has_a_publishable_key():
    assert web_headers.page_stripe_origins("pk_live_51Abc") is web_headers.STRIPE
    assert web_headers.page_stripe_origins(None) is None


def test_config_names_a_stand_in_only_when_given_one():
    """The localstripe checkout of the browser tests: key and stand-in URL; a stack's config never has the URL."""
    api, stand_in = "http://127.0.0.1:9000", "http://127.0.0.1:8420/js.stripe.com/v3/"
    config = web_headers.runtime_config(api, stripe_publishable_key="pk_test_local", stripe_js_url=stand_in)
    assert config == (
        '{"apiBaseUrl": "http://127.0.0.1:9000", "stripeJsUrl": "http://127.0.0.1:8420/js.stripe.com/v3/", '
        '"stripePublishableKey": "pk_test_local"}\n'
    )
    assert "stripeJsUrl" not in web_headers.runtime_config(api, stripe_publishable_key="pk_test_local")


@pytest.mark.pci("6.4.3, 11.6.1")
def test_violations_are_reported_to_the_api_s_collector_and_without_an_api_nowhere():
    """report-to names a group the Reporting-Endpoints header maps to POST /v1/csp-reports on the API's origin (the
    route the service serves and the WAF rate-limits); a page without an API has neither."""
    api = "https://api.pay.example.com"
    headers = web_headers.response_headers(api, stripe=web_headers.STRIPE)
    assert _directives(headers["Content-Security-Policy"])["report-to"] == "csp"
    assert headers["Reporting-Endpoints"] == 'csp="https://api.pay.example.com/v1/csp-reports"'
    bare = web_headers.response_headers(None)
    assert "report-to" not in _directives(bare["Content-Security-Policy"]) and "Reporting-Endpoints" not in bare
