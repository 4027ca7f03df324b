"""tools/bench/delay_proxy.py: it delays each way, forwards both ways in order, counts turns, is bounded, stops."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tools.bench.delay_proxy import DelayProxy, ThreadedProxy, main


def exchange(sock: socket.socket, payload: bytes) -> tuple[bytes, float]:
    started = time.perf_counter()
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "the proxy closed the connection"
        received += chunk
    return received, time.perf_counter() - started


@pytest.fixture(name="echo_port")
def fixture_echo_port() -> Iterator[int]:
    """A loopback echo server on an event loop of its own thread."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    loop = asyncio.new_event_loop()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    started = loop.run_until_complete(asyncio.start_server(echo, sock=server))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield port
    loop.call_soon_threadsafe(started.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def test_it_forwards_both_ways_in_order_and_delays_each_way(echo_port: int) -> None:
    payload = bytes(range(256)) * 1000  # 256 kB: several chunks each way
    with ThreadedProxy(echo_port, 0.02) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            received, took = exchange(sock, payload)
            assert received == payload
            assert took >= 0.04  # 20 ms there and 20 ms back
            small, took = exchange(sock, b"ping")
            assert small == b"ping" and 0.04 <= took < 1.0
        assert proxy.stats.round_trips == 2
        assert proxy.stats.bytes_up == proxy.stats.bytes_down == len(payload) + 4


def test_without_delay_it_only_counts(echo_port: int) -> None:
    with ThreadedProxy(echo_port, 0) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            for _ in range(5):
                assert exchange(sock, b"x")[0] == b"x"
        assert proxy.stats.round_trips == 5 and proxy.stats.connections == 1


def test_it_refuses_connections_over_its_limit(echo_port: int) -> None:
    with ThreadedProxy(echo_port, 0, max_connections=1) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as first:
            assert exchange(first, b"a")[0] == b"a"
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as second:
                second.settimeout(5)
                assert second.recv(10) == b""  # closed at once
        assert proxy.stats.refused == 1


def test_it_stops_and_ends_open_connections(echo_port: int) -> None:
    with ThreadedProxy(echo_port, 0) as proxy:
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        assert exchange(sock, b"a")[0] == b"a"
        port = proxy.port
    sock.settimeout(5)
    assert sock.recv(10) == b""  # the open connection was ended
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # nobody listens any more


def test_it_forwards_to_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        DelayProxy(5432, target_host="10.0.0.1")
    with pytest.raises(ValueError, match="between 0 and 1 second"):
        DelayProxy(5432, 5.0)
    assert main(["--target-port", "5432", "--target-host", "192.0.2.1"]) == 2
