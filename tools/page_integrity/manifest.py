"""The integrity manifest: what the deployed page is made of, written by ``make deploy-frontend`` beside the build.

``{"version": 1, "files": {"/index.html": "<sha256>", "/assets/index-<hash>.js": "<sha256>", ...}}``: the page
document and every script of the build, by the path CloudFront serves it under. The check fetches each of them and
compares; a script the page names that is not listed is a difference too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST_KEY = "integrity-manifest.json"
MANIFEST_VERSION = 1
PAGE_PATH = "/index.html"
# The stack's config.json (lib/blocks/web_headers.RUNTIME_CONFIG_KEY): not in the manifest, which make deploy-frontend
# writes; the check compares it with the text the stack gives the function (EXPECTED_CONFIG).
CONFIG_PATH = "/config.json"
SCRIPT_SUFFIXES = (".js", ".mjs")


class ManifestError(ValueError):
    """The manifest cannot be read: the message says what is wrong and how to write a good one."""


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """The sha256 (hex) of the page and of each of our scripts, by URL path."""

    files: dict[str, str]
    """``/index.html`` and every script of the build (``/assets/<name>.js``) -> hex sha256 of its bytes."""

    def to_json(self) -> str:
        """Stable text (sorted keys): the same build gives the same bytes, so an unchanged manifest is not re-sent."""
        return json.dumps({"version": MANIFEST_VERSION, "files": self.files}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse what ``to_json`` wrote; anything else is a ``ManifestError`` naming the fault."""
        fix = "Fix: run `make deploy-frontend`, which writes it (tools/page_integrity/manifest.py)"
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ManifestError(f"{MANIFEST_KEY} is not JSON ({error}). {fix}") from error
        if not isinstance(document, dict) or document.get("version") != MANIFEST_VERSION:
            raise ManifestError(f"{MANIFEST_KEY} is not a version {MANIFEST_VERSION} manifest. {fix}")
        files = document.get("files")
        if not isinstance(files, dict) or PAGE_PATH not in files:
            raise ManifestError(f"{MANIFEST_KEY} has no 'files' naming {PAGE_PATH}. {fix}")
        if not all(isinstance(k, str) and k.startswith("/") and _is_sha256(v) for k, v in files.items()):
            raise ManifestError(f"{MANIFEST_KEY}: every entry must be '/<path>': '<64 hex digits>'. {fix}")
        return cls(files=dict(files))


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def build_manifest(dist: Path) -> Manifest:
    """The manifest of a build directory: ``index.html`` and every ``.js``/``.mjs`` file under it."""
    if not (dist / "index.html").is_file():
        raise ManifestError(f"{dist} has no index.html: build the page first (`make deploy-frontend` builds)")
    files = {
        f"/{path.relative_to(dist).as_posix()}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(dist.rglob("*"))
        if path.is_file() and ((path.name == "index.html" and path.parent == dist) or path.suffix in SCRIPT_SUFFIXES)
    }
    return Manifest(files=files)
