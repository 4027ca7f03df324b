"""The page-integrity check against the browser tests' CloudFront-like server (``tools/dev/web_e2e.py``): the page
as deployed passes; a changed script, a changed header and a script from another origin each make it report a
difference, which the function publishes as a non-zero metric (the alarm's breach)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from lib.blocks.web_headers import STRIPE, StripeOrigins, response_headers
from tools.dev.web_e2e import CloudFrontLikeHandler, serving
from tools.page_integrity import handler
from tools.page_integrity.check import check_page, is_stripe_js
from tools.page_integrity.manifest import MANIFEST_KEY, Manifest, ManifestError, build_manifest

API = "https://api.example.com"
ENTRY = "assets/index-CGMxnFyE.js"
CHUNK = "assets/vendor-Bq3x9LkP.js"
PAGE = (
    "<!doctype html><html><head>"
    '<script type="module" crossorigin src="/{entry}"></script>'
    '<link rel="modulepreload" crossorigin href="/{chunk}">{extra}'
    '</head><body><div id="root"></div></body></html>'
)


def _build(dist: Path, extra: str = "") -> Manifest:
    """A Vite-like build and its manifest in the bucket, as ``make deploy-frontend`` leaves them."""
    (dist / "assets").mkdir(exist_ok=True)
    (dist / "index.html").write_text(PAGE.format(entry=ENTRY, chunk=CHUNK, extra=extra), encoding="utf-8")
    (dist / ENTRY).write_text("import './vendor-Bq3x9LkP.js'; console.log('checkout');", encoding="utf-8")
    (dist / CHUNK).write_text("export const stripe = 'https://js.stripe.com/v3/';", encoding="utf-8")
    (dist / "assets" / "index-BRmE4NMk.css").write_text("body{}", encoding="utf-8")
    manifest = build_manifest(dist)
    (dist / MANIFEST_KEY).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


@pytest.fixture(name="site")
def _site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    _build(tmp_path)
    with serving(
        ThreadingHTTPServer(("127.0.0.1", 0), partial(CloudFrontLikeHandler, dist=tmp_path, api_url=API, stripe=STRIPE))
    ) as base:
        yield tmp_path, base


def _environ(base: str, stripe: StripeOrigins | None = STRIPE) -> dict[str, str]:
    return {
        "PAGE_URL": base,
        "EXPECTED_HEADERS": json.dumps(response_headers(API, stripe=stripe)),
        "METRIC_NAMESPACE": "Test/PageIntegrity",
    }


def _published(environ: dict[str, str]) -> tuple[int, list[str]]:
    sent: list[tuple[str, int]] = []
    result = handler.main(environ, publish=lambda namespace, value: sent.append((namespace, value)))
    assert [namespace for namespace, _ in sent] == ["Test/PageIntegrity"]
    return sent[0][1], result["differences"]


def test_manifest_lists_the_page_and_every_script(tmp_path: Path) -> None:
    manifest = _build(tmp_path)
    assert sorted(manifest.files) == ["/assets/index-CGMxnFyE.js", "/assets/vendor-Bq3x9LkP.js", "/index.html"]
    assert Manifest.from_json(manifest.to_json()) == manifest
    with pytest.raises(ManifestError, match=r"index\.html.*make deploy-frontend"):
        Manifest.from_json(json.dumps({"version": 1, "files": {"/a.js": "0" * 64}}))
    with pytest.raises(ManifestError, match="not JSON"):
        Manifest.from_json("<html>the SPA fallback</html>")


@pytest.mark.pci("6.4.3, 11.6.1")
def test_the_page_as_deployed_passes(site: tuple[Path, str]) -> None:
    _, base = site
    assert _published(_environ(base)) == (0, [])


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_changed_script_alarms(site: tuple[Path, str]) -> None:
    dist, base = site
    (dist / CHUNK).write_text("export const stripe = 'https://skimmer.example/x.js';", encoding="utf-8")
    value, differences = _published(_environ(base))
    assert value == 1
    assert differences[0].startswith(f"script: {base}/{CHUNK}: sha256 ")


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_changed_header_alarms(site: tuple[Path, str]) -> None:
    """The stack expects the CSP without Stripe's origins; the page is served with them: the CSP differs."""
    _, base = site
    value, differences = _published(_environ(base, stripe=None))
    assert value == 1
    assert differences[0].startswith(f"header: {base}/ Content-Security-Policy: expected ")


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_script_from_another_origin_alarms(tmp_path: Path) -> None:
    """Even when the manifest was written for that page (a deployer's mistake): only Stripe.js may be third-party."""
    _build(tmp_path, extra='<script src="https://js.stripe.com/v3/"></script><script src="https://cdn.example/x.js">')
    site = partial(CloudFrontLikeHandler, dist=tmp_path, api_url=API, stripe=STRIPE)
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), site)) as base:
        value, differences = _published(_environ(base))
    assert (value, differences) == (
        1,
        ["third-party-script: https://cdn.example/x.js: only https://js.stripe.com/... is allowed"],
    )


def test_an_inline_script_an_unlisted_script_and_a_changed_page_alarm(site: tuple[Path, str]) -> None:
    dist, base = site
    page = (dist / "index.html").read_text(encoding="utf-8")
    (dist / "index.html").write_text(
        page.replace("</head>", "<script>steal()</script><script src='/assets/new.js'></script></head>"),
        encoding="utf-8",
    )
    manifest = Manifest.from_json((dist / MANIFEST_KEY).read_text(encoding="utf-8"))
    kinds = [d.kind for d in check_page(base, manifest, response_headers(API, stripe=STRIPE))]
    assert kinds == ["page", "inline-script", "unlisted-script"]


def test_a_missing_manifest_alarms(site: tuple[Path, str]) -> None:
    """Without the object CloudFront answers index.html (the SPA fallback): not a manifest, one difference."""
    dist, base = site
    (dist / MANIFEST_KEY).unlink()
    value, differences = _published(_environ(base))
    assert value == 1
    assert differences[0].startswith(f"manifest: {base}/{MANIFEST_KEY}: ")


def test_an_unreachable_page_alarms() -> None:
    value, differences = _published(_environ("http://127.0.0.1:9"))
    assert value == 1
    assert differences[0].startswith("manifest: http://127.0.0.1:9/integrity-manifest.json: ")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://js.stripe.com/v3/", True),
        ("https://js.stripe.com/v3/fingerprinted/js/x.js", True),
        ("http://js.stripe.com/v3/", False),
        ("https://js.stripe.com.example.com/v3/", False),
        ("https://evil@js.stripe.com/v3/", False),
        ("https://js.stripe.com:8443/v3/", False),
        ("https://m.stripe.network/inner.html", False),
    ],
)
def test_only_stripe_js_by_url(url: str, allowed: bool) -> None:
    assert is_stripe_js(url) is allowed
