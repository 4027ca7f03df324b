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
