"""``make bench-api``: throughput and latency of the payment API on loopback, against two ceilings.

Starts PostgreSQL 15 (tools/dev/local_api: TLS, owner/app roles), migrates, starts ``payment-api serve`` (its
default: one worker process per CPU; the service's default pool size), warms up, then for 16 and 64 connections runs
wrk for ``--duration`` seconds on
``POST /v1/payments`` (a unique ``Idempotency-Key`` per request, from a Lua script), ``GET /v1/payments/{id}``
(ids of payments the POST run created) and ``GET /health`` (the server stack's ceiling), and pgbench with custom
scripts holding the SQL statements a POST and a GET execute (the database's ceiling). Then the network-latency
scenario: a delay proxy (tools/bench/delay_proxy.py, ``LATENCY_MS`` each way) between a fresh server and
PostgreSQL, POST and GET at ``LATENCY_CONNECTIONS``, and pgbench through the same proxy (its own cost shows there).
After the measured POST runs, one more POST run at 16 connections with py-spy attached (tools/bench/profile.py):
where the API's CPU per POST goes, by layer. PostgreSQL's CPU is counted for the API's runs and for pgbench's.
Writes ``bench/api.json`` (everything) and ``docs/api_measurements.json`` (committed summary, the region
``api-bench`` of docs/payment-api.md).

Traffic goes to 127.0.0.1 only; every run is bounded by ``--duration`` (and a hard subprocess timeout), and
everything started is stopped on exit, failure or Ctrl-C. wrk is installed with apt-get when missing (the set-up has
no system-package step; ``tools.debian.ensure``).

    python -m tools.bench.api [--duration 10] [--workers N]
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
from tools.bench import profile
from tools.bench.api_results import GUIDE, WRK_MARKER, goals, parse_pgbench_log, parse_wrk, ratios, render_table
from tools.dev.local_api.postgres import APP, DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "api.json"
SUMMARY = ROOT / "docs" / "api_measurements.json"
CONNECTIONS = (16, 64)
WRK_THREADS = 2
LATENCY_MS = 1.0
"""Added each way between the API (and pgbench) and PostgreSQL in the latency scenario: RDS in the same region."""
LATENCY_CONNECTIONS = (1, 16)
"""1: a request's latency with nothing queued (the goals); 16: under load."""

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

# What one POST executes (payment_api/payments.py PaymentWork and RECORD_AND_RELEASE, processor.py), statement by
# statement: the key and the payment with the key's lock, the simulator's insert (its own pool in the service), the
# outcome with the stored answer and the lock's hand-over and release.
PGBENCH_POST = """\\set amount 1999
WITH hashed AS (SELECT md5(random()::text || clock_timestamp()::text) || md5(random()::text) AS key_hash), \
found AS (SELECT k.id, k.recovery_point FROM idempotency_keys AS k, hashed WHERE k.scope = 'POST /v1/payments' \
AND ((k.key_scheme = 'hmac-sha256' AND k.key_hash = ANY(ARRAY[hashed.key_hash])) OR (k.key_scheme = 'sha256' \
AND k.key_hash = hashed.key_hash)) ORDER BY k.id LIMIT 1), \
claimed AS (INSERT INTO idempotency_keys (scope, key_hash, key_scheme, fingerprint, recovery_point) \
SELECT 'POST /v1/payments', key_hash, 'hmac-sha256', repeat('f', 64), 'payment_created' FROM hashed \
WHERE NOT EXISTS (SELECT FROM found) ON CONFLICT (scope, key_hash) DO NOTHING RETURNING id), \
paid AS (INSERT INTO payments (id, status, amount, currency, payment_method, description, customer_email) \
SELECT 'pay_' || lpad(id::text, 22, '0'), 'processing', :amount, 'EUR', 'pm_card_visa', 'bench', NULL FROM claimed \
RETURNING id, status, amount, currency, amount_refunded, description, card_brand, card_last4, failure_code, \
created_at, payment_method) \
SELECT claimed.id AS key_id, pg_try_advisory_lock(claimed.id) AS locked FROM claimed, paid \\gset
INSERT INTO simulated_charges (payment_id, amount, currency, outcome, brand, last4, failure_code) \
VALUES ('pay_' || lpad(:key_id::text, 22, '0'), :amount, 'EUR', 'succeeded', 'visa', '4242', NULL) \
ON CONFLICT (payment_id) DO UPDATE SET calls = simulated_charges.calls + 1 RETURNING outcome, calls;
WITH paid AS (UPDATE payments SET status = 'succeeded', card_brand = 'visa', card_last4 = '4242', \
failure_code = NULL, processor_reference = NULL WHERE id = 'pay_' || lpad(:key_id::text, 22, '0') RETURNING id), \
answered AS (UPDATE idempotency_keys SET recovery_point = 'finished', response_status = 201, \
response_body = convert_to(repeat('x', 280), 'UTF8'), response_location = '/v1/payments/x', \
payment_id = 'pay_' || lpad(:key_id::text, 22, '0') WHERE id = :key_id RETURNING id) \
SELECT pg_advisory_unlock(fenced.id) FROM \
(SELECT answered.id, pg_advisory_xact_lock(answered.id) FROM paid, answered OFFSET 0) AS fenced;
"""
PGBENCH_GET = """\\set n random(:first, :last)
SELECT id, status, amount, currency, amount_refunded, description, card_brand, card_last4, failure_code, \
created_at, payment_method FROM payments WHERE id = 'pay_' || lpad(:n::text, 22, '0');
"""


