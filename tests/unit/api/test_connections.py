"""Pooled HTTP/1.1 connections to one service (what the gateway calls every service with, and orders calls
catalog's holds with), against small servers on the loopback: kept-alive connections reused and replaced, whole
requests and answers, timeouts as httpx's, and calls beyond the connections waiting their turn."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvloop

from shop_api.connections import ServiceConnections


class Server:
    """Answers each request with its method and target as JSON; counts connections; can close idle ones."""

    def __init__(self, *, chunked: bool = False) -> None:
        self.connections = 0
        self.chunked = chunked
        self.writers: list[asyncio.StreamWriter] = []
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                method, target = head.split(b" ")[:2]
                payload = json.dumps({"method": method.decode(), "target": target.decode()}).encode()
                if self.chunked:
                    half = len(payload) // 2
                    chunks = [payload[:half], payload[half:]]
                    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                        + framed
                    )
                else:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                        % (len(payload), payload)
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def close_idle(self) -> None:
        for writer in self.writers:
            writer.close()


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[str]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close_idle()
        listener.close()


async def test_calls_reuse_one_kept_alive_connection_and_send_json_and_query() -> None:
    server = Server()
    async with serving(server) as url:
        connections = ServiceConnections(url, timeout=2, user_agent="shop-gateway")
        first = await connections.request("POST", "/orders", json={"sku": "TEE-1"}, headers={"X-A": "1"})
        second = await connections.request("GET", "/products", params={"limit": 5, "staff": "true"})
        await connections.aclose()
    assert first.status_code == 200
    assert first.json() == {"method": "POST", "target": "/orders"}
    assert second.json()["target"] == "/products?limit=5&staff=true"
    assert server.connections == 1
    assert b'\r\n\r\n{"sku":"TEE-1"}' in server.requests[0]
    assert b"content-type: application/json" in server.requests[0].lower()


async def test_a_connection_the_service_closed_while_idle_is_replaced() -> None:
    server = Server()
    async with serving(server) as url:
        connections = ServiceConnections(url, timeout=2, user_agent="shop-gateway")
        await connections.request("GET", "/a")
        server.close_idle()
        await asyncio.sleep(0.05)
        again = await connections.request("GET", "/b")
        await connections.aclose()
    assert again.json()["target"] == "/b"
    assert server.connections == 2


async def test_a_chunked_answer_is_read_whole() -> None:
    async with serving(Server(chunked=True)) as url:
        connections = ServiceConnections(url, timeout=2, user_agent="shop-gateway")
        answer = await connections.request("GET", "/chunks")
        await connections.aclose()
    assert answer.json() == {"method": "GET", "target": "/chunks"}


async def test_a_line_break_in_a_header_is_refused_before_anything_is_sent() -> None:
    server = Server()
    async with serving(server) as url:
        connections = ServiceConnections(url, timeout=2, user_agent="shop-gateway")
        with pytest.raises(httpx.LocalProtocolError):
            await connections.request("GET", "/x", headers={"X-Evil": "a\r\nX-Injected: 1"})
        await connections.aclose()
    assert server.requests == []


def test_calls_work_on_uvloops_loop_as_the_gateway_runs_them() -> None:
    """The HTTP processes run on uvloop, whose transports are not asyncio's classes: a call, a kept-alive
    connection reused, and one the service closed while idle replaced, there too."""

    async def calls() -> tuple[list[Any], int]:
        server = Server()
        async with serving(server) as url:
            connections = ServiceConnections(url, timeout=2, user_agent="shop-gateway")
            first = await connections.request("POST", "/orders", content=b'{"sku":"TEE-1"}')
            second = await connections.request("GET", "/a")
            server.close_idle()
            await asyncio.sleep(0.05)
            third = await connections.request("GET", "/b")
            await connections.aclose()
        return [first.json(), second.json(), third.json()], server.connections

    answers, connections = uvloop.run(calls())
    assert answers == [
        {"method": "POST", "target": "/orders"},
        {"method": "GET", "target": "/a"},
        {"method": "GET", "target": "/b"},
    ]
    assert connections == 2


async def test_a_request_leaves_in_one_write_head_and_body_together() -> None:
    """httpcore writes a request's head and body separately; they reach the service as one segment."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))  # the first read holds whatever the first write sent
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    connections = ServiceConnections(f"http://127.0.0.1:{port}", timeout=2, user_agent="shop-gateway")
    answer = await connections.request("POST", "/orders", json={"sku": "TEE-1"})
    await connections.aclose()
    listener.close()
    assert answer.status_code == 200
    assert received[0].startswith(b"POST /orders HTTP/1.1\r\n")
    assert received[0].endswith(b'\r\n\r\n{"sku":"TEE-1"}')


