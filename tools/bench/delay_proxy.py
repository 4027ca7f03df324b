"""A TCP proxy on loopback that delays every chunk by a fixed time in each direction, and counts round trips.

``make bench-api``'s network-latency scenario puts it between the payment API (and pgbench) and PostgreSQL: about
1 ms each way, like a database across the network (RDS in the same region: 0.5-1 ms), which this kernel cannot
add itself (no ``netem``). The tests use it with no delay to count a request's database round trips: a round trip
is a turn of the conversation, the client speaking again after the server answered (a pipeline of statements with
one sync is one), which holds under TLS, where the proxy sees no message.

Bounded: it listens and connects on 127.0.0.1 only (a non-loopback target is refused), holds at most
``max_connections`` connections (more are closed at once), and at most ``QUEUE_CHUNKS`` chunks in flight per
direction (the reader waits: TCP back-pressure). Order is kept per direction; every chunk leaves ``delay_s`` after it
arrived, or later when the writer is behind.

    python -m tools.bench.delay_proxy --target-port 5432 [--delay-ms 1] [--port 0]   # prints "listening <port>"
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

QUEUE_CHUNKS = 256
CHUNK_BYTES = 65536


@dataclass
class ProxyStats:
    """What crossed the proxy: ``round_trips`` counts the client's turns (it sent after the server's last bytes, or
    first), ``connections`` every accepted connection, ``refused`` those over the limit."""

    round_trips: int = 0
    connections: int = 0
    refused: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


@dataclass
class _Turns:
    """Per connection: which side spoke last."""

    client_spoke_last: bool = False
    stats: ProxyStats = field(default_factory=ProxyStats)

    def client(self, size: int) -> None:
        if not self.client_spoke_last:
            self.stats.round_trips += 1
            self.client_spoke_last = True
        self.stats.bytes_up += size

    def server(self, size: int) -> None:
        self.client_spoke_last = False
        self.stats.bytes_down += size


def _loopback(host: str) -> str:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the delay proxy forwards to loopback only, not to {host!r}: give 127.0.0.1")
    return host


class DelayProxy:
    """``127.0.0.1:<port>`` -> ``target_host:target_port``, ``delay_s`` each way (0: no delay, counting only)."""

    def __init__(
        self,
        target_port: int,
        delay_s: float = 0.001,
        *,
        target_host: str = "127.0.0.1",
        port: int = 0,
        max_connections: int = 256,
    ) -> None:
        if not 0 <= delay_s <= 1:
            raise ValueError(f"delay_s must be between 0 and 1 second, got {delay_s}")
        self.target = (_loopback(target_host), target_port)
        self.delay_s, self.port, self.max_connections = delay_s, port, max_connections
        self.stats = ProxyStats()
        self._open: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; returns the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and end every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._open):
            task.cancel()
        await asyncio.gather(*self._open, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._open) >= self.max_connections:
            self.stats.refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        self.stats.connections += 1
        try:
            await self._relay(reader, writer)
        finally:
            self._open.discard(task)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        turns = _Turns(stats=self.stats)
        pumps = [
            asyncio.create_task(self._pump(client_reader, server_writer, turns.client)),
            asyncio.create_task(self._pump(server_reader, client_writer, turns.server)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_writer, server_writer):
                writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Callable[[int], None]
    ) -> None:
        """Reads chunks, and writes each ``delay_s`` after it arrived, in order (a writer task per direction)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(CHUNK_BYTES)
                if data:
                    seen(len(data))
                await queue.put((loop.time() + self.delay_s, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if writer.can_write_eof():
                try:
                    writer.write_eof()
                except OSError:
                    pass


class ThreadedProxy:
    """A ``DelayProxy`` on an event loop of its own thread, for synchronous code (the tests):
    ``with ThreadedProxy(port, 0) as proxy: ... proxy.port, proxy.stats``. Stops within seconds on exit."""

    def __init__(self, target_port: int, delay_s: float = 0.001, *, max_connections: int = 256) -> None:
        self.proxy = DelayProxy(target_port, delay_s, max_connections=max_connections)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)

    @property
    def port(self) -> int:
        return self.proxy.port

    @property
    def stats(self) -> ProxyStats:
        return self.proxy.stats

    def __enter__(self) -> ThreadedProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.proxy.close(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


async def _serve(proxy: DelayProxy) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening {await proxy.start()}", flush=True)
    try:
        await stop.wait()
    finally:
        await proxy.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-port", type=int, required=True, help="the loopback port to forward to")
    parser.add_argument("--target-host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--delay-ms", type=float, default=1.0, help="added each way, 0 to 1000 (default 1)")
    parser.add_argument("--port", type=int, default=0, help="listening port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--max-connections", type=int, default=256)
    args = parser.parse_args(argv)
    try:
        proxy = DelayProxy(
            args.target_port,
            args.delay_ms / 1000,
            target_host=args.target_host,
            port=args.port,
            max_connections=args.max_connections,
        )
    except ValueError as error:
        print(f"delay_proxy: {error}", file=sys.stderr)
        return 2
    asyncio.run(_serve(proxy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