def _on_terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Server(ServiceProcess):
    """``payment-api serve --workers <workers>``: what the instances run (its own process group: ServiceProcess)."""

    def __init__(self, env: dict[str, str], log: Path, workers: int) -> None:
        super().__init__(env, log)
        self.workers = workers

    def command(self) -> list[str]:
        return [*super().command(), "--workers", str(self.workers)]


class Proxy:
    """tools/bench/delay_proxy.py as a process of its own (its CPU is counted apart), ``LATENCY_MS`` each way to
    PostgreSQL's port."""

    def __init__(self, target_port: int, log: Path) -> None:
        self.target_port, self.log = target_port, log
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> int:
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped by stop()
            [
                sys.executable,
                "-m",
                "tools.bench.delay_proxy",
                "--target-port",
                str(self.target_port),
                "--delay-ms",
                f"{LATENCY_MS:g}",
            ],
            stdout=subprocess.PIPE,
            stderr=self.log.open("a", encoding="utf-8"),
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            self.stop()
            raise RuntimeError(f"the delay proxy did not start: {self.log}")
        self.port = int(line[1])
        return self.port

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


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
        self.proxy: Proxy | None = None
        self.cpu: dict[str, Any] = {}

    def _pids(self) -> dict[str, list[int]]:
        postmaster = int((self.database.data / "postmaster.pid").read_text(encoding="ascii").split()[0])
        assert self.server is not None and self.server.process is not None
        pids = {"uvicorn": _tree(self.server.process.pid), "postgres": _tree(postmaster)}
        if self.proxy is not None and self.proxy.process is not None:
            pids["proxy"] = [self.proxy.process.pid]
        return pids

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

    def pgbench_run(
        self, name: str, script: str, connections: int, variables: dict[str, str], port: int | None = None
    ) -> dict[str, Any]:
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
            str(port or self.database.port),
            "-U",
            APP,
            "-n",
            "-M",
            "prepared",
            "-c",
            str(connections),
            "-j",
            str(min(WRK_THREADS, connections)),
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
        postgres = self._pids()["postgres"]
        before = cpu_seconds(postgres)
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=folder, timeout=self.args.duration + 120, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(f"pgbench {name} failed ({done.returncode}): {done.stderr[-2000:]}")
        used = round(cpu_seconds(postgres) - before, 2)
        lines = [line for log in sorted(folder.glob("log.*")) for line in log.read_text().splitlines()]
        result = parse_pgbench_log(lines, self.args.duration)
        # PostgreSQL's CPU for the same statements without the API: the API's rows compare with it.
        result["cpu_s"] = {"postgres": used}
        result["cpu_ms_per_request"] = {"postgres": round(1000 * used / max(result["transactions"], 1), 3)}
        print(
            f"[bench-api] pgbench {name} c={connections}: {result['tps']:.0f}/s p50 {result['p50_ms']} ms "
            f"p99 {result['p99_ms']} ms",
            flush=True,
        )
        return result

    def profile_run(self, duration: float) -> dict[str, Any]:
        """POST at 16 connections with py-spy attached (tools/bench/profile.py), after the measured runs so that its
        sampling pauses touch no figure of the table: each layer's share of the samples, and of this run's API CPU
        per POST."""
        assert self.server is not None and self.server.process is not None
        output = self.scratch / "profile.txt"
        spy = profile.start(self.server.process.pid, duration + 1, output)
        time.sleep(0.5)  # attached before the load starts
        result = self.wrk_run("profile-post", POST_LUA, 16, duration, "profile")
        summary = profile.finish(spy, output, timeout=duration + 60)
        cpu_ms = result["cpu_ms_per_request"]["uvicorn"]
        for layer in summary["layers"]:
            layer["ms_per_request"] = round(layer["share"] * cpu_ms, 3)
        summary["run"] = {"connections": 16, "rps": result["rps"], "api_cpu_ms_per_request": cpu_ms}
        print(
            f"[bench-api] profile: {summary['samples']} samples; "
            + ", ".join(f"{layer['layer'].split(' (')[0]} {layer['share']:.0%}" for layer in summary["layers"][:4]),
            flush=True,
        )
        return summary

    def start(self) -> None:
        started = time.monotonic()
        self.database.start()
        env = self.database.service_env(PAYMENT_ENVIRONMENT="test")
        migrated = run_cli(env, "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrated.stderr[-2000:]}")
        self.server = Server(env, self.scratch / "api.log", self.args.workers)
        self.server.start(timeout=60)
        self.server.wait_ready(timeout=60)
        print(
            f"[bench-api] PostgreSQL and {self.args.workers} worker(s) of payment-api serve up in "
            f"{time.monotonic() - started:.1f} s; API {self.server.url}",
            flush=True,
        )

    def start_behind_proxy(self) -> int:
        """The latency scenario's set-up: the server stopped, the delay proxy started before PostgreSQL, a fresh
        server reaching PostgreSQL through it. Returns the proxy's port (pgbench's too)."""
        assert self.server is not None
        self.server.stop()
        self.proxy = Proxy(self.database.port, self.scratch / "proxy.log")
        port = self.proxy.start()
        env = self.database.service_env(PAYMENT_ENVIRONMENT="test", PAYMENT_DB_PORT=str(port))
        self.server = Server(env, self.scratch / "api-latency.log", self.args.workers)
        self.server.start(timeout=60)
        self.server.wait_ready(timeout=60)
        print(f"[bench-api] latency scenario: {LATENCY_MS:g} ms each way through the proxy on {port}", flush=True)
        return port

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
        if self.proxy is not None:
            self.proxy.stop()
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
    profiled = bench.profile_run(duration)
    ids = bench.payment_ids()
    for connections in CONNECTIONS:
        api["get"][str(connections)] = bench.wrk_run("get", GET_LUA, connections, duration, str(ids))
        api["health"][str(connections)] = bench.wrk_run("health", HEALTH_LUA, connections, duration)
    pgbench: dict[str, Any] = {"post": {}, "get": {}}
    for connections in CONNECTIONS:
        pgbench["post"][str(connections)] = bench.pgbench_run("post", PGBENCH_POST, connections, {})
    for connections in CONNECTIONS:
        pgbench["get"][str(connections)] = bench.pgbench_run("get", PGBENCH_GET, connections, bench.pgbench_payments())
    return {"api": api, "pgbench": pgbench, "latency": run_latency(bench, duration, ids), "profile": profiled}


