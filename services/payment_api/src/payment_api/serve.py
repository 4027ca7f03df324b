"""``payment-api serve``: the API on every core, with TCP_NODELAY on every connection (issue 29).

One parent process binds the listening socket, then forks ``workers`` processes (default: one per CPU this process
may run on), each running uvicorn with its own application (its own pools) on that shared socket; the kernel
spreads the connections among them.

- TCP_NODELAY: the socket is made with ``IPPROTO_TCP`` as its protocol, and asyncio sets TCP_NODELAY on every
  connection accepted from such a socket. uvicorn's own multi-process mode binds with protocol 0, asyncio then
  leaves Nagle on, and every response (headers and body are two writes) waited ~40 ms for the client's delayed ACK.
- A port in use is refused, as with one process: ``SO_REUSEADDR`` only (a socket in TIME_WAIT), never
  ``SO_REUSEPORT``, so a second server on the same port fails with ``address already in use`` (exit status 1).
- Workers die with the parent: each asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), so
  a parent killed with SIGKILL leaves no worker serving. The parent forwards SIGTERM/SIGINT (uvicorn's graceful
  shutdown, 5 s) and SIGKILLs a worker still there 10 s later. A worker that dies on its own (a crash, the test
  crash hook) ends the server: the parent stops the others and ends the same way (the same signal, or exit status),
  and systemd's ``Restart=always`` starts it again, as it did the one process before.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

PR_SET_PDEATHSIG = 1
BACKLOG = 2048
STOP_GRACE_S = 10
LOG = logging.getLogger("payment_api.serve")


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


def bind(host: str, port: int) -> socket.socket:
    """The listening socket: IPv4 or IPv6 by ``host``, protocol ``IPPROTO_TCP`` (asyncio sets TCP_NODELAY on what
    it accepts), ``SO_REUSEADDR`` and never ``SO_REUSEPORT``. Raises ``OSError`` (``EADDRINUSE``) for a port in use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _die_with_parent(parent: int) -> None:
    """SIGTERM to this process when its parent dies; exit now when it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(0)  # pylint: disable=protected-access  # the parent is gone: serve nothing


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """How to serve: ``workers`` processes on ``host``:``port``.

    @default workers: one per CPU (``default_workers``)."""

    host: str
    port: int
    workers: int
    log_config: dict[str, Any]
    graceful_shutdown_s: int = 5


def _worker(app: Callable[[], Any], sock: socket.socket, options: ServeOptions, parent: int) -> int:
    import uvicorn  # pylint: disable=import-outside-toplevel

    _die_with_parent(parent)
    config = uvicorn.Config(
        app(),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=options.log_config,
        timeout_graceful_shutdown=options.graceful_shutdown_s,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


class _Supervisor:
    """The parent: forwards stop signals, and ends the server when a worker ends on its own."""

    def __init__(self, children: set[int]) -> None:
        self.children = children
        self.stopping = False

    def stop(self, signum: int, _frame: FrameType | None = None) -> None:
        self.stopping = True
        self._send(signal.SIGTERM if signum != signal.SIGALRM else signal.SIGKILL)
        if signum != signal.SIGALRM:
            signal.alarm(STOP_GRACE_S)

    def _send(self, signum: int) -> None:
        for pid in self.children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        """Until every worker is gone; the status the server ends with (negative: a signal)."""
        ended = 0
        while self.children:
            pid, status = os.wait()
            self.children.discard(pid)
            if not self.stopping:
                code = os.waitstatus_to_exitcode(status)
                LOG.error("worker ended on its own: the server stops", extra={"fields": {"pid": pid, "code": code}})
                ended = code or 1
                self.stop(signal.SIGTERM)
        signal.alarm(0)
        return ended


def serve(app: Callable[[], Any], options: ServeOptions) -> int:
    """Bind, fork the workers (each calls ``app`` for its own application), supervise; the exit status."""
    try:
        sock = bind(options.host, options.port)
    except OSError as error:
        print(f"payment-api: cannot listen on {options.host}:{options.port}: {error.strerror}", file=sys.stderr)
        return 1
    parent, children = os.getpid(), set()
    for _ in range(options.workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _worker(app, sock, options, parent)
            finally:
                os._exit(code)  # pylint: disable=protected-access  # a forked child never returns to the caller
        children.add(pid)
    # The parent keeps the socket open (it never accepts on it): the port is the server's own while it runs, and
    # a check of which process listens there (tools/dev/local_api/process.py) finds the one it started.
    supervisor = _Supervisor(children)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(signum, supervisor.stop)
    LOG.info("serving", extra={"fields": {"port": options.port, "workers": options.workers}})
    ended = supervisor.wait()
    if ended < 0:  # a worker was killed: so is the server, as the one process was before
        if -ended not in (signal.SIGKILL, signal.SIGSTOP):  # these two have no handler to reset
            signal.signal(-ended, signal.SIG_DFL)
        os.kill(os.getpid(), -ended)
    return ended
