"""`make bench-api`'s result logic: wrk and pgbench parsing, ratios against both ceilings, the goals, the table."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT
from tools.bench.api import PGBENCH_POST, POST_LUA
from tools.bench.api_results import (
    GUIDE,
    WRK_MARKER,
    goals,
    parse_pgbench_log,
    parse_wrk,
    percentile,
    ratios,
    render_table,
)


def _wrk_output(requests: int, duration_us: int, p50_us: int, p99_us: int, status: int = 0) -> str:
    raw = {
        "requests": requests,
        "duration_us": duration_us,
        "p50_us": p50_us,
        "p99_us": p99_us,
        "errors": {"connect": 0, "read": 1, "write": 0, "status": status, "timeout": 2},
    }
    return f"Running 10s test @ http://127.0.0.1:1\n  2 threads and 16 connections\n{WRK_MARKER}{json.dumps(raw)}\n"


def test_wrk_line_gives_rate_latency_and_errors() -> None:
    result = parse_wrk(_wrk_output(5000, 10_000_000, 12_345, 48_000, status=3))
    assert result == {
        "requests": 5000,
        "duration_s": 10.0,
        "rps": 500.0,
        "p50_ms": 12.35,
        "p99_ms": 48.0,
        "non_2xx": 3,
        "socket_errors": 1,
        "timeouts": 2,
    }


def test_wrk_output_without_our_line_is_refused() -> None:
    with pytest.raises(ValueError, match="BENCH_JSON"):
        parse_wrk("Running 10s test\n")


def test_pgbench_log_percentiles_and_failures() -> None:
    lines = [f"0 {n} {latency} 0 1700000000 0" for n, latency in enumerate([1000, 2000, 3000, 4000] * 25)]
    lines.append("1 7 failed 0 1700000000 0")
    result = parse_pgbench_log(lines, 10.0)
    assert result == {"transactions": 100, "duration_s": 10.0, "tps": 10.0, "p50_ms": 2.0, "p99_ms": 4.0, "failed": 1}


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([5.0], 0.99) == 5.0
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0


def _measured() -> tuple[dict, dict]:
    api = {
        "post": {"16": {"rps": 400.0, "p99_ms": 40.0}, "64": {"rps": 300.0, "p99_ms": 200.0}},
        "health": {"16": {"rps": 4000.0}, "64": {"rps": 3000.0}},
    }
    pgbench = {"post": {"16": {"tps": 1000.0}, "64": {"tps": 500.0}}}
    return api, pgbench


def test_ratios_against_both_ceilings_and_goals() -> None:
    api, pgbench = _measured()
    ratio = ratios(api, api["health"], pgbench)
    assert ratio["post"] == {"16": {"of_health": 0.1, "of_pgbench": 0.4}, "64": {"of_health": 0.1, "of_pgbench": 0.6}}
    assert ratio["health"]["16"] == {"of_health": 1.0, "of_pgbench": None}
    found = goals(api, ratio)
    assert found["post_share_of_pgbench"]["met"] is False  # 40 % at 16 connections
    assert found["post_p99_ms_at_16"] == {"goal": 50.0, "measured": 40.0, "met": True}


def test_table_shows_cpu_per_request_and_the_goals() -> None:
    api, pgbench = _measured()
    api["post"]["16"].update(
        p50_ms=20.0,
        duration_s=10.0,
        cpu_s={"uvicorn": 9.5, "postgres": 4.0},
        cpu_ms_per_request={"uvicorn": 2.95, "postgres": 1.35},
    )
    api["post"]["64"].update(p50_ms=90.0)
    for result in api["health"].values():
        result.update(p50_ms=5.0, p99_ms=9.0)
    for result in pgbench["post"].values():
        result.update(p50_ms=5.0, p99_ms=9.0)
    ratio = ratios(api, api["health"], pgbench)
    document = {
        "started_utc": "2026-11-30T08:00:00+00:00",
        "machine": {"cpus": 2},
        "settings": {"workers": 1, "pool_max": 10, "duration_s": 10.0},
        "api": api,
        "pgbench": pgbench,
        "ratios": ratio,
        "goals": goals(api, ratio),
    }
    table = render_table(document)
    assert "| POST /v1/payments | 16 | 400 | 20.0 | 40.0 | 0 | 10% | 40% | 2.95 (0.95 cores) | 1.35 |" in table
    assert "measured 40%, 60%: **not met**" in table and "measured 40.0 ms: **met**" in table


def test_lua_and_pgbench_scripts_make_every_key_unique() -> None:
    assert '["Idempotency-Key"] = prefix .. counter' in POST_LUA
    assert "random()" in PGBENCH_POST and "\\gset" in PGBENCH_POST


def test_the_guide_region_is_the_committed_measurements() -> None:
    path = ROOT / "docs" / "api_measurements.json"
    if not path.is_file():
        pytest.skip("no committed payment API measurements yet")
    document = json.loads(path.read_text(encoding="utf-8"))
    readme = (ROOT / GUIDE).read_text(encoding="utf-8")
    block = readme.split("<!-- api-bench:begin -->\n", 1)[1].split("\n<!-- api-bench:end -->", 1)[0]
    assert block == render_table(document)
    assert document["started_utc"] and document["machine"]["cpus"] and document["settings"]["workers"]


def test_the_latency_scenario_has_its_goals_and_rows() -> None:
    api, pgbench = _measured()
    api["post"]["16"]["cpu_ms_per_request"] = {"uvicorn": 1.4, "postgres": 0.9}
    latency_api = {
        "post": {"1": {"rps": 100.0, "p50_ms": 9.5, "p99_ms": 20.0}},
        "get": {"1": {"rps": 300.0, "p50_ms": 3.2, "p99_ms": 8.0}},
    }
    found = goals(api, ratios(api, api["health"], pgbench), latency_api)
    assert found["post_api_cpu_ms_at_16"] == {"goal": 1.5, "measured": 1.4, "met": True}
    assert found["latency_post_p50_ms"] == {"goal": 10.0, "measured": 9.5, "met": True}
    assert found["latency_get_p50_ms"] == {"goal": 3.0, "measured": 3.2, "met": False}
    assert "latency_post_p50_ms" not in goals(api, ratios(api, api["health"], pgbench))  # no scenario, no goal
    for result in (*api["post"].values(), *api["health"].values(), *pgbench["post"].values()):
        result.setdefault("p50_ms", 5.0)
        result.setdefault("p99_ms", 9.0)
    latency_pgbench = {"post": {"1": {"tps": 150.0, "p50_ms": 6.5, "p99_ms": 9.0}}}
    document = {
        "started_utc": "2026-12-06T08:00:00+00:00",
        "machine": {"cpus": 2},
        "settings": {"workers": 2, "pool_max": 10, "duration_s": 10.0},
        "api": api,
        "pgbench": pgbench,
        "ratios": ratios(api, api["health"], pgbench),
        "goals": found,
        "latency": {
            "delay_ms_each_way": 1.0,
            "api": latency_api,
            "pgbench": latency_pgbench,
            "ratios": ratios(latency_api, {}, latency_pgbench),
        },
    }
    table = render_table(document)
    assert "| POST /v1/payments, 1 ms each way to PostgreSQL | 1 | 100 | 9.5 | 20.0 | 0 |  | 67% |" in table
    assert "| pgbench: POST's statements, 1 ms each way | 1 | 150 | 6.5 | 9.0 | 0 |" in table
    assert "with the network delay, GET p50 ≤ 3 ms (1 connection): measured 3.2 ms: **not met**" in table


def test_the_pgbench_post_runs_the_services_three_statements() -> None:
    statements = [line for line in PGBENCH_POST.splitlines() if line and not line.startswith("\\set")]
    assert len(statements) == 3
    assert "pg_try_advisory_lock" in statements[0] and "pg_advisory_xact_lock" in statements[2]
