"""localstripe's aiohttp app, patched (``tools.dev.local_stripe.patches``), on one address of our choosing.

    python -m tools.dev.local_stripe.server [--host 127.0.0.1] [--port 0] [--port-file FILE] [--without PATCH]...

Never localstripe's own CLI: it binds every interface (``::``) and loads the shared ``/tmp/localstripe.pickle``.
The host must be a loopback address unless ``--allow-address`` names it (a network namespace's veth address):
never a wildcard. ``--port 0`` takes a free port, written to ``--port-file`` once the server listens.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web

from tools.dev.local_stripe import AddressError, check_host, patches


async def serve(host: str, port: int, port_file: Path | None) -> None:
    """Serve localstripe's (patched) app on ``host``:``port`` until cancelled."""

    runner = web.AppRunner(patches.server.app)  # localstripe's app, as the patches left it
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"[localstripe] listening on http://{host}:{bound}", flush=True)
    if port_file is not None:
        partial = port_file.with_suffix(".tmp")
        partial.write_text(str(bound), encoding="utf-8")
        partial.replace(port_file)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--allow-address", help="a non-loopback --host accepted (a namespace's veth address)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one, see --port-file)")
    parser.add_argument("--port-file", type=Path, help="file the bound port is written to once listening")
    parser.add_argument(
        "--without", action="append", default=[], help="leave this fidelity patch out (tests only; repeatable)"
    )
    args = parser.parse_args(argv)
    try:
        host = check_host(args.host, args.allow_address)
        applied = patches.apply(frozenset(args.without))
    except (AddressError, ValueError) as error:
        print(f"[localstripe] {error}", file=sys.stderr)
        return 2
    for name, why, _ in patches.PATCHES:
        print(f"[localstripe] {'patched' if name in applied else 'NOT patched'}: {name}: {why}", flush=True)
    try:
        asyncio.run(serve(host, args.port, args.port_file))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
