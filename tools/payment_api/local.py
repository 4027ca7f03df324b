"""``make api``: PostgreSQL 15 in a temporary folder, migrations, an operator key, the API on 127.0.0.1:8080.

Prints ``API: http://127.0.0.1:8080`` and ``Operator key: <key>`` once ``/ready`` answers; Ctrl-C stops the API
and PostgreSQL and removes the folder.

    python -m tools.payment_api.local [--port 8080]
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from tools.payment_api.postgres import LocalPostgres
from tools.payment_api.process import ServiceProcess, run_cli


def _operator_key(env: dict[str, str]) -> str:
    created = run_cli(env, "create-operator-key", "--label", "make api")
    if created.returncode != 0:
        raise RuntimeError(f"create-operator-key failed: {created.stderr[-2000:]}")
    return created.stdout.strip().splitlines()[-1].removeprefix("Operator key: ")


def _on_terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_terminate)
    database = LocalPostgres()
    service: ServiceProcess | None = None
    try:
        print(f"[api] PostgreSQL 15 in {database.folder} (TLS, owner and application roles)", flush=True)
        database.start()
        # The checkout that `make web` serves calls the API from this origin.
        env = database.service_env(PAYMENT_ENVIRONMENT="development",
                                   PAYMENT_CORS_ORIGINS="http://127.0.0.1:5173,http://localhost:5173")
        migrated = run_cli(env, "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrated.stderr[-2000:]}")
        key = _operator_key(env)
        service = ServiceProcess(env, database.folder / "api.log", port=args.port).start()
        service.wait_ready()
        print(f"[api] JSON logs: {service.log_path}; Ctrl-C stops the API and PostgreSQL", flush=True)
        print(f"API: {service.url}", flush=True)
        print(f"Operator key: {key}", flush=True)
        while service.process is not None and service.process.poll() is None:
            time.sleep(0.5)
        print("[api] the API process exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:
        print(f"[api] {error}", file=sys.stderr)
        return 1
    finally:
        if service is not None:
            service.stop()
        database.stop()
        print("[api] stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
