"""``make api``: PostgreSQL 15 in a temporary folder, migrations, a local operator's token, the API on 127.0.0.1 and the
reconciler beside it (``payment-api reconcile --every 10s --grace 10s``: payments left ``processing`` are finished).

Prints ``API: http://127.0.0.1:<port>`` and, last, ``Operator key: <token>`` once ``/ready`` answers: a one-hour
operator token for the local operator ``local:make-api`` (``payment-api operator-token --local``; a local mode the
service refuses in production). While it runs, ``make operator-token`` prints a fresh one
(``tools.dev.local_api.operator_token``, through the pointer file :func:`pointer_path` names). Ctrl-C stops the API,
the reconciler and PostgreSQL and removes the folder and the pointer.

``PAYMENT_PROCESSOR=stripe make api`` also starts the local Stripe emulator (``tools.dev.local_stripe``: localstripe,
patched, on 127.0.0.1), writes its ``stripe-secret`` credential (a fresh test key) beside the HMAC secret, points the
API and the reconciler at it and prints ``Stripe: <url>`` before the ``Operator key:`` line, which stays last.

    python -m tools.dev.local_api.local [--port 8080] [--web-port 5173]

With the Stripe processor the emulator listens on ``LOCAL_STRIPE_PORT`` (default 8420), where
``PAYMENT_PROCESSOR=stripe make web`` looks for its Stripe.js stand-in.

The port: ``--port``, else ``LOCAL_API_PORT``, else 8080. ``API_PORT`` is the instances' port on the stack
(lib/tunables.py); ``make api`` read it before ``LOCAL_API_PORT`` existed and still does for this release, with a
notice on stderr. CORS admits ``make web``'s origin on ``--web-port`` (``WEB_PORT``, default 5173).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from payment_api.config import STRIPE_SECRET

from tools.dev.local_api.credentials import write_credentials
from tools.dev.local_api.postgres import LocalPostgres
from tools.dev.local_api.process import ReconcilerProcess, ServiceProcess, run_cli
from tools.dev.local_stripe import LocalStripe, stripe_credential

DEFAULT_API_PORT = 8080
DEFAULT_WEB_PORT = 5173
# The emulator's port with PAYMENT_PROCESSOR=stripe (LOCAL_STRIPE_PORT; localstripe's own default): fixed, so that
# `PAYMENT_PROCESSOR=stripe make web` finds its Stripe.js stand-in at http://127.0.0.1:<port>/js.stripe.com/v3/.
DEFAULT_STRIPE_PORT = 8420
PROCESSORS = ("simulated", "stripe")
STRIPE_WEBHOOK_PATH = "/v1/webhooks/stripe"  # the API's Stripe webhook (API.md v1.2)


class PortError(ValueError):
    """A port value that is not a TCP port."""


class ProcessorChoiceError(ValueError):
    """A ``PAYMENT_PROCESSOR`` that ``make api`` does not run."""


def processor_choice(environ: Mapping[str, str]) -> str:
    """The processor ``make api`` runs: ``PAYMENT_PROCESSOR``, else ``simulated``."""
    value = environ.get("PAYMENT_PROCESSOR", "").strip() or "simulated"
    if value not in PROCESSORS:
        raise ProcessorChoiceError(
            f"PAYMENT_PROCESSOR={value!r} is not a processor make api runs: give simulated (the default) or stripe "
            "(the local Stripe emulator), e.g. PAYMENT_PROCESSOR=stripe make api"
        )
    return value


def parse_port(variable: str, value: str) -> int:
    """``value`` as a TCP port, or a PortError naming ``variable``, the allowed range and the fix."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        example = DEFAULT_API_PORT if "API" in variable else DEFAULT_STRIPE_PORT if "STRIPE" in variable else None
        raise PortError(
            f"{variable}={value!r} is not a TCP port: give digits 0-9 for a number from 1 to 65535, "
            f"for example {variable}={example or DEFAULT_WEB_PORT}"
        )
    return int(text)


def api_port(given: int | None, environ: Mapping[str, str]) -> tuple[int, str | None]:
    """The local API's port and, when the deprecated ``API_PORT`` was read or ignored, the notice to print."""
    legacy = environ.get("API_PORT", "").strip()
    local = environ.get("LOCAL_API_PORT", "").strip()
    if given is not None:
        return given, None
    if local:
        port = parse_port("LOCAL_API_PORT", local)
        if legacy and legacy != local:
            return port, (
                f"[api] notice: API_PORT={legacy} ignored for make api, LOCAL_API_PORT={local} is used "
                "(API_PORT is the instances' port on the stack)"
            )
        return port, None
    if legacy:
        port = parse_port("API_PORT", legacy)
        return port, (
            f"[api] notice: API_PORT for make api is deprecated and will be ignored in the next release "
            f"(API_PORT is the instances' port on the stack): use LOCAL_API_PORT={legacy}. "
            f"Serving on {port} this time."
        )
    return DEFAULT_API_PORT, None


def web_origins(web_port: int) -> str:
    """The origins ``make web`` serves the checkout from on ``web_port`` (``PAYMENT_CORS_ORIGINS``)."""
    return f"http://127.0.0.1:{web_port},http://localhost:{web_port}"


LOCAL_OPERATOR = "make-api"


def operator_token(env: Mapping[str, str], name: str) -> str:
    """A fresh one-hour token for the local operator ``local:<name>`` from the service's CLI, with ``env`` (its
    ``CREDENTIALS_DIRECTORY`` holds the HMAC secret the API verifies tokens with)."""
    created = run_cli(dict(env), "operator-token", "--local", name)
    if created.returncode != 0:
        raise RuntimeError(f"payment-api operator-token failed: {created.stderr[-2000:]}")
    return created.stdout.strip().splitlines()[-1].removeprefix("Operator key: ")


