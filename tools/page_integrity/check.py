"""Compare the served payment page with its manifest, the security headers and the ``config.json`` the stack sets.

A difference is any of: the page document's or one of our scripts' bytes differ from the manifest (or cannot be
fetched); a script of the page's own origin that the manifest does not list; an inline script; a script from another
origin that is not ``https://js.stripe.com/...`` (checked by URL, not by hash: Stripe changes Stripe.js without
notice); a security header missing or with another value than the stack's (``lib/blocks/web_headers.py``); a
``config.json`` (the API base URL and Stripe's publishable key the page uses) other than the one the stack wrote.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .manifest import CONFIG_PATH, PAGE_PATH, Manifest
from .page import page_scripts

# The one third-party script origin the page may load (PCI DSS 6.4.3: Stripe.js, by URL).
STRIPE_JS_ORIGIN = "https://js.stripe.com"
FETCH_TIMEOUT_SECONDS = 20


@dataclass(frozen=True, kw_only=True)
class Response:
    """What a GET answered: status, headers (names lower-cased) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, kw_only=True)
class Difference:
    """One way the served page differs from what was deployed."""

    kind: str
    """``manifest``, ``page``, ``script``, ``unlisted-script``, ``inline-script``, ``third-party-script``, ``header``,
    ``config`` or ``unreachable``."""
    where: str
    """The URL or header concerned."""
    detail: str
    """What was expected and what was found."""

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


Fetch = Callable[[str], Response]


def fetch(url: str) -> Response:
    """GET ``url`` (HTTP errors are answers too: their status is compared)."""
    request = urllib.request.Request(url, headers={"User-Agent": "tap-page-integrity/1"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:
            return Response(
                status=answer.status, headers={k.lower(): v for k, v in answer.headers.items()}, body=answer.read()
            )
    except urllib.error.HTTPError as error:
        return Response(status=error.code, headers={k.lower(): v for k, v in error.headers.items()}, body=b"")


def is_stripe_js(url: str) -> bool:
    """``https://js.stripe.com/<path>`` exactly: no other scheme, host, port or user part."""
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.netloc == "js.stripe.com" and parts.path.startswith("/")


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _get(fetcher: Fetch, url: str, differences: list[Difference]) -> Response | None:
    try:
        answer = fetcher(url)
    except (OSError, ValueError) as error:
        differences.append(Difference(kind="unreachable", where=url, detail=f"GET failed: {error}"))
        return None
    if answer.status != 200:
        differences.append(Difference(kind="unreachable", where=url, detail=f"GET answered {answer.status}, not 200"))
        return None
    return answer


def _header_differences(headers: Mapping[str, str], expected: Mapping[str, str], url: str) -> list[Difference]:
    found = []
    for name, value in sorted(expected.items()):
        served = headers.get(name.lower())
        if served != value:
            shown = "missing" if served is None else repr(served)
            found.append(Difference(kind="header", where=f"{url} {name}", detail=f"expected {value!r}, served {shown}"))
    return found


def _script_differences(page_url: str, html: str, manifest: Manifest) -> list[Difference]:
    """Each script the page loads is ours and listed, or Stripe.js by URL; no inline script."""
    found, origin = [], urlsplit(page_url)[:2]
    scripts = page_scripts(html)
    for text in scripts.inline:
        found.append(
            Difference(kind="inline-script", where=page_url, detail=f"sha256 {_sha256(text.encode())}: {text[:80]!r}")
        )
    for source in scripts.sources:
        url = urljoin(page_url, source)
        parts = urlsplit(url)
        if parts[:2] == origin:
            if parts.path not in manifest.files:
                found.append(Difference(kind="unlisted-script", where=url, detail="not in the deployed manifest"))
        elif not is_stripe_js(url):
            found.append(
                Difference(kind="third-party-script", where=url, detail=f"only {STRIPE_JS_ORIGIN}/... is allowed")
            )
    return found


def _config_differences(fetcher: Fetch, base: str, expected_config: str) -> list[Difference]:
    """``config.json`` byte for byte as the stack wrote it: a forged publishable key would send card entry into
    another Stripe account, a forged API base the payments elsewhere."""
    found: list[Difference] = []
    url = f"{base}{CONFIG_PATH}"
    answer = _get(fetcher, url, found)
    if answer is not None and answer.body != expected_config.encode():
        served = answer.body.decode("utf-8", errors="replace").strip()[:300]
        detail = f"served {served!r}, the stack wrote {expected_config.strip()!r}"
        found.append(Difference(kind="config", where=url, detail=detail))
    return found


def check_page(
    base_url: str,
    manifest: Manifest,
    expected_headers: Mapping[str, str],
    *,
    expected_config: str,
    fetcher: Fetch = fetch,
) -> list[Difference]:
    """Every difference between the page served at ``base_url`` (scheme and host, e.g. the CloudFront URL) and
    ``manifest``, ``expected_headers`` and ``expected_config`` (``config.json``'s text); empty when the page is
    exactly what was deployed."""
    base = base_url.rstrip("/")
    differences: list[Difference] = []
    page_url = f"{base}/"
    page = _get(fetcher, page_url, differences)
    if page is not None:
        if _sha256(page.body) != manifest.files[PAGE_PATH]:
            differences.append(
                Difference(
                    kind="page",
                    where=page_url,
                    detail=f"sha256 {_sha256(page.body)}, the manifest's {manifest.files[PAGE_PATH]}",
                )
            )
        differences += _header_differences(page.headers, expected_headers, page_url)
        differences += _script_differences(page_url, page.body.decode("utf-8", errors="replace"), manifest)
    for path, digest in sorted(manifest.files.items()):
        if path == PAGE_PATH:
            continue
        url = f"{base}{path}"
        script = _get(fetcher, url, differences)
        if script is not None and _sha256(script.body) != digest:
            differences.append(
                Difference(kind="script", where=url, detail=f"sha256 {_sha256(script.body)}, the manifest's {digest}")
            )
    return differences + _config_differences(fetcher, base, expected_config)