def run_latency(bench: Bench, duration: float, ids: Path) -> dict[str, Any]:
    """The network-latency scenario: POST and GET, and pgbench's same statements, through the delay proxy."""
    port = bench.start_behind_proxy()
    bench.wrk_run("warmup-latency-post", POST_LUA, 16, min(3.0, duration), "warmup-latency")
    api: dict[str, Any] = {"post": {}, "get": {}}
    pgbench: dict[str, Any] = {"post": {}, "get": {}}
    for connections in LATENCY_CONNECTIONS:
        key = str(connections)
        api["post"][key] = bench.wrk_run("latency-post", POST_LUA, connections, duration, f"l{connections}")
        api["get"][key] = bench.wrk_run("latency-get", GET_LUA, connections, duration, str(ids))
        pgbench["post"][key] = bench.pgbench_run("latency-post", PGBENCH_POST, connections, {}, port)
        pgbench["get"][key] = bench.pgbench_run("latency-get", PGBENCH_GET, connections, bench.pgbench_payments(), port)
    return {"delay_ms_each_way": LATENCY_MS, "api": api, "pgbench": pgbench}


def _document(args: argparse.Namespace, measured: dict[str, Any], started: str) -> dict[str, Any]:
    ratio = ratios(measured["api"], measured["api"]["health"], measured["pgbench"])
    latency = measured["latency"]
    latency["ratios"] = ratios(latency["api"], {}, latency["pgbench"])
    return {
        "started_utc": started,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {
            "workers": args.workers,
            "server": "payment-api serve (payment_api.serve: one IPPROTO_TCP socket, forked uvicorn workers)",
            "pool_max": int(os.environ.get("PAYMENT_DB_POOL_MAX", "10")),
            "duration_s": args.duration,
            "connections": list(CONNECTIONS),
            "wrk_threads": WRK_THREADS,
            "pgbench": "-M prepared, TLS, the application role, same connection counts",
        },
        **measured,
        "ratios": ratio,
        "goals": goals(measured["api"], ratio, latency["api"]),
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
    parser.add_argument(
        "--workers", type=int, default=len(os.sched_getaffinity(0)), help="server worker processes (default: CPUs)"
    )
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