async def test_a_service_that_does_not_answer_in_time_is_a_read_timeout() -> None:
    timed_out = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await timed_out.wait()
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    connections = ServiceConnections(f"http://127.0.0.1:{port}", timeout=0.2, user_agent="shop-gateway")
    with pytest.raises(httpx.ReadTimeout):
        await connections.request("GET", "/slow")
    timed_out.set()
    await connections.aclose()
    listener.close()


# --- calls that wait for a connection ---------------------------------------------------------------------------


class HoldingServer:
    """Takes each request (recording its target in arrival order) and answers only when ``release`` is set.

    With ``trickle`` it starts a chunked answer at once and sends a chunk every few milliseconds until then, so
    the call holds its connection for as long as the test likes without ever timing out on a read."""

    def __init__(self, *, trickle: bool = False) -> None:
        self.trickle = trickle
        self.connections = 0
        self.targets: list[str] = []
        self.release = asyncio.Event()
        self.arrived = asyncio.Condition()
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                async with self.arrived:
                    self.targets.append(head.split(b" ")[1].decode())
                    self.arrived.notify_all()
                if self.trickle:
                    await self._trickle(writer)
                    continue
                await self.release.wait()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _trickle(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        while not self.release.is_set():
            writer.write(b"1\r\n \r\n")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 0.02)
        writer.write(b"2\r\n{}\r\n0\r\n\r\n")
        await writer.drain()

    async def wait_for_requests(self, count: int) -> None:
        async with asyncio.timeout(5), self.arrived:
            await self.arrived.wait_for(lambda: len(self.targets) >= count)


@contextlib.asynccontextmanager
async def holding(server: HoldingServer) -> AsyncIterator[str]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.release.set()
        for writer in server.writers:
            writer.close()
        listener.close()


async def test_calls_beyond_the_connections_wait_their_turn_in_arrival_order_on_as_many_connections() -> None:
    server = HoldingServer()
    async with holding(server) as url:
        connections = ServiceConnections(url, timeout=5, user_agent="shop-gateway", max_connections=2)
        calls = []
        for number in range(6):
            calls.append(asyncio.create_task(connections.request("GET", f"/call/{number}")))
            await asyncio.sleep(0)  # each call queues before the next is made
        await server.wait_for_requests(2)
        assert server.targets == ["/call/0", "/call/1"]  # the others wait in the gateway, not at the service
        server.release.set()
        answers = await asyncio.gather(*calls)
        await connections.aclose()
    assert [answer.status_code for answer in answers] == [200] * 6
    assert server.targets == [f"/call/{number}" for number in range(6)]
    assert server.connections == 2


async def test_a_call_that_gets_no_connection_within_the_timeout_is_a_pool_timeout() -> None:
    server = HoldingServer(trickle=True)
    async with holding(server) as url:
        connections = ServiceConnections(url, timeout=0.5, user_agent="shop-gateway", max_connections=1)
        first = asyncio.create_task(connections.request("GET", "/busy"))
        await server.wait_for_requests(1)
        with pytest.raises(httpx.PoolTimeout):
            await connections.request("GET", "/waits")
        server.release.set()
        assert (await first).json() == {}
        await connections.aclose()
    assert "/waits" not in server.targets


async def test_a_call_cancelled_while_waiting_gives_its_turn_back() -> None:
    server = HoldingServer()
    async with holding(server) as url:
        connections = ServiceConnections(url, timeout=5, user_agent="shop-gateway", max_connections=1)
        first = asyncio.create_task(connections.request("GET", "/first"))
        await server.wait_for_requests(1)
        waiting = asyncio.create_task(connections.request("GET", "/cancelled"))
        await asyncio.sleep(0)
        waiting.cancel()
        server.release.set()
        assert (await first).status_code == 200
        after = await connections.request("GET", "/after")
        await connections.aclose()
    assert waiting.cancelled()
    assert after.status_code == 200
    assert server.targets == ["/first", "/after"]
    assert server.connections == 1


async def test_an_answer_that_closes_its_connection_is_not_reused() -> None:
    opened: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(1)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        )
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    connections = ServiceConnections(f"http://127.0.0.1:{port}", timeout=2, user_agent="shop-gateway")
    answers = [await connections.request("GET", f"/{number}") for number in range(3)]
    await connections.aclose()
    listener.close()
    assert [answer.json() for answer in answers] == [{}, {}, {}]
    assert len(opened) == 3
