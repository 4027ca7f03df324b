"""``payment-api`` (or ``python -m payment_api``): serve, migrate, reconcile (``payment_api.reconcile``),
purge-idempotency-keys, operator-token (a local operator's token, refused in production),
provision-roles (the migration host's step, as root, with the RDS master
credential: ``payment_api.provision``).

Every command reads the environment of docs/payment-api.md; a configuration the service may not run with
(e.g. production without ``PAYMENT_PROCESSOR``) exits with status 2 and the reason, before anything starts.
"""

from __future__ import annotations

import argparse
import json
import logging.config
import os
import re
import signal
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from payment_api.config import ConfigError, Settings, load_settings
from payment_api.logs import LOG_CONFIG


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from payment_api.app import create_app  # pylint: disable=import-outside-toplevel
    from payment_api.serve import ServeOptions, serve  # pylint: disable=import-outside-toplevel

    try:
        create_app(settings)  # refused here, before any worker starts; each worker makes its own
    except ValueError as error:  # an unknown PAYMENT_PROCESSOR, a missing HMAC secret (ConfigError)
        print(f"payment-api: configuration refused: {error}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"payment-api: serve --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    options = ServeOptions(host=args.host, port=args.port, workers=args.workers, log_config=LOG_CONFIG)
    return serve(lambda: create_app(settings), options)


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from payment_api.migrate import upgrade  # pylint: disable=import-outside-toplevel

    upgrade(settings.owner_database, settings.database.user)
    logging.getLogger("payment_api.migrate").info("schema at head")
    return 0


def _purge(settings: Settings, _args: argparse.Namespace) -> int:
    from payment_api import idempotency  # pylint: disable=import-outside-toplevel
    from payment_api.db import make_pool  # pylint: disable=import-outside-toplevel

    pool = make_pool(settings)
    pool.open(wait=True, timeout=10)
    try:
        deleted = idempotency.purge(pool, settings.retention_hours)
        legacy = idempotency.legacy_keys(pool)
    finally:
        pool.close()
    # legacy_keys: keys still stored under their bare SHA-256 (migration 0004); at 0 the legacy lookup finds nothing.
    logging.getLogger("payment_api.purge").info("purged", extra={"fields": {"deleted": deleted, "legacy_keys": legacy}})
    return 0


DURATION = re.compile(r"(?P<number>[0-9]{1,6})(?P<unit>ms|s|m)?")
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0}


def duration(text: str) -> float:
    """``60s``, ``2m``, ``500ms`` or plain seconds (``60``) as seconds; argparse's type for the reconciler."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: give a whole number with an optional unit ms, s or m, e.g. 60s"
        )
    return int(match["number"]) * UNIT_SECONDS[match["unit"] or "s"]


def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    import psycopg  # pylint: disable=import-outside-toplevel
    from psycopg_pool import PoolTimeout  # pylint: disable=import-outside-toplevel

    from payment_api import reconcile  # pylint: disable=import-outside-toplevel
    from payment_api.db import make_pool  # pylint: disable=import-outside-toplevel
    from payment_api.processors import make_processor  # pylint: disable=import-outside-toplevel

    try:
        processor = make_processor(settings)
    except ValueError as error:  # an unknown PAYMENT_PROCESSOR, a missing HMAC secret (ConfigError)
        print(f"payment-api: configuration refused: {error}", file=sys.stderr)
        return 2
    if args.every_seconds < 1:
        print(f"payment-api: reconcile --every must be at least 1s, got {args.every_seconds}s", file=sys.stderr)
        return 2
    timeout = timedelta(minutes=settings.requires_action_timeout_minutes)
    pool = make_pool(settings)
    pool.open(wait=False)
    processor.open()
    log = logging.getLogger("payment_api.reconcile")
    try:
        if args.once:
            try:
                result = reconcile.reconcile_once(pool, processor, args.grace, requires_action_timeout=timeout)
            except (psycopg.Error, PoolTimeout) as error:  # the unit fails, and the next timer run tries again
                print(f"payment-api: reconcile: the database is unavailable ({type(error).__name__})", file=sys.stderr)
                return 1
            log.info("reconcile pass", extra={"fields": vars(result)})
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _signum, _frame: stop.set())
        log.info("reconciler started", extra={"fields": {"every_s": args.every_seconds, "grace_s": args.grace}})
        reconcile.reconcile_every(
            pool, processor, args.grace, args.every_seconds, stop, requires_action_timeout=timeout
        )
        return 0
    finally:
        processor.close()
        pool.close()


def _operator_token(settings: Settings, args: argparse.Namespace) -> int:
    """A token for the local operator ``local:<name>`` (``make api``, ``make operator-token``, the tests): minted
    from the fleet's HMAC secret, refused in production, where operators prove their AWS identity instead."""
    from payment_api import operators  # pylint: disable=import-outside-toplevel

    if settings.environment == "production":
        print(
            "payment-api: operator-token --local is refused in production: an operator gets a token from their own "
            "AWS session of the operator role (python -m tools.operator_token --api <URL>; docs/operating.md)",
            file=sys.stderr,
        )
        return 2
    try:
        operator = operators.local_operator(args.local)
        secrets = settings.idempotency_secrets()
    except ValueError as error:  # a name that cannot name an operator, no HMAC secret (ConfigError)
        print(f"payment-api: operator-token: {error}", file=sys.stderr)
        return 2
    print(f"Operator key: {operators.issue(operator, secrets).token}", flush=True)
    return 0


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the file's owner only (created 0600, then moved into place)."""
    staging = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    staging.replace(path)