def pointer_path(port: int) -> Path:
    """Where a running ``make api`` on ``port`` says which credentials folder its API reads (for ``make
    operator-token``): a file of this user's in the temporary folder, readable by them only."""
    return Path(tempfile.gettempdir()) / f"tap-local-api-{os.getuid()}-{port}.json"


def _write_pointer(port: int, env: Mapping[str, str]) -> Path:
    path = pointer_path(port)
    values = {"CREDENTIALS_DIRECTORY": env["CREDENTIALS_DIRECTORY"], "PAYMENT_ENVIRONMENT": env["PAYMENT_ENVIRONMENT"]}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    return path


@contextmanager
def serving(
    port: int, label: str, processor: str = "simulated", stripe_port: int = 0, **env_extra: str
) -> Iterator[tuple[ServiceProcess, str]]:
    """``make api``'s API: a throw-away PostgreSQL 15, migrations, a token for the local operator ``local:<label>``,
    the API on 127.0.0.1:``port`` once ready; yields it and the token, then stops both and removes the folder (also on
    error). Raises RuntimeError when a step fails. ``make api-fuzz`` (tools/dev/api_fuzz.py) serves through it too.
    Every
    process started with ``env`` (the API, the reconciler) reads the database's one idempotency HMAC secret from the
    ``CREDENTIALS_DIRECTORY`` that ``LocalPostgres.service_env()`` names, never a secret of its own. With
    ``processor="stripe"`` the local Stripe emulator runs too, on ``stripe_port`` (@default 0: a free port; its URL
    is the env's ``PAYMENT_STRIPE_API_BASE``) and delivering its events to the API's webhook, and the same folder holds
    its ``stripe-secret`` credential."""
    database = LocalPostgres()
    service: ServiceProcess | None = None
    emulator: LocalStripe | None = None
    try:
        print(f"[api] PostgreSQL 15 in {database.folder} (TLS, owner and application roles)", flush=True)
        database.start()
        if processor == "stripe":
            emulator = LocalStripe(log_path=database.folder / "stripe.log", port=stripe_port)
            print(f"[api] Stripe emulator (localstripe, patched; log {emulator.log_path})", flush=True)
            env_extra = {"PAYMENT_STRIPE_API_BASE": emulator.start(), **env_extra, "PAYMENT_PROCESSOR": "stripe"}
            credential = stripe_credential()
            write_credentials(database.credentials, {STRIPE_SECRET: credential})
        env = database.service_env(PAYMENT_ENVIRONMENT="development", **env_extra)
        migrated = run_cli(env, "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrated.stderr[-2000:]}")
        key = operator_token(env, label)
        service = ServiceProcess(env, database.folder / "api.log", port=port).start()
        service.wait_ready()
        if emulator is not None:  # Stripe's events (3-D Secure's outcome) reach the API as a dashboard webhook would
            emulator.deliver_events(f"{service.url}{STRIPE_WEBHOOK_PATH}", json.loads(credential)["webhook_secret"])
        yield service, key
    finally:
        if service is not None:
            service.stop()
        if emulator is not None:
            emulator.stop()
        database.stop()


def _on_terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", help="port to serve on (default: LOCAL_API_PORT, else 8080)")
    parser.add_argument("--web-port", help="port `make web` serves on, admitted by CORS (default: WEB_PORT, else 5173)")
    args = parser.parse_args(argv)
    try:
        port, notice = api_port(parse_port("--port", args.port) if args.port else None, os.environ)
        web_port = parse_port("WEB_PORT", args.web_port or os.environ.get("WEB_PORT") or str(DEFAULT_WEB_PORT))
        processor = processor_choice(os.environ)
        stripe_port = (
            parse_port("LOCAL_STRIPE_PORT", os.environ.get("LOCAL_STRIPE_PORT") or str(DEFAULT_STRIPE_PORT))
            if processor == "stripe"
            else 0
        )
    except (PortError, ProcessorChoiceError) as error:
        print(f"[api] {error}", file=sys.stderr)
        return 2
    if notice:
        print(notice, file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _on_terminate)
    # The checkout that `make web` serves calls the API from this origin.
    origins = web_origins(web_port)
    try:
        with serving(port, LOCAL_OPERATOR, processor, stripe_port, PAYMENT_CORS_ORIGINS=origins) as (service, key):
            reconciler = ReconcilerProcess(service.env, service.log_path.with_name("reconcile.log")).start()
            pointer = _write_pointer(port, service.env)
            try:
                print(f"[api] JSON logs: {service.log_path}; Ctrl-C stops the API and PostgreSQL", flush=True)
                print(
                    f"[api] reconciler every 10 s (payments processing 10 s or more): {reconciler.log_path}", flush=True
                )
                print("[api] operator tokens last an hour: make operator-token prints a fresh one", flush=True)
                print(f"[api] CORS admits {origins.replace(',', ', ')} (make web WEB_PORT={web_port})", flush=True)
                print(f"API: {service.url}", flush=True)
                if processor == "stripe":
                    print(f"Stripe: {service.env['PAYMENT_STRIPE_API_BASE']}", flush=True)
                print(f"Operator key: {key}", flush=True)
                while service.process is not None and service.process.poll() is None and reconciler.running():
                    time.sleep(0.5)
                print(
                    f"[api] the {'reconciler' if not reconciler.running() else 'API'} process exited", file=sys.stderr
                )
                return 1
            finally:  # before serving stops the API and PostgreSQL
                pointer.unlink(missing_ok=True)
                reconciler.stop()
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:
        print(f"[api] {error}", file=sys.stderr)
        return 1
    finally:
        print("[api] stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
