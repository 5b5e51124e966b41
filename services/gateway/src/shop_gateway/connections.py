"""The gateway's pooled HTTP/1.1 connections to the services: httpcore's pool and protocol over asyncio's own
transports.

httpcore does the HTTP work (framing with h11, keeping connections alive, replacing one the service closed,
protocol errors, header checks); this module gives it its network layer, the documented extension point of
httpcore (``AsyncNetworkBackend``), in place of its default over anyio. Over anyio, every write and read went
through a cancel scope and a deadline, and the pool's check of each idle connection (has the service closed it?)
built anyio's table of socket attributes and polled the socket, for every connection on every request: together
more CPU than the rest of the call. Here the event loop tells the connection when the service closed it, a read
waits on one future, and a request's head and body leave in one write (one system call, which on the loopback
also pays for the receiving side) because a request is always sent whole before its answer is read."""

from __future__ import annotations

import asyncio
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
    for kind in type(error).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(error))
    return error


class ServiceConnections:
    """One service's pooled HTTP/1.1 connections: httpcore's pool over ``AsyncioBackend``, without httpx's
    client and transport layers the gateway never uses (redirects, cookies, auth flows, URL merging, event hooks,
    streamed bodies).

    It answers and fails as ``httpx.AsyncClient.request`` does: an ``httpx.Response`` with the body read, or an
    ``httpx.TransportError`` (connect, read, write, pool timeouts; a connection the service closed; a header
    that would break the request). ``timeout`` applies to each step, as the client's does. A kept-alive
    connection the service closed while idle is replaced by httpcore, as under the client."""

    MAX_CONNECTIONS = 100
    """As httpx's default: more calls at once wait for a free connection (for up to ``timeout``)."""
    IDLE_SECONDS = 4.0
    """A connection idle longer is not used again: uvicorn closes idle ones after 5 s."""

    def __init__(self, base_url: str, *, timeout: float, user_agent: str) -> None:
        if httpx.URL(base_url).scheme != "http":
            raise ValueError(f"services are called over plain HTTP inside the cluster, not {base_url}")
        self.base_url = base_url.rstrip("/")
        self._user_agent = user_agent
        self._timeout = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=self.MAX_CONNECTIONS,
            max_keepalive_connections=self.MAX_CONNECTIONS,
            keepalive_expiry=self.IDLE_SECONDS,
            network_backend=AsyncioBackend(),
        )

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
            extensions={"timeout": self._timeout},
        )
        url = request.url
        try:
            answer = await self._pool.request(
                request.method,
                httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
                headers=request.headers.raw,
                content=request.content,
                extensions=request.extensions,
            )
        except Exception as error:
            mapped = _as_httpx(error)
            if mapped is error:
                raise
            raise mapped from error
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=answer.content,
            extensions=answer.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