def _provision_roles(settings: Settings, args: argparse.Namespace) -> int:
    from payment_api import provision  # pylint: disable=import-outside-toplevel

    user, password = os.environ.get("PAYMENT_DB_MASTER_USER", ""), os.environ.get("PAYMENT_DB_MASTER_PASSWORD", "")
    if not user or not password:
        print(
            "payment-api: provision-roles needs PAYMENT_DB_MASTER_USER and PAYMENT_DB_MASTER_PASSWORD (the RDS "
            "master secret, read by the migration host's root)",
            file=sys.stderr,
        )
        return 2
    master = replace(settings.database, user=user, password=password)
    try:
        suffix = provision.login_suffix(args.instance_id)
    except ValueError as error:
        print(f"payment-api: {error}", file=sys.stderr)
        return 2
    try:
        credentials = provision.provision(master, suffix, provision.next_app_login(args.current_app_login))
    except provision.AuditUnavailable as error:
        print(f"payment-api: provision-roles: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # --current-app-login not one of provision.APP_LOGINS
        print(f"payment-api: provision-roles: {error}", file=sys.stderr)
        return 2
    (migrate_user, migrate_password), (app_user, app_password) = credentials["migrate"], credentials["app"]
    _write_private(
        args.migrate_env,
        provision.env_file_text(
            {
                "PAYMENT_DB_OWNER_USER": migrate_user,
                "PAYMENT_DB_OWNER_PASSWORD": migrate_password,
                "PAYMENT_DB_USER": provision.APP_GROUP,
            }
        ),
    )
    _write_private(args.app_credential, json.dumps({"username": app_user, "password": app_password}))
    logging.getLogger("payment_api.provision").info(
        "roles provisioned", extra={"fields": {"migrate_user": migrate_user, "app_user": app_user}}
    )
    return 0


def _add_provision_roles(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``provision-roles`` command's arguments."""
    roles = commands.add_parser(
        "provision-roles", help="migration host (root, master credential): its migrate login, the next app login"
    )
    roles.add_argument("--instance-id", required=True, help="names the host's migrate login (EC2 instance id)")
    roles.add_argument("--migrate-env", type=Path, required=True, help="credential file of the migrate unit")
    roles.add_argument(
        "--current-app-login",
        required=True,
        metavar="LOGIN",
        help="the application login the app-login secret names now (empty before the first release): the other one "
        "gets the new password",
    )
    roles.add_argument(
        "--app-credential",
        type=Path,
        required=True,
        help='file for {"username", "password"} of that login (0600), for the app-login secret',
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="payment-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API (uvicorn workers: payment_api.serve)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: one per CPU this process may use)"
    )
    commands.add_parser("migrate", help="upgrade the schema to head as the owner role (advisory-locked)")
    commands.add_parser(
        "purge-idempotency-keys", help="delete idempotency keys older than the retention (unresolved ones are kept)"
    )
    reconciler = commands.add_parser(
        "reconcile", help="finish payments left processing and refunds left pending (the processor's outcome)"
    )
    reconciler.add_argument(
        "--every", dest="every_seconds", type=duration, default=60.0, help="pass interval, e.g. 60s (default 60s)"
    )
    reconciler.add_argument("--once", action="store_true", help="one pass, then exit (the instances' timer unit)")
    reconciler.add_argument(
        "--grace", type=duration, default=60.0, help="only what is unresolved for longer than this (default 60s)"
    )
    token = commands.add_parser(
        "operator-token", help="a one-hour token for a local operator (not in production); prints it once"
    )
    token.add_argument(
        "--local", required=True, metavar="NAME", help="the operator's name: refunds record local:NAME (created_by)"
    )
    _add_provision_roles(commands)
    args = parser.parse_args(argv)
    if args.command == "serve" and args.workers is None:
        from payment_api.serve import default_workers  # pylint: disable=import-outside-toplevel

        args.workers = default_workers()
    logging.config.dictConfig(LOG_CONFIG)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"payment-api: configuration refused: {error}", file=sys.stderr)
        return 2
    handlers = {
        "serve": _serve,
        "migrate": _migrate,
        "purge-idempotency-keys": _purge,
        "reconcile": _reconcile,
        "operator-token": _operator_token,
        "provision-roles": _provision_roles,
    }
    return handlers[args.command](settings, args)
