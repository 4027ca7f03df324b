"""ServiceProcess counts a server as started only when its own process listens on the port: a free port can be taken
by another server between the choice and the bind, and that server would answer /health too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tools.dev.local_api.process import holds_listening_port


def test_only_the_process_that_listens_holds_the_port() -> None:
    listener = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped below
        [
            sys.executable,
            "-c",
            "import socket, sys, time\ns = socket.create_server(('127.0.0.1', 0))\n"
            "print(s.getsockname()[1], flush=True)\ntime.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None
        port = int(listener.stdout.readline())
        assert holds_listening_port(listener.pid, port)
        assert not holds_listening_port(os.getpid(), port)  # this process only connects to it
        with socket.create_connection(("127.0.0.1", port)):
            assert not holds_listening_port(os.getpid(), port)
        assert not holds_listening_port(listener.pid, port + 1 if port < 65535 else port - 1)
    finally:
        listener.kill()
        listener.wait(timeout=10)
