"""`make bench-api`'s profile (tools/bench/profile.py): py-spy's raw stacks summarized by layer, and its table."""

from __future__ import annotations

import pytest

from tools.bench.api_results import render_table
from tools.bench.profile import OTHER, layer_of, summarize

PROCESS = 'process 10:"python -m payment_api serve";process 11:"python -m payment_api serve"'
RAW = "\n".join(
    [
        # The service's own code calling psycopg: the driver's sample.
        f"{PROCESS};run (payment_api/idempotency.py:298);execute (psycopg/cursor.py:113) 6",
        # The access log's JSON encoding: JSON, not logging (the innermost known frame decides).
        f"{PROCESS};__call__ (payment_api/logs.py:117);iterencode (json/encoder.py:219) 3",
        f"{PROCESS};__call__ (payment_api/logs.py:117) 1",
        f"{PROCESS};data_received (uvicorn/protocols/http/httptools_impl.py:174) 4",
        f"{PROCESS};check_limits (payment_api/jsonbody.py:125) 5",
        f"{PROCESS};_find_and_load (<frozen importlib._bootstrap>:1176) 1",
        "garbage line without a count",
    ]
)


def test_each_sample_goes_to_the_layer_of_its_innermost_known_frame() -> None:
    found = summarize(RAW, rate_hz=100)
    layers = {entry["layer"]: entry["samples"] for entry in found["layers"]}
    assert found["samples"] == 20
    assert layers == {
        "PostgreSQL driver (psycopg, its pool)": 6,
        "the service's own code (payment_api)": 5,
        "HTTP server (uvicorn, httptools)": 4,
        "JSON (the API's bodies and its log lines)": 3,
        "logging (the access log)": 1,
        OTHER: 1,
    }
    assert found["layers"][0]["layer"] == "PostgreSQL driver (psycopg, its pool)"
    assert found["top_functions"][0] == {"function": "execute (psycopg/cursor.py:113)", "samples": 6, "share": 0.3}


def test_process_frames_never_decide_a_layer() -> None:
    assert layer_of(['process 1:"python -m payment_api serve"', "run (asyncio/runners.py:118)"]).startswith(
        "threads and the event loop"
    )


def test_a_profile_without_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="no sample"):
        summarize(f"{PROCESS} 0\n")


def test_the_table_shows_each_layers_share_of_the_api_cpu() -> None:
    found = summarize(RAW, rate_hz=100)
    for layer in found["layers"]:
        layer["ms_per_request"] = round(layer["share"] * 2.0, 3)
    found["run"] = {"connections": 16, "rps": 400.0, "api_cpu_ms_per_request": 2.0}
    document = {
        "started_utc": "2026-12-06T10:00:00+00:00",
        "machine": {"cpus": 2},
        "settings": {"workers": 2, "pool_max": 10, "duration_s": 10.0},
        "api": {},
        "pgbench": {},
        "ratios": {},
        "goals": {},
        "profile": found,
    }
    table = render_table(document)
    assert "| PostgreSQL driver (psycopg, its pool) | 30% | 0.60 |" in table
    assert "20 samples" in table and "2.00 ms of API CPU a POST" in table
    assert "Not profiled" in render_table({**document, "profile": None})


def test_pgbench_rows_show_postgresqls_cpu_beside_the_apis() -> None:
    pgbench = {"tps": 2000.0, "p50_ms": 5.0, "p99_ms": 9.0, "failed": 0, "cpu_ms_per_request": {"postgres": 0.5}}
    document = {
        "started_utc": "2026-12-06T10:00:00+00:00",
        "machine": {"cpus": 2},
        "settings": {"workers": 2, "pool_max": 10, "duration_s": 10.0},
        "api": {},
        "pgbench": {"post": {"16": pgbench}},
        "ratios": {},
        "goals": {},
    }
    row = next(line for line in render_table(document).splitlines() if line.startswith("| pgbench: POST"))
    assert row.endswith("|  | 0.50 |")
