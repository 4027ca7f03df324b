"""The end-to-end tests' web server answers as CloudFront does: the policy's headers on every answer, the deploy's
Content-Type and Cache-Control, index.html for unknown paths, and a config.json for the local API."""

from __future__ import annotations

import json
import struct
import urllib.request
import zlib
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from lib.blocks.web_headers import STRIPE, response_headers, runtime_config
from tests.unit.helpers import only
from tools.dev import web_e2e
from tools.dev.web_e2e import CloudFrontLikeHandler, serving
from tools.release.deploy_frontend import IMMUTABLE, NO_CACHE

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


@pytest.mark.pci("6.4.3, 11.6.1")
def test_the_stripe_site_serves_a_stripe_stacks_csp_and_config(tmp_path: Path) -> None:
    """The production build's site in the browser tests: the CSP and config.json a Stripe stack has."""
    (tmp_path / "index.html").write_bytes(b"<html>app</html>")
    config = runtime_config(API, stripe_publishable_key=web_e2e.E2E_PUBLISHABLE_KEY)
    site = partial(CloudFrontLikeHandler, dist=tmp_path, api_url=API, stripe=STRIPE, config=config)
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), site)) as base:
        _, headers = _get(base + "/")
        assert headers["Content-Security-Policy"] == response_headers(API, stripe=STRIPE)["Content-Security-Policy"]
        body, _ = _get(base + "/config.json")
        assert json.loads(body) == {"apiBaseUrl": API, "stripePublishableKey": "pk_test_e2eCheckout"}


@pytest.mark.pci("6.4.3, 11.6.1")
def test_cloudfront_sends_the_csp_the_e2e_server_serves_for_the_same_api(resources) -> None:
    policy = only(resources, "aws_cloudfront_response_headers_policy")["security_headers_config"]
    served = response_headers("https://api.pay.example.com", stripe=STRIPE)  # the production example runs Stripe
    assert policy["content_security_policy"]["content_security_policy"] == served["Content-Security-Policy"]
    assert policy["frame_options"]["frame_option"] == served["X-Frame-Options"]
    assert policy["referrer_policy"]["referrer_policy"] == served["Referrer-Policy"]
    hsts = policy["strict_transport_security"]
    max_age = hsts["access_control_max_age_sec"]
    assert served["Strict-Transport-Security"] == f"max-age={max_age}; includeSubDomains; preload"
    custom = only(resources, "aws_cloudfront_response_headers_policy")["custom_headers_config"]["items"]
    assert custom == [{"header": "Reporting-Endpoints", "value": served["Reporting-Endpoints"], "override": True}]


def _png(path: Path, rows: list[bytes], width: int, filters: list[int], level: int) -> Path:
    """An RGB PNG whose rows are encoded with the given filter types (so the decoder's unfiltering is exercised)."""
    bpp, previous, raw = 3, bytes(width * 3), b""
    for row, kind in zip(rows, filters, strict=True):
        encoded = bytearray()
        for x, value in enumerate(row):
            left, up = (row[x - bpp] if x >= bpp else 0), previous[x]
            up_left = previous[x - bpp] if x >= bpp else 0
            guess = left + up - up_left
            paeth = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - up_left), 2, up_left))[2]
            predictor = {0: 0, 1: left, 2: up, 3: (left + up) // 2, 4: paeth}[kind]
            encoded.append((value - predictor) & 255)
        raw += bytes([kind]) + bytes(encoded)
        previous = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b"")
    )
    return path


def test_screenshot_is_published_only_when_the_picture_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(web_e2e, "ROOT", tmp_path)
    rows = [bytes((x * 37 + y * 11) % 256 for x in range(12)) for y in range(5)]
    target = _png(tmp_path / "docs.png", rows, 4, [0, 0, 0, 0, 0], 9)
    same = _png(tmp_path / "same.png", rows, 4, [1, 2, 3, 4, 4], 1)  # other filters and compression
    assert same.read_bytes() != target.read_bytes()
    assert web_e2e.png_pixels(same) == (4, 5, b"".join(rows))
    assert web_e2e.publish_screenshot(same, target) == "docs.png unchanged"
    assert target.read_bytes() != same.read_bytes()
    changed = _png(tmp_path / "changed.png", [rows[0], rows[1], bytes(12), rows[3], rows[4]], 4, [4] * 5, 6)
    assert web_e2e.publish_screenshot(changed, target) == "docs.png rewritten (the page looks different)"
    assert target.read_bytes() == changed.read_bytes()
