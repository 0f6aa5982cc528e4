"""The public port: a TCP relay in front of the HTTPS server, so an outage in "refuse" mode
can close the port (clients get *connection refused*) and open it again afterwards.

TLS passes through untouched: the server behind it still terminates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger("sandboxes.salesforce.listener")
_CHUNK = 65_536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the end on (half-close)."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


class PublicPort:
    """Listens on ``host:port`` and relays each connection to ``upstream_port`` on loopback,
    except while ``refusing()`` says the port must be closed."""

    def __init__(self, host: str, port: int, upstream_port: int,
                 refusing: Callable[[], bool], poll_seconds: float = 0.05,
                 grace_seconds: float = 0.3) -> None:
        self._host = host
        self._port = port
        self._upstream_port = upstream_port
        self._refusing = refusing
        self._poll = poll_seconds
        # Connections open when an outage starts are cut after this grace, so the answer to
        # the call that started it still gets out.
        self._grace = grace_seconds
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        """Start listening now, unless an outage refuses connections (raises if taken)."""
        if not self._refusing():
            self._server = await asyncio.start_server(self._relay, self._host, self._port)

    async def run(self) -> None:
        """Follow the outage knob until cancelled; closes the port on the way out."""
        try:
            while True:
                refusing = self._refusing()
                if refusing and self._server is not None:
                    await self._close_port()
                    asyncio.get_running_loop().call_later(self._grace, self._cut_connections)
                    log.warning("outage: port %d refuses connections", self._port)
                elif not refusing and self._server is None:
                    self._server = await asyncio.start_server(self._relay, self._host,
                                                              self._port)
                    log.warning("outage over: port %d accepts connections", self._port)
                await asyncio.sleep(self._poll)
        finally:
            await self._close_port()
            self._cut_connections()

    async def _close_port(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def _cut_connections(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1",
                                                                 self._upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                self._open.discard(end)
                with contextlib.suppress(ConnectionError, OSError):
                    end.close()
