"""The pure half of ``make bench-api``: parsing wrk and pgbench output, the ratios, the goals, the guide's table.

Kept apart from the runner (tools/bench/api.py) so that tests/unit/tools/test_bench_api.py checks it in
milliseconds, without a database or a load generator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

GOAL_POST_SHARE_OF_PGBENCH = 0.50
GOAL_P99_MS_AT_16 = 50.0
GOAL_POST_API_CPU_MS = 1.5
"""The API's CPU per POST at 16 connections (every worker process together)."""
GOAL_LATENCY_POST_P50_MS = 10.0
GOAL_LATENCY_GET_P50_MS = 3.0
LATENCY_GOAL_CONNECTIONS = "1"
"""The latency scenario's goals are read at 1 connection: a request's own latency, round trips included, with
nothing queued ahead of it (at 16 connections the table shows the queueing too)."""
# wrk's done() hook prints this prefix, then one JSON object (see WRK_DONE_LUA in tools/bench/api.py).
WRK_MARKER = "BENCH_JSON "
# The guide whose region ``api-bench`` shows the committed summary.
GUIDE = "docs/payment-api.md"


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests per second, p50/p99 (ms) and error counts from wrk's output (the JSON line our Lua prints)."""
    lines = [line for line in output.splitlines() if line.startswith(WRK_MARKER)]
    if len(lines) != 1:
        raise ValueError(f"expected one {WRK_MARKER.strip()} line in wrk's output, found {len(lines)}")
    raw = json.loads(lines[0][len(WRK_MARKER) :])
    duration_s = raw["duration_us"] / 1e6
    errors = raw["errors"]
    return {
        "requests": raw["requests"],
        "duration_s": round(duration_s, 3),
        "rps": round(raw["requests"] / duration_s, 1) if duration_s else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"],
        "timeouts": errors["timeout"],
    }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (``share`` in 0..1); 0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def parse_pgbench_log(lines: Iterable[str], duration_s: float) -> dict[str, Any]:
    """Transactions per second and p50/p99 (ms) from pgbench's per-transaction log (``-l``): each line is
    ``client transaction latency_us script epoch_s epoch_us`` (a skipped or failed one has a non-number)."""
    latencies = []
    failed = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        if fields[2].isdigit():
            latencies.append(int(fields[2]) / 1000)
        else:
            failed += 1
    return {
        "transactions": len(latencies),
        "duration_s": duration_s,
        "tps": round(len(latencies) / duration_s, 1) if duration_s else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "failed": failed,
    }


def ratios(api: dict[str, Any], health: dict[str, Any], pgbench: dict[str, Any]) -> dict[str, Any]:
    """Each API scenario's throughput as a share of the server stack's ceiling (``/health``) and of the
    database's ceiling (pgbench running the same statements), per connection count."""
    found: dict[str, Any] = {}
    for name, by_connections in api.items():
        found[name] = {}
        for connections, result in by_connections.items():
            stack = health.get(connections, {}).get("rps") or 0
            database = pgbench.get(name, {}).get(connections, {}).get("tps") or 0
            found[name][connections] = {
                "of_health": round(result["rps"] / stack, 3) if stack else None,
                "of_pgbench": round(result["rps"] / database, 3) if database else None,
            }
    return found


def _goal(goal: float, measured: float | None) -> dict[str, Any]:
    return {"goal": goal, "measured": measured, "met": measured is not None and measured <= goal}


def goals(api: dict[str, Any], ratio: dict[str, Any], latency: dict[str, Any] | None = None) -> dict[str, Any]:
    """The issue's goals: POST throughput >= 50 % of pgbench (at every connection count), POST p99 <= 50 ms at 16
    connections, the API's CPU per POST <= 1.5 ms (at 16), and in the latency scenario (``latency``: its ``api``
    part) POST p50 <= 10 ms and GET p50 <= 3 ms at ``LATENCY_GOAL_CONNECTIONS``."""
    shares = [entry["of_pgbench"] for entry in ratio.get("post", {}).values()]
    post_16 = api.get("post", {}).get("16", {})
    found = {
        "post_share_of_pgbench": {
            "goal": GOAL_POST_SHARE_OF_PGBENCH,
            "measured": shares,
            "met": bool(shares) and all(s is not None and s >= GOAL_POST_SHARE_OF_PGBENCH for s in shares),
        },
        "post_p99_ms_at_16": _goal(GOAL_P99_MS_AT_16, post_16.get("p99_ms")),
    }
    if latency is None:
        return found
    found["post_api_cpu_ms_at_16"] = _goal(GOAL_POST_API_CPU_MS, post_16.get("cpu_ms_per_request", {}).get("uvicorn"))
    for name, goal in (("post", GOAL_LATENCY_POST_P50_MS), ("get", GOAL_LATENCY_GET_P50_MS)):
        measured = latency.get(name, {}).get(LATENCY_GOAL_CONNECTIONS, {}).get("p50_ms")
        found[f"latency_{name}_p50_ms"] = _goal(goal, measured)
    return found


