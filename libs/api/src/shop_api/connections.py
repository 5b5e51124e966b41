"""Pooled HTTP/1.1 connections to one service: httpcore's HTTP/1.1 protocol over asyncio's own transports, in a
pool of one origin's connections. The gateway calls every service through one (``shop_gateway.services``), and
orders calls catalog's holds at checkout through another.

httpcore does the HTTP work (framing with h11, keeping connections alive, replacing one the service closed,
protocol errors, header checks); this module gives it its network layer, the documented extension point of
httpcore (``AsyncNetworkBackend``), in place of its default over anyio. Over anyio, every write and read went
through a cancel scope and a deadline, and the pool's check of each idle connection (has the service closed it?)
built anyio's table of socket attributes and polled the socket, for every connection on every request: together
more CPU than the rest of the call (and httpcore's general pool adds work per call that grows with the calls
waiting: see ``ServiceConnections``). Here the event loop tells the connection when the service closed it, a read
waits on one future, and a request's head and body leave in one write (one system call, which on the loopback
also pays for the receiving side) because a request is always sent whole before its answer is read."""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

_FLUSH_AT = 64 * 1024
"""Bytes of a request kept back at most before they are written (a larger body is written as it comes)."""


class _ConnectionProtocol(asyncio.Protocol):
    """What the event loop reports on one connection: bytes received, the end of the stream, flow control."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.ended = False
        self.error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.received += data
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # close the transport: the service will send nothing more

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self._wake()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait_for_data(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def drain(self) -> None:
        if self._drained is not None and not self._drained.done():
            await self._drained


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP connection as httpcore uses it. Writes are kept back until the answer is read (or up to
    ``_FLUSH_AT`` bytes): httpcore writes a request's head and its body separately."""

    def __init__(self, transport: asyncio.Transport, protocol: _ConnectionProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush(timeout)
        protocol = self._protocol
        if not protocol.received and not protocol.ended:
            try:
                async with asyncio.timeout(timeout):
                    await protocol.wait_for_data()
            except TimeoutError as error:
                raise httpcore.ReadTimeout(str(error) or "timed out reading the answer") from error
        if protocol.received:
            data = bytes(protocol.received[:max_bytes])
            del protocol.received[:max_bytes]
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error)) from protocol.error
        return b""  # the service closed the connection: httpcore tells what that means at this point

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._pending.append(buffer)
        self._pending_bytes += len(buffer)
        if self._pending_bytes >= _FLUSH_AT:
            await self._flush(timeout)

    async def _flush(self, timeout: float | None) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(data)
        try:
            async with asyncio.timeout(timeout):
                await self._protocol.drain()
        except TimeoutError as error:
            raise httpcore.WriteTimeout(str(error) or "timed out writing the request") from error

    async def aclose(self) -> None:
        self._pending.clear()
        self._transport.close()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("services are called over plain HTTP inside the cluster")

    def get_extra_info(self, info: str) -> Any:
        if (
            info == "is_readable"
        ):  # asked of an idle connection: the service closed it, or sent what nobody asked
            return self._protocol.ended or bool(self._protocol.received)
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections with the running event loop (asyncio's or uvloop's); TCP_NODELAY is the loop's
    default for TCP."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _ConnectionProtocol,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                )
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(str(error) or f"timed out connecting to {host}:{port}") from error
        except OSError as error:
            raise httpcore.ConnectError(str(error)) from error
        raw: socket.socket | None = transport.get_extra_info("socket")
        for option in socket_options or ():
            if raw is not None:
                raw.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("services are called over TCP")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _as_httpx(error: Exception) -> Exception:
    """httpcore's exception as httpx's of the same name (httpx's own transport does the same), so callers see the
    errors httpx's client raises."""
    if isinstance(error, httpx.HTTPError):
        return error
    for kind in type(error).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(error))
    return error


