"""The end-to-end tests' web server answers as CloudFront does: the policy's headers on every answer, the deploy's
Content-Type and Cache-Control, index.html for unknown paths, and a config.json for the local API."""

from __future__ import annotations

import json
import urllib.request
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

from lib.blocks.web_headers import response_headers
from tests.unit.helpers import only
from tools.deploy_frontend import IMMUTABLE, NO_CACHE
from tools.web_e2e import CloudFrontLikeHandler, serving

API = "http://127.0.0.1:8080"


def _get(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read(), dict(response.headers.items())


def test_served_like_cloudfront(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(b"<html>app</html>")
    (tmp_path / "assets" / "index-DF155k74.js").write_bytes(b"js")
    (tmp_path / "config.json").write_bytes(b'{"apiBaseUrl": "http://elsewhere"}')  # make web's: never served
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(CloudFrontLikeHandler, dist=tmp_path, api_url=API))
    with serving(server) as base:
        for path, body, mime, cache in [
            ("/", b"<html>app</html>", "text/html; charset=utf-8", NO_CACHE),
            ("/payments/pay_1", b"<html>app</html>", "text/html; charset=utf-8", NO_CACHE),
            ("/../../etc/passwd", b"<html>app</html>", "text/html; charset=utf-8", NO_CACHE),
            ("/assets/index-DF155k74.js", b"js", "text/javascript; charset=utf-8", IMMUTABLE),
        ]:
            got, headers = _get(base + path)
            assert (got, headers["Content-Type"], headers["Cache-Control"]) == (body, mime, cache), path
            for name, value in response_headers(API).items():
                assert headers[name] == value, (path, name)
        config, headers = _get(base + "/config.json")
        assert json.loads(config) == {"apiBaseUrl": API}
        assert (headers["Content-Type"], headers["Cache-Control"]) == ("application/json", NO_CACHE)


def test_cloudfront_sends_the_csp_the_e2e_server_serves_for_the_same_api(resources) -> None:
    policy = only(resources, "aws_cloudfront_response_headers_policy")["security_headers_config"]
    served = response_headers("https://api.pay.example.com")
    assert policy["content_security_policy"]["content_security_policy"] == served["Content-Security-Policy"]
    assert policy["frame_options"]["frame_option"] == served["X-Frame-Options"]
    assert policy["referrer_policy"]["referrer_policy"] == served["Referrer-Policy"]
    hsts = policy["strict_transport_security"]
    max_age = hsts["access_control_max_age_sec"]
    assert served["Strict-Transport-Security"] == f"max-age={max_age}; includeSubDomains; preload"
