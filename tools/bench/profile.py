"""Where the API's CPU goes: a sampling profile of the server's workers during a POST run (issue 29's "profile a
POST"), taken by py-spy and summarized by layer.

py-spy attaches to ``payment-api serve`` and its forked workers (``--subprocesses``) and samples only threads that
hold the GIL (``--gil``): Python's own CPU, not a thread waiting on PostgreSQL or on the event loop, which the default
"active thread" mode would count because psycopg waits in C. Each sample is put in the layer of its innermost frame
that belongs to a known layer (``LAYERS``, first match from the leaf), so a ``json`` call made by the access log counts
as JSON and a psycopg call made by the service counts as the driver. Kept apart from the runner (tools/bench/api.py)
so that tests/unit/tools/test_bench_api.py checks the summary without a server.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE_HZ = 100
"""Samples per second per process: high enough for a few thousand samples in a 10-second run, low enough that the
workers pause (py-spy's default blocking mode, for exact stacks) for well under 1 % of the run."""
TOP_FUNCTIONS = 12
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PostgreSQL driver (psycopg, its pool)", ("psycopg/", "psycopg_pool/", "psycopg_c/", "psycopg_binary/")),
    ("HTTP server (uvicorn, httptools)", ("uvicorn/", "httptools/", "uvloop/", "h11/")),
    ("framework (FastAPI, Starlette, pydantic)", ("fastapi/", "starlette/", "pydantic/", "pydantic_core/")),
    ("threads and the event loop (anyio, asyncio, threading)", ("anyio/", "asyncio/", "threading.py", "queue.py")),
    ("JSON (the API's bodies and its log lines)", ("json/",)),
    ("logging (the access log)", ("logging/", "payment_api/logs.py")),
    ("key and body hashing (HMAC, SHA-256)", ("hmac.py", "hashlib.py")),
    ("the service's own code (payment_api)", ("payment_api/",)),
)
OTHER = "other (standard library, interpreter)"


def layer_of(frames: list[str]) -> str:
    """The layer of the innermost frame of ``frames`` (outermost first) that belongs to one of ``LAYERS``."""
    for frame in reversed(frames):
        for label, patterns in LAYERS:
            if any(pattern in frame for pattern in patterns):
                return label
    return OTHER


def summarize(raw: str, rate_hz: int = RATE_HZ) -> dict[str, Any]:
    """py-spy's ``--format raw`` output (one ``frame;frame;... count`` line per distinct stack, process frames
    first) as samples per layer and the busiest innermost functions."""
    layers: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
        if not frames:
            continue
        layers[layer_of(frames)] += int(count)
        functions[frames[-1]] += int(count)
    total = sum(layers.values())
    if not total:
        raise ValueError("the profile holds no sample: py-spy saw no thread holding the GIL")
    return {
        "tool": "py-spy record --gil --subprocesses",
        "rate_hz": rate_hz,
        "samples": total,
        "layers": [
            {"layer": label, "samples": count, "share": round(count / total, 3)}
            for label, count in layers.most_common()
        ],
        "top_functions": [
            {"function": name, "samples": count, "share": round(count / total, 3)}
            for name, count in functions.most_common(TOP_FUNCTIONS)
        ],
    }


def py_spy() -> str:
    """The py-spy of the running environment (requirements-dev.txt pins it)."""
    path = Path(sys.executable).with_name("py-spy")
    if not path.is_file():
        raise RuntimeError(f"py-spy is not installed next to {sys.executable}: run `make setup`")
    return str(path)


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[str]:
    """py-spy recording ``pid`` and its children for ``seconds`` into ``output`` (raw format)."""
    command = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--gil",
        "--rate",
        str(RATE_HZ),
        "--format",
        "raw",
        "--duration",
        f"{max(1, round(seconds))}",
        "--output",
        str(output),
    ]
    return subprocess.Popen(  # pylint: disable=consider-using-with  # finish() waits for it
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], output: Path, timeout: float) -> dict[str, Any]:
    """Wait for ``start``'s py-spy and summarize what it wrote; a failed attach (no ptrace permission) raises with
    py-spy's own words."""
    try:
        _, errors = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError(f"py-spy did not finish within {timeout:g} s") from None
    if process.returncode != 0 or not output.is_file():
        raise RuntimeError(f"py-spy failed ({process.returncode}): {errors.strip()[-600:]}")
    return summarize(output.read_text(encoding="utf-8"))
