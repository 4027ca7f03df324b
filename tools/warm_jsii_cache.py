"""Fill jsii's package cache for the AWS provider, and wait for its runtime index, during set-up.

Why: the jsii kernel unpacks ``provider-aws@*.jsii.tgz`` (34 MB, 120 MB of ``.jsii`` metadata) into its
package cache (``~/.cache/aws/jsii/package-cache`` or ``JSII_RUNTIME_PACKAGE_CACHE_ROOT``) and, on a cached
load, reads the metadata through a compact "runtime index" instead of parsing the 120 MB JSON. That index is
written by a background worker of the kernel *after* the first load; a ``python tap.py`` that finishes in
~2 s exits before the worker is done, so on a fresh machine every synth would keep re-parsing the JSON
(and re-starting the worker) until some process happens to live long enough. This tool is that process:
it loads the three assemblies (constructs, cdktf, provider-aws) once and waits until the index exists.

The kernel runs on the project's Node (``lib/runtime/node.py``), as every synth does: ``npm ci`` must have run.
Run it once after installing the requirements and ``npm ci`` (the Makefile's set-up does):
``.venv/bin/python tools/warm_jsii_cache.py``. Idempotent: with a warm cache it returns in ~1 s.
It exits 1 with a message if the index does not appear in time or the fast-bindings hook did not report
the package (a jsii upgrade changed what lib/runtime/fast_bindings.py relies on), 0 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX_MANIFEST_GLOB = ".jsii.runtime.v*.json"  # jsii-kernel runtime-index.ts: written last, atomically
FRESH_LOAD = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter()\n"
    "from lib.runtime import fast_bindings; fast_bindings.enable()\n"
    "import cdktf_cdktf_provider_aws._jsii\n"
    "print(f'{time.perf_counter() - t:.2f}')\n"
)


class WarmUpError(RuntimeError):
    """The cache could not be warmed; the message says why."""


def _provider_package_dir(report: Path) -> tuple[Path, bool]:
    """The provider package's directory as the kernel loaded it, and whether it came from the package cache."""
    for line in report.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event.get("event") == "lazy-index":
            linked_dir = Path(event["file"]).parent.parent  # <kernel>/node_modules/@cdktf/provider-aws
            return Path(event["packageDir"]), linked_dir.is_symlink()
    raise WarmUpError(
        f"the fast-bindings Node hook did not report loading the provider (report {report} is empty): "
        "lib/runtime/fast_bindings_hook.js was not preloaded into the jsii kernel"
    )


def warm(timeout: float) -> dict[str, object]:
    """Load the assemblies in this process and wait up to ``timeout`` s for the provider's runtime index."""
    # pylint: disable=import-outside-toplevel  # the environment must be set before jsii starts its kernel
    if any(name.endswith("._jsii") for name in sys.modules):
        raise WarmUpError("a jsii assembly is already loaded in this process; run this tool on its own")
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="warm-jsii-") as scratch:
        report = Path(scratch) / "report.jsonl"
        report.touch()
        os.environ["TAP_FAST_BINDINGS"] = "1"
        os.environ["TAP_FAST_BINDINGS_REPORT"] = str(report)
        from lib.runtime import fast_bindings
        from lib.runtime.node import ProjectNodeError

        started = time.perf_counter()
        try:
            fast_bindings.enable()  # on the project's Node (lib/runtime/node.py), as every synth
        except ProjectNodeError as err:
            raise WarmUpError(str(err)) from err
        importlib.import_module(f"{fast_bindings.PACKAGE}._jsii")
        loaded = time.perf_counter() - started
        package_dir, cached = _provider_package_dir(report)
        if not cached:
            return {"cache": "disabled", "load_s": round(loaded, 2), "package_dir": str(package_dir)}

        deadline = time.monotonic() + timeout
        while not any(package_dir.glob(INDEX_MANIFEST_GLOB)):
            if time.monotonic() > deadline:
                raise WarmUpError(
                    f"no runtime index ({INDEX_MANIFEST_GLOB}) appeared in {package_dir} within {timeout:.0f} s; "
                    "jsii's package cache may have changed format (synth still works, just slower)"
                )
            time.sleep(0.2)
        return {
            "cache": "warm",
            "load_s": round(loaded, 2),
            "index_ready_s": round(time.perf_counter() - started, 2),
            "package_dir": str(package_dir),
        }


def fresh_load_seconds() -> float | None:
    """Time a fresh process's provider load, which now reads the index (a sanity figure for the log)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAP_FAST_BINDINGS")}
    result = subprocess.run(
        [sys.executable, "-c", FRESH_LOAD, str(ROOT)], env=env, capture_output=True, text=True, check=False, timeout=300
    )
    try:
        return float(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the index (default 600)")
    args = parser.parse_args(argv)
    try:
        result = warm(args.timeout)
    except WarmUpError as err:
        print(f"warm_jsii_cache: {err}", file=sys.stderr)
        return 1
    if result["cache"] == "disabled":
        print("warm_jsii_cache: jsii's package cache is disabled (JSII_RUNTIME_PACKAGE_CACHE); nothing to warm")
        return 0
    print(
        f"warm_jsii_cache: provider loaded in {result['load_s']} s, runtime index ready after "
        f"{result['index_ready_s']} s in {result['package_dir']}"
    )
    fresh = fresh_load_seconds()
    if fresh is not None:
        print(f"warm_jsii_cache: a fresh process now loads the provider in {fresh:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
