"""``make docs`` regenerates every generated document; ``make docs-check`` fails when one is stale.

Why one entry point: a table or picture that is written by hand drifts from the code (the README once said
4 WAF rule groups where the code had 5). Every generated part of a document is produced here from its one
source, the way terraform-docs keeps a module's README, and CI refuses a commit whose documents were not
regenerated. A generated part is either a whole file or a region of a hand-written file between
``<!-- name:begin -->`` and ``<!-- name:end -->``; the text around a region stays the author's.

    python -m tools.docs.generate           # rewrite what is stale
    python -m tools.docs.generate --check   # exit 1 and name each stale part (CI)
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Part:
    """One generated part: ``region`` names a marked region of ``path``, or is None for the whole file."""

    path: str
    content: str
    region: str | None = None


Generator = Callable[[], Iterable[Part]]


def make_help() -> Iterable[Part]:
    """The getting-started guide's copy of `make`'s grouped target list."""
    from tools.docs.make_help import help_text  # pylint: disable=import-outside-toplevel

    yield Part("docs/getting-started.md", f"```text\n{help_text(ROOT / 'Makefile')}\n```", region="make-help")


def architecture_diagram() -> Iterable[Part]:
    """The README's architecture picture, from the production stack that `make upgrade-check` also covers."""
    from tools.docs import diagram  # pylint: disable=import-outside-toplevel
    from tools.release import addresses  # pylint: disable=import-outside-toplevel  # cdktf only when asked

    stack = addresses.synthesize(addresses.CONFIGURATIONS["production"])
    yield Part("README.md", diagram.readme_block(stack), region="architecture-diagram")


def cost_tables() -> Iterable[Part]:
    """docs/deploying.md's cost tables, one per shape: the development default (no processor egress, no NAT) and the
    production example (Stripe's egress), from the committed price table."""
    from tools.deploy import cost_estimate  # pylint: disable=import-outside-toplevel
    from tools.release import addresses  # pylint: disable=import-outside-toplevel  # cdktf only when asked

    yield Part("docs/deploying.md", cost_estimate.docs_block(addresses.synthesize), region="cost")


def configuration() -> Iterable[Part]:
    """docs/deploying.md's configuration tables and environments/example.tfvars, from lib/tunables.py."""
    from tools.docs.config_docs import configuration_documents  # pylint: disable=import-outside-toplevel

    for path, content, region in configuration_documents():
        yield Part(path, content, region=region)


def api_benchmark() -> Iterable[Part]:
    """docs/payment-api.md's benchmark table, from the committed docs/api_measurements.json (`make bench-api`)."""
    import json  # pylint: disable=import-outside-toplevel

    from tools.bench.api_results import GUIDE, render_table  # pylint: disable=import-outside-toplevel

    path = ROOT / "docs" / "api_measurements.json"
    if path.is_file():
        yield Part(GUIDE, render_table(json.loads(path.read_text(encoding="utf-8"))), region="api-bench")


def rehearsal_root() -> Iterable[Part]:
    """docs/developing.md's list of what the boot rehearsal changes in an instance's root (the emulator notes)."""
    import tempfile  # pylint: disable=import-outside-toplevel

    from tools.sandbox.rehearsal.harness import HARNESS_CHANGES  # pylint: disable=import-outside-toplevel
    from tools.sandbox.rehearsal.standins import install_standins  # pylint: disable=import-outside-toplevel

    with tempfile.TemporaryDirectory() as root:
        lines = [*install_standins(Path(root)), *HARNESS_CHANGES]
    yield Part("docs/developing.md", "\n".join(f"- {line}" for line in lines), region="rehearsal-root")


@functools.cache
def _openapi_text() -> str:
    """The payment API's OpenAPI 3.1 document, as the app serves it at /openapi.json (built once per run)."""
    from payment_api.app import create_app  # pylint: disable=import-outside-toplevel
    from payment_api.config import IdempotencySecrets, load_settings  # pylint: disable=import-outside-toplevel
    from payment_api.openapi import document_text  # pylint: disable=import-outside-toplevel

    # The document does not depend on the settings; building the app opens no connection and serves no request, so
    # the HMAC secret the app refuses to start without is a placeholder here.
    settings = replace(
        load_settings({"PAYMENT_ENVIRONMENT": "test", "PAYMENT_DB_PORT": "1", "PAYMENT_DB_SSLMODE": "disable"}),
        hmac_secrets=IdempotencySecrets(current=b"docs: no request is served" + bytes(6)),
    )
    return document_text(create_app(settings))


def openapi_document() -> Iterable[Part]:
    """docs/openapi.json: the payment API's OpenAPI 3.1 document."""
    yield Part("docs/openapi.json", _openapi_text())


def checkout_api_types() -> Iterable[Part]:
    """web/src/generated/api.ts: the checkout's API types, from the document docs/openapi.json gets in the same run.

    From the app's text, not the committed file: one `make docs` after an API change rewrites both.
    """
    from tools.docs import checkout_types  # pylint: disable=import-outside-toplevel  # Node only when asked

    yield Part(checkout_types.GENERATED, checkout_types.typescript(_openapi_text()))


def _generators() -> tuple[Generator, ...]:
    return (
        make_help,
        configuration,
        cost_tables,
        architecture_diagram,
        api_benchmark,
        rehearsal_root,
        openapi_document,
        checkout_api_types,
    )


def fill_region(text: str, region: str, content: str, *, path: str) -> str:
    """``text`` with the lines between ``region``'s markers replaced by ``content``."""
    begin, end = f"<!-- {region}:begin -->\n", f"<!-- {region}:end -->"
    if text.count(begin) != 1 or text.count(end) != 1:
        raise ValueError(
            f"{path} must hold exactly one `{begin.strip()}` and one `{end}` line; add them where "
            f"the generated {region} belongs"
        )
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}{content.rstrip()}\n{end}{tail}"


def render(parts: Iterable[Part], root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """``{path: (current text, generated text)}`` after applying every part."""
    texts: dict[str, tuple[str, str]] = {}
    for part in parts:
        file = root / part.path
        current = file.read_text(encoding="utf-8") if file.is_file() else ""
        _, new = texts.get(part.path, (current, current))
        new = part.content if part.region is None else fill_region(new, part.region, part.content, path=part.path)
        texts[part.path] = (current, new)
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated document is stale")
    args = parser.parse_args(argv)
    texts = render((part for generator in _generators() for part in generator()), ROOT)
    stale = sorted(path for path, (current, new) in texts.items() if current != new)
    if args.check:
        for path in stale:
            print(f"{path} is stale: run `make docs` and commit the result")
        print(f"generated documents: {len(texts)} checked, {len(stale)} stale")
        return 1 if stale else 0
    for path in stale:
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_text(texts[path][1], encoding="utf-8")
        print(f"rewrote {path}")
    print(f"generated documents: {len(texts)} checked, {len(stale)} rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
