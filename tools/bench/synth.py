"""Benchmark the end-to-end synth (``python tap.py``) with fast bindings and with the plain eager import.

Why: issue 5 asks for a full-stack synth <= 3 s median and >= 5x faster than the plain import, measured in
the same run on the same machine. Each run is a fresh ``python tap.py`` process (what a developer and CI
pay), the two modes are interleaved so that load on the machine hits both alike, and the first run of each
mode is discarded. Also records the peak memory of each run (max RSS over its process tree, i.e. Python or
the Node kernel, from ``wait4``), the unit suite's wall time, and passes through the sandbox phase timings
another helper writes (``--sandbox-phases FILE``). Everything goes to ``docs/measurements.json``, which is
committed, and the table of docs/developing.md ("Fast feedback") is rewritten from it (``render_table``); a unit
test keeps the two equal.

It is a benchmark, not a test: slow numbers never fail it. It exits 1 only when a synth run itself fails
(then there is nothing to measure), and says so.

Usage: ``.venv/bin/python tools/bench/synth.py [--runs 5] [--sandbox-phases FILE] [--no-unit]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GUIDE = "docs/developing.md"  # its "Fast feedback" section shows the table
MODES = {"fast": "1", "plain": "0"}
MEASUREMENTS = ROOT / "docs" / "measurements.json"
SYNTH_ENV = {"CHECKPOINT_DISABLE": "1"}


@dataclass
class Run:
    """One measured process."""

    seconds: float
    max_rss_kb: int
    returncode: int
    output_tail: str = ""


@dataclass
class ModeResult:
    """All runs of one mode; the first ``warmup`` runs are kept for the record but not in the figures."""

    runs: list[Run] = field(default_factory=list)
    warmup: int = 1

    def measured(self) -> list[Run]:
        return self.runs[self.warmup :]

    def summary(self) -> dict[str, Any]:
        seconds = [run.seconds for run in self.measured()]
        return {
            "median_s": round(statistics.median(seconds), 3) if seconds else None,
            "min_s": round(min(seconds), 3) if seconds else None,
            "max_s": round(max(seconds), 3) if seconds else None,
            "runs_s": [round(value, 3) for value in seconds],
            "warmup_runs_s": [round(run.seconds, 3) for run in self.runs[: self.warmup]],
            "peak_rss_mb": round(max(run.max_rss_kb for run in self.runs) / 1024, 1) if self.runs else None,
        }


def run_measured(command: list[str], env: dict[str, str], log: Path) -> Run:
    """Run ``command`` in the repo, return its wall time and the max RSS of its process tree (``wait4``)."""
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # reaped by wait4 for its rusage
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
    return Run(seconds, int(usage.ru_maxrss), process.returncode, tail)


def synth_env(mode: str, outdir: Path, report: Path) -> dict[str, str]:
    env = {
        **os.environ,
        **SYNTH_ENV,
        "TAP_FAST_BINDINGS": MODES[mode],
        "CDKTF_OUTDIR": str(outdir),
        "TAP_FAST_BINDINGS_REPORT": str(report),
    }
    return env


def fast_mechanism_seen(report: Path) -> bool:
    """Whether the Node hook reported installing the lazy provider index (i.e. tap.py called enable())."""
    if not report.is_file():
        return False
    return any(json.loads(line).get("event") == "lazy-index" for line in report.read_text().splitlines() if line)


def stack_files(outdir: Path) -> dict[str, bytes]:
    return {str(path.relative_to(outdir)): path.read_bytes() for path in sorted(outdir.glob("stacks/*/cdk.tf.json"))}


def bench_synth(entry: str, runs: int, warmup: int, scratch: Path) -> tuple[dict[str, ModeResult], dict[str, Any]]:
    """Interleave fresh ``python tap.py`` runs of both modes; return the runs and consistency checks."""
    results = {mode: ModeResult(warmup=warmup) for mode in MODES}
    checks: dict[str, Any] = {}
    for index in range(warmup + runs):
        order = list(MODES) if index % 2 == 0 else list(reversed(MODES))
        for mode in order:
            outdir = scratch / f"{mode}-{index}"
            report = scratch / f"{mode}-{index}.report.jsonl"
            run = run_measured(
                [sys.executable, entry], synth_env(mode, outdir, report), scratch / f"{mode}-{index}.log"
            )
            results[mode].runs.append(run)
            print(
                f"  {mode:5} run {index + 1}/{warmup + runs}: {run.seconds:6.2f} s, "
                f"{run.max_rss_kb / 1024:6.0f} MB{'' if index >= warmup else '  (warm-up, not counted)'}",
                flush=True,
            )
            if run.returncode != 0:
                print(f"synth failed ({mode}, exit {run.returncode}):\n{run.output_tail}", file=sys.stderr)
                return results, {"failed": mode}
            checks.setdefault(f"{mode}_used_fast_bindings", []).append(fast_mechanism_seen(report))
    last = warmup + runs - 1
    fast_files, plain_files = stack_files(scratch / f"fast-{last}"), stack_files(scratch / f"plain-{last}")
    checks["outputs_identical"] = bool(fast_files) and fast_files == plain_files
    checks["stack_files"] = sorted(fast_files)
    for mode in MODES:
        seen = checks.pop(f"{mode}_used_fast_bindings")
        checks[f"{mode}_used_fast_bindings"] = all(seen) if mode == "fast" else any(seen)
    return results, checks


def bench_unit(scratch: Path) -> dict[str, Any]:
    """Wall time of ``python -m pytest tests/unit -q`` (its own pass/fail is recorded, not judged)."""
    env = {**os.environ, **SYNTH_ENV}
    env.pop("TAP_FAST_BINDINGS_REPORT", None)
    run = run_measured(
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"], env, scratch / "unit.log"
    )
    return {
        "seconds": round(run.seconds, 2),
        "returncode": run.returncode,
        "peak_rss_mb": round(run.max_rss_kb / 1024, 1),
        "summary": run.output_tail.splitlines()[-1:],
    }


def warm_cache(scratch: Path) -> dict[str, Any]:
    """Run the set-up warm-up first, so neither mode pays for a missing jsii runtime index."""
    run = run_measured([sys.executable, "tools/warm_jsii_cache.py"], {**os.environ, **SYNTH_ENV}, scratch / "warm.log")
    return {"seconds": round(run.seconds, 2), "returncode": run.returncode, "output": run.output_tail}


def sandbox_phases(path: Path | None) -> Any:
    """The sandbox helper's phase timings, passed through as they are (or why they could not be read)."""
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return {"error": f"could not read {path}: {err}"}


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for dist in ("cdktf", "cdktf-cdktf-provider-aws", "jsii", "constructs"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    sys.path.insert(0, str(ROOT))  # run as a script: tools/ is on sys.path, the project root is not
    from lib.runtime.node import project_node  # pylint: disable=import-outside-toplevel  # after the path line

    node = project_node()  # the Node every synth's jsii kernel runs on (lib/runtime/node.py)
    found["node"] = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    found["python"] = platform.python_version()
    return found


def render_table(document: dict[str, Any]) -> str:
    """The guide's table, from a measurements document."""
    synth, unit = document["synth"], document.get("unit_suite") or {}
    fast, plain = synth["fast"], synth["plain"]
    date = document["started_utc"][:10]
    rows = [
        f"Measured by `make bench` on {date} ({document['machine']['cpus']} CPUs, {len(fast['runs_s'])} measured "
        "synths per mode, interleaved; `docs/measurements.json`):",
        "",
        "| | fast loader | plain eager import |",
        "|---|---|---|",
        f"| full-stack synth, median | **{fast['median_s']:.2f} s** | {plain['median_s']:.2f} s |",
        f"| peak memory | {fast['peak_rss_mb']:.0f} MB | {plain['peak_rss_mb']:.0f} MB |",
        f"| speed-up | **{synth['speedup_plain_over_fast']:.1f}\u00d7** | |",
    ]
    if unit:
        rows.append(f"| unit suite (`make unit`: {' '.join(unit['summary'])}) | {unit['seconds']:.1f} s | |")
    return "\n".join(rows)


def update_guide(document: dict[str, Any]) -> None:
    """Replace the guide's table (between its bench markers) with the one for ``document``."""
    readme = ROOT / GUIDE
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split("<!-- bench:begin -->\n", 1)
    _old, tail = rest.split("\n<!-- bench:end -->", 1)
    readme.write_text(
        f"{head}<!-- bench:begin -->\n{render_table(document)}\n<!-- bench:end -->{tail}", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per mode (default 5, at least 5)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded runs per mode before measuring")
    parser.add_argument("--sandbox-phases", type=Path, default=None, help="JSON file of sandbox phase timings")
    parser.add_argument("--no-unit", action="store_true", help="skip timing the unit suite")
    parser.add_argument("--out", type=Path, default=MEASUREMENTS)
    parser.add_argument("--entry", default="tap.py", help="the synth entry point, run from the repo root")
    args = parser.parse_args(argv)
    runs = max(args.runs, 5)

    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="tap-bench-") as tmp:
        scratch = Path(tmp)
        print("warming the jsii package cache ...", flush=True)
        warm = warm_cache(scratch)
        print(f"synth: {runs} measured runs per mode (+{args.warmup} warm-up), interleaved ...", flush=True)
        results, checks = bench_synth(args.entry, runs, args.warmup, scratch)
        failed = "failed" in checks
        unit = None
        if not args.no_unit and not failed:
            print("unit suite: python -m pytest tests/unit -q ...", flush=True)
            unit = bench_unit(scratch)

    fast, plain = results["fast"].summary(), results["plain"].summary()
    ratio = round(plain["median_s"] / fast["median_s"], 2) if fast["median_s"] and plain["median_s"] else None
    document = {
        "started_utc": started.isoformat(timespec="seconds"),
        "entry": args.entry,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(),
        "synth": {"fast": fast, "plain": plain, "speedup_plain_over_fast": ratio, "checks": checks},
        "targets": {
            "fast_median_max_s": 3.0,
            "min_speedup": 5.0,
            "met": bool(ratio and fast["median_s"] is not None and fast["median_s"] <= 3.0 and ratio >= 5.0),
        },
        "unit_suite": unit,
        "warm_cache": warm,
        "sandbox_phases": sandbox_phases(args.sandbox_phases),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if args.out == MEASUREMENTS and not failed:
        update_guide(document)

    print(f"\nsynth fast : median {fast['median_s']} s (runs {fast['runs_s']}), peak {fast['peak_rss_mb']} MB")
    print(f"synth plain: median {plain['median_s']} s (runs {plain['runs_s']}), peak {plain['peak_rss_mb']} MB")
    verdict = "met" if document["targets"]["met"] else "NOT met"
    print(f"speed-up   : {ratio}x   (targets fast <= 3.0 s and >= 5x: {verdict})")
    print(f"checks     : {checks}")
    if unit:
        print(f"unit suite : {unit['seconds']} s, exit {unit['returncode']} {unit['summary']}")
    print(f"written    : {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
