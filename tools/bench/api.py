"""``make bench-api``: throughput and latency of the payment API on loopback, against two ceilings.

Starts PostgreSQL 15 (tools/dev/local_api: TLS, owner/app roles), migrates, starts uvicorn (``WORKERS`` processes,
the service's default pool size), warms up, then for 16 and 64 connections runs wrk for ``--duration`` seconds on
``POST /v1/payments`` (a unique ``Idempotency-Key`` per request, from a Lua script), ``GET /v1/payments/{id}``
(ids of payments the POST run created) and ``GET /health`` (the server stack's ceiling), and pgbench with custom
scripts holding the SQL statements a POST and a GET execute (the database's ceiling). Writes ``bench/api.json``
(everything) and ``docs/api_measurements.json`` (committed summary, the region ``api-bench`` of docs/payment-api.md).

Traffic goes to 127.0.0.1 only; every run is bounded by ``--duration`` (and a hard subprocess timeout), and
everything started is stopped on exit, failure or Ctrl-C. wrk is installed with apt-get when missing (the set-up has
no system-package step; ``tools.debian.ensure``).

    python -m tools.bench.api [--duration 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from tools import debian
from tools.bench.api_results import GUIDE, WRK_MARKER, goals, parse_pgbench_log, parse_wrk, ratios, render_table
from tools.dev.local_api.postgres import APP, DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "api.json"
SUMMARY = ROOT / "docs" / "api_measurements.json"
CONNECTIONS = (16, 64)
WRK_THREADS = 2
# One worker: what `payment-api serve` runs in production (uvicorn.run with one process). Two workers on these two
# cores were measured and are worse: uvicorn's multi-process mode binds the listening socket itself with proto 0,
# so asyncio does not set TCP_NODELAY on accepted connections, and every response (headers and body are two
# writes) waits for the client's delayed ACK: /health fell from ~2,000/s at p50 6 ms to ~330/s at p50 44 ms.
DEFAULT_WORKERS = 1

WRK_DONE_LUA = (
    """
done = function(summary, latency, requests)
  io.write(string.format('%s{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    '"""
    + WRK_MARKER
    + """', summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
"""
)
POST_LUA = (
    """
local counter, prefix, threads = 0, "", 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function(args) prefix = args[1] .. "-" .. tostring(tid) .. "-" end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/payments", {["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. counter},
    '{"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa", "description": "bench"}')
end
"""
    + WRK_DONE_LUA
)
GET_LUA = (
    """
