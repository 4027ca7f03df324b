"""The checkout's API types (``web/src/generated/api.ts``), generated from the OpenAPI document by openapi-typescript.

Why: the checkout (``web/``) once held hand-written copies of the API's bodies beside ``docs/openapi.json``, and
nothing told them apart when the API changed. Now ``make docs`` writes the types from the same document text it
commits as ``docs/openapi.json`` (``tools/docs/generate.py``, ``checkout_api_types``), ``web/src/api.ts`` names them
(``components["schemas"]["Payment"]``, ``paths["/v1/payments"]...``), and so a change to the API that the page does
not follow fails ``tsc`` (``make web-tests``); ``make docs-check`` fails when the committed types are stale.

openapi-typescript is the version ``web/package.json`` pins (a devDependency, installed by ``npm ci`` in ``web/``),
run on the project's Node (``lib/runtime/node.py``). It reads the document from stdin and writes to stdout; no
network, no file outside the working directory ``web/`` (where it would read a ``redocly.yaml``; there is none).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lib.runtime.node import project_node

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
# Where the generated module lives, relative to the repository root (a whole generated file, tools/docs/generate.py).
GENERATED = "web/src/generated/api.ts"
PACKAGE = "openapi-typescript"
CLI = Path("node_modules") / PACKAGE / "bin" / "cli.js"
FIX = "run `make web-tests` once (it runs `npm ci` in web/ from web/package-lock.json)"


class CheckoutTypesError(RuntimeError):
    """openapi-typescript is missing or refused the document (the message says which and what to do)."""


def pinned_version(web: Path = WEB) -> str:
    """The openapi-typescript version ``web/package.json`` pins in devDependencies (an exact version)."""
    manifest = web / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["devDependencies"][PACKAGE])
    except (OSError, ValueError, KeyError) as err:
        raise CheckoutTypesError(
            f"{manifest} does not pin {PACKAGE} in devDependencies ({err!r}); the checkout's API types are "
            f"generated with it: add it with `npm install --save-dev --save-exact {PACKAGE}@7` in web/"
        ) from err


def header(version: str) -> str:
    """The lines above openapi-typescript's own: what generated the file, from what, and what to run."""
    return (
        f"// GENERATED from docs/openapi.json by `make docs` (tools/docs/checkout_types.py: {PACKAGE} {version},\n"
        "// pinned in web/package.json). Do not edit: after a change to the API run `make docs` and commit the\n"
        "// result; `make docs-check` fails while this file is stale, and `make web-tests` (tsc) shows what the page\n"
        "// must follow.\n"
    )


def typescript(openapi_text: str, *, web: Path = WEB) -> str:
    """``openapi_text`` (an OpenAPI 3.1 document) as the TypeScript module ``web/src/generated/api.ts`` holds."""
    version = pinned_version(web)
    cli = web / CLI
    if not cli.is_file():
        raise CheckoutTypesError(f"{PACKAGE} {version} is not installed ({cli} is missing). Fix: {FIX}")
    result = subprocess.run(
        [str(project_node()), str(cli)],
        input=openapi_text,
        capture_output=True,
        text=True,
        cwd=web,
        check=False,
        timeout=300,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise CheckoutTypesError(
            f"{PACKAGE} {version} could not turn the OpenAPI document into TypeScript (exit {result.returncode}): "
            f"{result.stderr.strip() or 'no output'}. Fix the document's generator (payment_api/openapi.py), then "
            "run `make docs` again"
        )
    return header(version) + result.stdout
