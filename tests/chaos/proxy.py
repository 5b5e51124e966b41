"""A slow, flaky TCP proxy for PostgreSQL: latency on every chunk, and now and then a connection cut.

It runs its own event loop in a thread, so a test that blocks (waiting for a process to stop) never stalls
the traffic of the processes behind it.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass


@dataclass
class ProxyStats:
    connections: int = 0
    dropped: int = 0
    chunks: int = 0


class FlakyProxy:
    def __init__(
        self,
        *,
        listen_port: int,
        target_host: str = "127.0.0.1",
        target_port: int = 5432,
        latency_ms: tuple[float, float] = (2, 25),
        drop_every_seconds: float = 2.0,
        seed: int = 7,
    ) -> None:
        self.listen_port = listen_port
        self.target = (target_host, target_port)
        self.latency = latency_ms
        self.drop_every = drop_every_seconds
        self.stats = ProxyStats()
        self._random = random.Random(seed)
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._failed: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="flaky-proxy", daemon=True)

    def start(self) -> FlakyProxy:
        """Listen (on ``listen_port``, or a free port the system picks for 0: see ``port``) and serve."""
        self._thread.start()
        assert self._started.wait(10), "the proxy did not start"
        if self._failed is not None:
            raise RuntimeError(f"the proxy could not listen on port {self.listen_port}") from self._failed
        return self

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.listen_port

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as error:  # told to start(), which is waiting for this thread
            self._failed = error
            self._started.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)
        self.listen_port = server.sockets[0].getsockname()[1]
        dropper = asyncio.create_task(self._drop_now_and_then())
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            dropper.cancel()
            server.close()
            for writer in list(self._open):
                writer.transport.abort()
            await server.wait_closed()

    async def _drop_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(self.drop_every * self._random.uniform(0.5, 1.5))
            if self._open:
                victim = self._random.choice(sorted(self._open, key=id))
                victim.transport.abort()
                self.stats.dropped += 1

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.add(client_writer)
        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer),
                self._pipe(server_reader, client_writer),
                return_exceptions=True,
            )
        finally:
            self._open.discard(client_writer)
            client_writer.transport.abort()
            server_writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(self._random.uniform(*self.latency) / 1000)
                self.stats.chunks += 1
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()


def wait_port_free(port: int, timeout: float = 5) -> None:  # pragma: no cover - helper for reruns
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.1)