local ids, i = {}, 0
init = function(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  i = math.random(#ids)
end
request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/v1/payments/" .. ids[i])
end
"""
    + WRK_DONE_LUA
)
HEALTH_LUA = 'request = function() return wrk.format("GET", "/health") end\n' + WRK_DONE_LUA

# What one POST executes (payment_api/idempotency.py, payments.py, processor.py, db.py), statement by statement:
# the pool's check and reset, the claim with its advisory lock, the re-read, the payment insert, the simulator's
# insert (its own pool in the service), the final update with the stored answer, the unlock.
PGBENCH_POST = """\\set amount 1999
SELECT 1;
BEGIN;
INSERT INTO idempotency_keys (scope, key_hash, fingerprint, recovery_point) VALUES ('POST /v1/payments', \
md5(random()::text || clock_timestamp()::text) || md5(random()::text), repeat('f', 64), 'started') \
ON CONFLICT (scope, key_hash) DO NOTHING RETURNING id AS key_id \\gset
SELECT pg_try_advisory_lock(:key_id);
COMMIT;
SELECT id, fingerprint, recovery_point, payment_id FROM idempotency_keys WHERE id = :key_id;
BEGIN;
INSERT INTO payments (id, status, amount, currency, payment_method, description, customer_email) \
VALUES ('pay_' || lpad(:key_id::text, 22, '0'), 'processing', :amount, 'EUR', 'pm_card_visa', 'bench', NULL);
UPDATE idempotency_keys SET recovery_point = 'payment_created', payment_id = 'pay_' || lpad(:key_id::text, 22, '0') \
WHERE id = :key_id;
COMMIT;
SELECT id, status, amount, currency FROM payments WHERE id = 'pay_' || lpad(:key_id::text, 22, '0');
SELECT 1;
INSERT INTO simulated_charges (payment_id, amount, currency, outcome, brand, last4, failure_code) \
VALUES ('pay_' || lpad(:key_id::text, 22, '0'), :amount, 'EUR', 'succeeded', 'visa', '4242', NULL) \
ON CONFLICT (payment_id) DO UPDATE SET calls = simulated_charges.calls + 1 RETURNING outcome, calls;
BEGIN;
UPDATE payments SET status = 'succeeded', card_brand = 'visa', card_last4 = '4242', failure_code = NULL \
WHERE id = 'pay_' || lpad(:key_id::text, 22, '0');
SELECT id, status, amount, currency FROM payments WHERE id = 'pay_' || lpad(:key_id::text, 22, '0');
UPDATE idempotency_keys SET recovery_point = 'finished', response_status = 201, \
response_body = convert_to(repeat('x', 280), 'UTF8'), response_location = '/v1/payments/x' WHERE id = :key_id;
COMMIT;
SELECT pg_advisory_unlock(:key_id);
SELECT pg_advisory_unlock_all();
"""
PGBENCH_GET = """\\set n random(:first, :last)
SELECT 1;
SELECT id, status, amount, currency, amount_refunded, description, card_brand, card_last4, failure_code, \
created_at, payment_method FROM payments WHERE id = 'pay_' || lpad(:n::text, 22, '0');
SELECT pg_advisory_unlock_all();
"""


def _on_terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Server(ServiceProcess):
    """uvicorn with ``workers`` processes serving the app factory, in its own process group."""

    own_process_group = True

    def __init__(self, env: dict[str, str], folder: Path, workers: int) -> None:
        super().__init__(env, folder / "api.log")
        self.folder, self.workers = folder, workers

    def command(self) -> list[str]:
        from payment_api.logs import LOG_CONFIG  # pylint: disable=import-outside-toplevel

        config = json.loads(json.dumps(LOG_CONFIG, default=lambda _: "payment_api.logs.JsonFormatter"))
        (self.folder / "log.json").write_text(json.dumps(config), encoding="utf-8")
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "payment_api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--log-config",
            str(self.folder / "log.json"),
            "--timeout-graceful-shutdown",
            "5",
        ]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` and of their reaped children (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / ticks


def _tree(root: int) -> list[int]:
    """``root`` and its direct children."""
    found = [root]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == root:
            found.append(int(stat.parent.name))
    return found


class Bench:
    """One run: the database, the server, the scenarios."""

    def __init__(self, args: argparse.Namespace, wrk: str) -> None:
        self.args, self.wrk = args, wrk
        self.database = LocalPostgres()
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-api-"))
        self.server: Server | None = None
        self.cpu: dict[str, Any] = {}

    def _pids(self) -> dict[str, list[int]]:
        postmaster = int((self.database.data / "postmaster.pid").read_text(encoding="ascii").split()[0])
        assert self.server is not None and self.server.process is not None
        return {"uvicorn": _tree(self.server.process.pid), "postgres": _tree(postmaster)}

    def wrk_run(self, name: str, script: str, connections: int, duration: float, arg: str = "") -> dict[str, Any]:
        assert self.server is not None
        path = self.scratch / f"{name}.lua"
        path.write_text(script, encoding="utf-8")
        pids = self._pids()
        before = {key: cpu_seconds(value) for key, value in pids.items()}
        command = [
            self.wrk,
            "-t",
            str(min(WRK_THREADS, connections)),
            "-c",
            str(connections),
            "-d",
            f"{duration:g}s",
            "--timeout",
            "5s",
            "-s",
            str(path),
            self.server.url,
            "--",
            arg,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=duration + 60)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
        result = parse_wrk(done.stdout)
        used = {key: round(cpu_seconds(value) - before[key], 2) for key, value in pids.items()}
        result["cpu_s"] = used
        result["cpu_ms_per_request"] = {
            key: round(1000 * value / max(result["requests"], 1), 3) for key, value in used.items()
        }
        print(
            f"[bench-api] {name} c={connections}: {result['rps']:.0f}/s p50 {result['p50_ms']} ms "
            f"p99 {result['p99_ms']} ms errors {result['non_2xx'] + result['socket_errors']}",
            flush=True,
        )
        return result

    def pgbench_run(self, name: str, script: str, connections: int, variables: dict[str, str]) -> dict[str, Any]:
        folder = self.scratch / f"pgbench-{name}-{connections}"
        folder.mkdir()
        (folder / "script.sql").write_text(script, encoding="utf-8")
        env = {
            **os.environ,
            "PGPASSWORD": self.database.passwords[APP],
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": str(self.database.ca_file),
        }
        command = [
            _pgbench(),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.database.port),
            "-U",
            APP,
            "-n",
            "-M",
            "prepared",
            "-c",
            str(connections),
            "-j",
            str(WRK_THREADS),
            "-T",
            f"{self.args.duration:g}",
            "-l",
            "--log-prefix",
            str(folder / "log"),
            "-f",
            str(folder / "script.sql"),
            *[f"-D{key}={value}" for key, value in variables.items()],
            DATABASE,
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=folder, timeout=self.args.duration + 120, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(f"pgbench {name} failed ({done.returncode}): {done.stderr[-2000:]}")
        lines = [line for log in sorted(folder.glob("log.*")) for line in log.read_text().splitlines()]
        result = parse_pgbench_log(lines, self.args.duration)
        print(
            f"[bench-api] pgbench {name} c={connections}: {result['tps']:.0f}/s p50 {result['p50_ms']} ms "
            f"p99 {result['p99_ms']} ms",
            flush=True,
        )
        return result

    def start(self) -> None:
        started = time.monotonic()
        self.database.start()
        env = self.database.service_env(PAYMENT_ENVIRONMENT="test")
        migrated = run_cli(env, "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrated.stderr[-2000:]}")
        self.server = Server(env, self.scratch, self.args.workers)
        self.server.start(timeout=60)
        self.server.wait_ready(timeout=60)
        print(
            f"[bench-api] PostgreSQL and {self.args.workers} uvicorn worker(s) up in "
            f"{time.monotonic() - started:.1f} s; API {self.server.url}",
            flush=True,
        )

    def payment_ids(self) -> Path:
        with self.database.superuser(DATABASE) as conn:
            rows = conn.execute("SELECT id FROM payments WHERE status = 'succeeded' LIMIT 20000").fetchall()
        path = self.scratch / "ids.txt"
        path.write_text("".join(f"{row[0]}\n" for row in rows), encoding="ascii")
        return path

    def pgbench_payments(self) -> dict[str, str]:
        """The key-id range of the payments pgbench's POST script created (their ids are the padded key id)."""
        with self.database.superuser(DATABASE) as conn:
            row = conn.execute(
                "SELECT min(id), max(id) FROM idempotency_keys WHERE payment_id ~ '^pay_0[0-9]{21}$'"
            ).fetchone()
        if row is None or row[0] is None:
            raise RuntimeError("pgbench's POST script created no payment")
        return {"first": str(row[0]), "last": str(row[1])}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.database.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _pgbench() -> str:
    bindir = subprocess.run(
        ["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()
    return str(Path(bindir) / "pgbench")


def run_scenarios(bench: Bench, duration: float) -> dict[str, Any]:
    """Warm-up, then every scenario at every connection count."""
    bench.wrk_run("warmup-post", POST_LUA, 16, min(3.0, duration), "warmup")
    bench.wrk_run("warmup-health", HEALTH_LUA, 16, min(2.0, duration))
    api: dict[str, Any] = {"post": {}, "get": {}, "health": {}}
    for connections in CONNECTIONS:
        api["post"][str(connections)] = bench.wrk_run("post", POST_LUA, connections, duration, f"c{connections}")
    ids = bench.payment_ids()
    for connections in CONNECTIONS:
        api["get"][str(connections)] = bench.wrk_run("get", GET_LUA, connections, duration, str(ids))
        api["health"][str(connections)] = bench.wrk_run("health", HEALTH_LUA, connections, duration)
    pgbench: dict[str, Any] = {"post": {}, "get": {}}
    for connections in CONNECTIONS:
        pgbench["post"][str(connections)] = bench.pgbench_run("post", PGBENCH_POST, connections, {})
    for connections in CONNECTIONS:
        pgbench["get"][str(connections)] = bench.pgbench_run("get", PGBENCH_GET, connections, bench.pgbench_payments())
    return {"api": api, "pgbench": pgbench}


def _document(args: argparse.Namespace, measured: dict[str, Any], started: str) -> dict[str, Any]:
    ratio = ratios(measured["api"], measured["api"]["health"], measured["pgbench"])
    return {
        "started_utc": started,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {
            "workers": args.workers,
            "pool_max": int(os.environ.get("PAYMENT_DB_POOL_MAX", "10")),
            "duration_s": args.duration,
            "connections": list(CONNECTIONS),
            "wrk_threads": WRK_THREADS,
            "pgbench": "-M prepared, TLS, the application role, same connection counts",
        },
        **measured,
        "ratios": ratio,
        "goals": goals(measured["api"], ratio),
    }


def write(document: dict[str, Any]) -> None:
    """bench/api.json (everything), docs/api_measurements.json (committed; CPU detail included), the guide's table."""
    RESULTS.parent.mkdir(exist_ok=True)
    text = json.dumps(document, indent=2) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    SUMMARY.write_text(text, encoding="utf-8")
    from tools.docs.generate import fill_region  # pylint: disable=import-outside-toplevel

    guide = ROOT / GUIDE
    guide.write_text(
        fill_region(guide.read_text(encoding="utf-8"), "api-bench", render_table(document), path=GUIDE),
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario (at most 60)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    args = parser.parse_args(argv)
    args.duration = min(max(args.duration, 1.0), 60.0)
    signal.signal(signal.SIGTERM, _on_terminate)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    bench = Bench(args, debian.ensure("wrk", "wrk"))
    try:
        bench.start()
        document = _document(args, run_scenarios(bench, args.duration), started)
    except KeyboardInterrupt:
        print("[bench-api] interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.SubprocessError, ValueError) as error:
        print(f"[bench-api] {error}", file=sys.stderr)
        return 1
    finally:
        bench.stop()
    write(document)
    print(
        f"[bench-api] wrote {RESULTS.relative_to(ROOT)} and {SUMMARY.relative_to(ROOT)}; goals: "
        + ", ".join(f"{name} {'met' if entry['met'] else 'NOT met'}" for name, entry in document["goals"].items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
