"""The page-integrity check against the browser tests' CloudFront-like server (``tools/dev/web_e2e.py``) and an
in-process S3 (moto) holding the manifest ``make deploy-frontend`` wrote: the page as deployed passes; a changed
script (even with a manifest rewritten for it and served through CloudFront), a changed config.json, a changed header
and a script from another origin each make it report a difference, which the function publishes as a non-zero metric
(the alarm's breach)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lib.blocks.web_headers import STRIPE, StripeOrigins, response_headers, runtime_config
from tools.dev.web_e2e import CloudFrontLikeHandler, serving
from tools.page_integrity import handler
from tools.page_integrity.check import check_page, is_stripe_js
from tools.page_integrity.manifest import MANIFEST_KEY, Manifest, ManifestError, build_manifest

API = "https://api.example.com"
BUCKET = "frontend"
# What the stack writes as config.json and gives the function (lib/components/frontend.py, page_watch.py).
CONFIG = runtime_config(API, stripe_publishable_key="pk_live_ours")
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


@pytest.fixture(name="bucket")
def _bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The frontend bucket in an in-process S3: the function reads the manifest from it, as it does in AWS."""
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield


def _deploy(dist: Path, extra: str = "") -> Manifest:
    """The build in ``dist`` (what CloudFront serves) and its manifest in the bucket, as make deploy-frontend
    leaves them."""
    manifest = _build(dist, extra)
    boto3.client("s3").put_object(Bucket=BUCKET, Key=MANIFEST_KEY, Body=manifest.to_json().encode())
    return manifest


def _serve(dist: Path, config: str = CONFIG) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(CloudFrontLikeHandler, dist=dist, api_url=API, stripe=STRIPE, config=config)
    )


@pytest.fixture(name="site")
def _site(tmp_path: Path, bucket: None) -> Iterator[tuple[Path, str]]:
    del bucket
    _deploy(tmp_path)
    with serving(_serve(tmp_path)) as base:
        yield tmp_path, base


def _environ(base: str, stripe: StripeOrigins | None = STRIPE) -> dict[str, str]:
    return {
        "PAGE_URL": base,
        "FRONTEND_BUCKET": BUCKET,
        "EXPECTED_HEADERS": json.dumps(response_headers(API, stripe=stripe)),
        "EXPECTED_CONFIG": CONFIG,
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
def test_a_replaced_script_with_a_manifest_rewritten_for_it_served_through_cloudfront_alarms(
    site: tuple[Path, str],
) -> None:
    """Whoever changes what CloudFront serves without writing the bucket (another origin, a Lambda@Edge) can serve a
    manifest written for the skimmer too: the check trusts the bucket's manifest, never the served one."""
    dist, base = site
    (dist / CHUNK).write_text("export const stripe = 'https://skimmer.example/x.js';", encoding="utf-8")
    (dist / MANIFEST_KEY).write_text(build_manifest(dist).to_json(), encoding="utf-8")  # served, not in the bucket
    value, differences = _published(_environ(base))
    assert value == 1
    assert differences[0].startswith(f"script: {base}/{CHUNK}: sha256 ")


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_changed_config_alarms(tmp_path: Path, bucket: None) -> None:
    """A forged publishable key sends card entry into another Stripe account: config.json is compared with the
    stack's."""
    del bucket
    _deploy(tmp_path)
    forged = runtime_config(API, stripe_publishable_key="pk_live_someone_else")
    with serving(_serve(tmp_path, config=forged)) as base:
        value, differences = _published(_environ(base))
    assert value == 1
    assert differences == [f"config: {base}/config.json: served {forged.strip()!r}, the stack wrote {CONFIG.strip()!r}"]


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_changed_header_alarms(site: tuple[Path, str]) -> None:
    """The stack expects the CSP without Stripe's origins; the page is served with them: the CSP differs."""
    _, base = site
    value, differences = _published(_environ(base, stripe=None))
    assert value == 1
    assert differences[0].startswith(f"header: {base}/ Content-Security-Policy: expected ")


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_script_from_another_origin_alarms(tmp_path: Path, bucket: None) -> None:
    """Even when the manifest was written for that page (a deployer's mistake): only Stripe.js may be third-party."""
    del bucket
    _deploy(tmp_path, extra='<script src="https://js.stripe.com/v3/"></script><script src="https://cdn.example/x.js">')
    with serving(_serve(tmp_path)) as base:
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
    kinds = [d.kind for d in check_page(base, manifest, response_headers(API, stripe=STRIPE), expected_config=CONFIG)]
    assert kinds == ["page", "inline-script", "unlisted-script"]


@pytest.mark.parametrize("body", [None, b"<html>not a manifest</html>"])
def test_a_missing_or_unreadable_manifest_in_the_bucket_alarms(site: tuple[Path, str], body: bytes | None) -> None:
    """The manifest CloudFront serves is not consulted: without the bucket's, the check reports that one fault."""
    _, base = site
    s3 = boto3.client("s3")
    if body is None:
        s3.delete_object(Bucket=BUCKET, Key=MANIFEST_KEY)
    else:
        s3.put_object(Bucket=BUCKET, Key=MANIFEST_KEY, Body=body)
    value, differences = _published(_environ(base))
    assert value == 1
    assert differences[0].startswith(f"manifest: s3://{BUCKET}/{MANIFEST_KEY}: ")
    assert "make deploy-frontend" in differences[0]


def test_an_unreachable_page_alarms(bucket: None, tmp_path: Path) -> None:
    del bucket
    _deploy(tmp_path)
    value, differences = _published(_environ("http://127.0.0.1:9"))
    # The page, the manifest's two scripts and config.json: each GET refused.
    assert value == 4
    assert [d.split(": GET failed")[0] for d in differences] == [
        "unreachable: http://127.0.0.1:9/",
        f"unreachable: http://127.0.0.1:9/{ENTRY}",
        f"unreachable: http://127.0.0.1:9/{CHUNK}",
        "unreachable: http://127.0.0.1:9/config.json",
    ]


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