def _row(label: str, connections: str, result: dict[str, Any], rate_key: str, ratio: dict[str, Any] | None) -> str:
    def share(key: str) -> str:
        value = (ratio or {}).get(key)
        return f"{value:.0%}" if value is not None else ""

    errors = (
        result.get("non_2xx", 0) + result.get("socket_errors", 0) + result.get("timeouts", 0) + result.get("failed", 0)
    )
    cpu = result.get("cpu_ms_per_request", {})
    busy = result.get("cpu_s", {}).get("uvicorn")
    cores = f" ({busy / result['duration_s']:.2f} cores)" if busy is not None and result.get("duration_s") else ""
    api_cpu = f" {cpu['uvicorn']:.2f}{cores} |" if "uvicorn" in cpu else "  |"
    cpu_cells = api_cpu + (f" {cpu['postgres']:.2f} |" if "postgres" in cpu else "  |")
    return (
        f"| {label} | {connections} | {result[rate_key]:,.0f} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f}"
        f" | {errors} | {share('of_health')} | {share('of_pgbench')} |{cpu_cells}"
    )


def _latency_rows(latency: dict[str, Any] | None) -> list[str]:
    """The latency scenario's rows: the API and pgbench through the delay proxy."""
    if not latency:
        return []
    delay = f"{latency['delay_ms_each_way']:g} ms each way"
    labels = {"post": "POST /v1/payments", "get": "GET /v1/payments/{id}"}
    rows = []
    for name in ("post", "get"):
        for connections, result in latency["api"].get(name, {}).items():
            ratio = latency.get("ratios", {}).get(name, {}).get(connections)
            rows.append(_row(f"{labels[name]}, {delay} to PostgreSQL", connections, result, "rps", ratio))
    for name, by_connections in latency["pgbench"].items():
        for connections, result in by_connections.items():
            rows.append(_row(f"pgbench: {name.upper()}'s statements, {delay}", connections, result, "tps", None))
    return rows


def _profile_lines(found: dict[str, Any] | None) -> list[str]:
    """The profile's table (tools/bench/profile.py): each layer's share of the samples and of the API CPU per POST."""
    if not found:
        return ["", "Not profiled in this run."]
    run = found["run"]
    lines = [
        "",
        f"Where the API's CPU goes in a POST: `{found['tool']}` at {found['rate_hz']} Hz, {found['samples']:,} "
        f"samples of the workers holding the GIL during one more POST run at {run['connections']} connections "
        f"({run['rps']:,.0f}/s, {run['api_cpu_ms_per_request']:.2f} ms of API CPU a POST); each sample counts in the "
        "layer of its innermost frame:",
        "",
        "| layer | share of samples | ms of API CPU per POST |",
        "|---|---|---|",
    ]
    lines.extend(
        f"| {layer['layer']} | {layer['share']:.0%} | {layer['ms_per_request']:.2f} |" for layer in found["layers"]
    )
    lines.append("")
    lines.append(
        "Busiest innermost functions: "
        + "; ".join(f"`{entry['function']}` {entry['share']:.0%}" for entry in found["top_functions"][:8])
        + "."
    )
    return lines


def render_table(document: dict[str, Any]) -> str:
    """The region of docs/payment-api.md, from the committed summary document."""
    settings, machine = document["settings"], document["machine"]
    lines = [
        f"Measured by `make bench-api` on {document['started_utc'][:10]} ({machine['cpus']} CPUs, "
        f"{settings['workers']} worker process(es) of `payment-api serve`, pool {settings['pool_max']} per process, "
        f"{settings['duration_s']:g} s per scenario on loopback; `docs/api_measurements.json`):",
        "",
        "| scenario | connections | per second | p50 ms | p99 ms | errors | of `/health` | of pgbench "
        "| API CPU ms/request | PostgreSQL CPU ms/request |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    labels = {"post": "POST /v1/payments", "get": "GET /v1/payments/{id}", "health": "GET /health (stack ceiling)"}
    for name in ("post", "get", "health"):
        for connections, result in document["api"].get(name, {}).items():
            lines.append(
                _row(labels[name], connections, result, "rps", document["ratios"].get(name, {}).get(connections))
            )
    for name, by_connections in document["pgbench"].items():
        for connections, result in by_connections.items():
            lines.append(
                _row(f"pgbench: {name.upper()}'s statements (database ceiling)", connections, result, "tps", None)
            )
    lines.extend(_latency_rows(document.get("latency")))
    lines.append("")
    wording = {
        "post_share_of_pgbench": "POST throughput ≥ {goal:.0%} of pgbench's (16 and 64 connections)",
        "post_p99_ms_at_16": "POST p99 ≤ {goal:g} ms at 16 connections",
        "post_api_cpu_ms_at_16": "API CPU per POST ≤ {goal:g} ms at 16 connections (all workers)",
        "latency_post_p50_ms": "with the network delay, POST p50 ≤ {goal:g} ms (1 connection)",
        "latency_get_p50_ms": "with the network delay, GET p50 ≤ {goal:g} ms (1 connection)",
    }
    for goal, entry in document["goals"].items():
        measured = entry["measured"]
        if isinstance(measured, list):
            shown = ", ".join(f"{value:.0%}" if value is not None else "n/a" for value in measured)
        elif measured is None:
            shown = "n/a"
        else:
            shown = f"{measured} ms"
        lines.append(
            f"- goal: {wording[goal].format(goal=entry['goal'])}: measured {shown}: "
            f"**{'met' if entry['met'] else 'not met'}**"
        )
    lines.extend(_profile_lines(document.get("profile")))
    return "\n".join(lines)
