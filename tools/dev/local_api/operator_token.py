"""``make operator-token``: a fresh one-hour token for ``make api``'s local operator while ``make api`` runs.

    python -m tools.dev.local_api.operator_token [--port 8080] [--name make-api]

It reads the pointer file the running ``make api`` on that port wrote (``local.pointer_path``: its API's credentials
folder) and asks the service's CLI for a token (``payment-api operator-token --local <name>``), printed as
``Operator key: <token>``. Without a running ``make api`` it says so and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from tools.dev.local_api.local import LOCAL_OPERATOR, PortError, api_port, operator_token, parse_port, pointer_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", help="the port make api serves on (default: LOCAL_API_PORT, else 8080)")
    parser.add_argument("--name", default=LOCAL_OPERATOR, help=f"the local operator (default {LOCAL_OPERATOR})")
    args = parser.parse_args(argv)
    try:
        port, _notice = api_port(parse_port("--port", args.port) if args.port else None, os.environ)
    except PortError as error:
        print(f"[operator-token] {error}", file=sys.stderr)
        return 2
    path = pointer_path(port)
    try:
        env = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(
            f"[operator-token] no make api runs on port {port} ({path} is missing): start `make api` first, or give "
            "its port with LOCAL_API_PORT",
            file=sys.stderr,
        )
        return 1
    try:
        token = operator_token(env, args.name)
    except RuntimeError as error:
        print(f"[operator-token] {error}", file=sys.stderr)
        return 1
    print(f"Operator key: {token}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