class ServiceConnections:
    """One service's pooled HTTP/1.1 connections: httpcore's HTTP/1.1 connection over ``AsyncioBackend``, kept
    in a pool of this module's own, without httpx's client and transport layers a call between services never
    uses (redirects, cookies, auth flows, URL merging, event hooks, streamed bodies).

    It answers and fails as ``httpx.AsyncClient.request`` does: an ``httpx.Response`` with the body read, or an
    ``httpx.TransportError`` (connect, read, write, pool timeouts; a connection the service closed; a header
    that would break the request). ``timeout`` applies to each step, as the client's does. A kept-alive
    connection the service closed while idle is replaced, as under the client.

    The pool is one service's (one origin), so it needs none of httpcore's general pool: that one, on every
    request and every answer, walks its queue of waiting requests against every connection, and checks every
    idle connection against every other. With many checkouts waiting on a busy service (a drop) that walk cost
    the caller more CPU than the call itself (the gateway calling orders, orders calling catalog's holds). Here
    a call takes a turn from a first-come-first-served semaphore of ``max_connections`` turns (waiting at most
    ``timeout``, then ``httpx.PoolTimeout``), then the most recently used idle connection (or a new one):
    constant work per call however many wait."""

    MAX_CONNECTIONS = 100
    """As httpx's default: more calls at once wait for a free connection (for up to ``timeout``)."""
    IDLE_SECONDS = 4.0
    """A connection idle longer is not used again: uvicorn closes idle ones after 5 s."""

    def __init__(
        self, base_url: str, *, timeout: float, user_agent: str, max_connections: int = MAX_CONNECTIONS
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme != "http":
            raise ValueError(f"services are called over plain HTTP inside the cluster, not {base_url}")
        if max_connections < 1:
            raise ValueError("a service needs at least one connection")
        self.base_url = base_url.rstrip("/")
        self._user_agent = user_agent
        self._timeout = timeout
        self._timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        self._origin = httpcore.Origin(b"http", url.raw_host, url.port or 80)
        self._host = url.host
        self._port = url.port or 80
        self._backend = AsyncioBackend()
        self._turns = asyncio.Semaphore(max_connections)
        self._idle: collections.deque[httpcore.AsyncHTTP11Connection] = collections.deque()
        """Most recently used on the right (taken first); the longest idle on the left (expire first)."""
        self._closed = False

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        request = httpx.Request(
            method,
            httpx.URL(self.base_url + path, params=params),
            json=json,
            content=content,
            headers={"User-Agent": self._user_agent, **(headers or {})},
            extensions={"timeout": self._timeouts},
        )
        url = request.url
        try:
            sent = httpcore.Request(
                request.method,
                httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
                headers=request.headers.raw,
                content=request.content,
                extensions=request.extensions,
            )
            await self._take_turn()
            try:
                answer, body = await self._send(sent)
            finally:
                self._turns.release()
        except Exception as error:
            mapped = _as_httpx(error)
            if mapped is error:
                raise
            raise mapped from error
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=body,
            extensions=answer.extensions,
            request=request,
        )

    async def _take_turn(self) -> None:
        """A turn to use a connection: at once when one is free, else in arrival order within the timeout."""
        if not self._turns.locked():
            await self._turns.acquire()  # does not wait: a turn is free and nobody is ahead
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._turns.acquire()
        except TimeoutError as error:
            raise httpx.PoolTimeout(
                f"no connection to {self.base_url} came free in {self._timeout:g} s"
            ) from error

    async def _send(self, request: httpcore.Request) -> tuple[httpcore.Response, bytes]:
        """The request on an idle connection or a new one, the answer read whole; the connection goes back to
        the idle ones when it may carry another request, and is closed otherwise."""
        while True:
            connection = await self._idle_connection() or await self._connect()
            try:
                answer = await connection.handle_async_request(request)
                try:
                    body = await answer.aread()
                finally:
                    await answer.aclose()
            except httpcore.ConnectionNotAvailable:
                continue  # it was taken between the check and the call; another one, as httpcore's pool does
            finally:
                await self._put_back(connection)
            return answer, body

    async def _idle_connection(self) -> httpcore.AsyncHTTP11Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.is_available() and not connection.has_expired():
                return connection
            await connection.aclose()  # the service closed it, or it was idle too long
        return None

    async def _connect(self) -> httpcore.AsyncHTTP11Connection:
        stream = await self._backend.connect_tcp(self._host, self._port, timeout=self._timeout)
        return httpcore.AsyncHTTP11Connection(self._origin, stream, keepalive_expiry=self.IDLE_SECONDS)

    async def _put_back(self, connection: httpcore.AsyncHTTP11Connection) -> None:
        if connection.is_idle() and not self._closed:
            self._idle.append(connection)
        elif not connection.is_closed():
            await connection.aclose()
        while self._idle and self._idle[0].has_expired():  # idle too long: closed before the service does
            await self._idle.popleft().aclose()

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            await self._idle.pop().aclose()
