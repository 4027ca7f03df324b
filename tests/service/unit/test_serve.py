"""payment_api.serve's listening socket: TCP_NODELAY on what it accepts, and a port in use refused."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

import pytest
import uvloop
from payment_api.serve import bind


@pytest.mark.parametrize("loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_connections_accepted_from_the_socket_have_tcp_nodelay(loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """The Nagle stall of uvicorn's multi-process socket (issue 29): asyncio sets TCP_NODELAY only on connections
    accepted from a socket whose protocol is IPPROTO_TCP; with protocol 0, responses waited for delayed ACKs. The
    workers run uvloop (payment_api.serve), asyncio's loop is checked too."""
    listening = bind("127.0.0.1", 0)
    port = listening.getsockname()[1]
    seen: list[int] = []

    async def check() -> None:
        async def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listening)
        async with server:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    runner = loop()
    try:
        runner.run_until_complete(check())
    finally:
        runner.close()
    assert seen and seen[0] != 0


def test_a_port_in_use_is_refused() -> None:
    first = bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError) as refused:
            bind("127.0.0.1", first.getsockname()[1])
        assert refused.value.errno == errno.EADDRINUSE
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
    finally:
        first.close()
