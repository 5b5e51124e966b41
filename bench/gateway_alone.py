"""``python -m bench.gateway_alone``: the gateway's own CPU per checkout, with nothing else of the shop behind it.

The gateway process runs as the stack runs it, in front of a canned orders process (a few lines of asyncio in
this process answering ``POST /orders`` with orders' 409 ``sold_out`` problem or a 202 body, at almost no CPU),
and wrk drives checkouts through it with bench/checkout.lua: for each number of connections, sold out then
placed, ``--seconds`` each after a short warm-up. It prints the gateway's CPU ms per request (from /proc) and the
requests per second it answered, into var/bench/gateway-alone-<time>/. In the whole stack the gateway answers only as fast as orders does, and its
CPU per request is higher at low rates (its loop wakes once per event instead of batching them); this shows what
the gateway itself costs when the crowd is fast. It never passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import httpx

from bench import infra, wrk

SOLD_OUT = json.dumps(
    {
        "type": "https://problems.shop.example/sold-out",
        "title": "Sold out",
        "status": 409,
        "detail": "BENCH-1 is sold out",
        "instance": "/orders",
        "code": "sold_out",
    }
).encode()
PLACED = json.dumps(
    {"id": "0b7b1d2e-8a53-4a43-9d6a-0c1f0b0e7a11", "status": "pending", "access_token": "t" * 43}
).encode()


class CannedOrders:
    """Answers every POST with ``self.answer`` (409 or 202) and every GET with 200, over HTTP/1.1 keep-alive."""

    def __init__(self) -> None:
        self.answer = 409
        self.connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def close(self) -> None:
        """End every connection's task (the gateway keeps its pool's connections open until it exits)."""
        for writer in self.connections.values():
            writer.close()  # its reader sees the end of the stream, so its task ends
        await asyncio.gather(*self.connections, return_exceptions=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections[task] = writer
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET"):
                    body, status, kind = b'{"status":"ok"}', b"200 OK", b"application/json"
                elif self.answer == 409:
                    body, status, kind = SOLD_OUT, b"409 Conflict", b"application/problem+json"
                else:
                    body, status, kind = PLACED, b"202 Accepted", b"application/json"
                writer.write(
                    b"HTTP/1.1 %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                    % (status, kind, len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.connections.pop(task, None)


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("the gateway exited at start-up; see its log")
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the gateway did not answer /health within 30 s")


async def main(arguments: argparse.Namespace) -> None:
    port = int(os.environ.get("SHOP_BENCH_PORT_BASE", "51000")) + 900
    orders_port = port + 1
    canned = CannedOrders()
    server = await asyncio.start_server(canned.handle, "127.0.0.1", orders_port)
    out = infra.VAR / f"gateway-alone-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "SHOP_STAFF_API_KEY": infra.STAFF_KEY,
        "SHOP_WAREHOUSE_API_KEY": infra.WAREHOUSE_KEY,
        "SHOP_GATEWAY_CUSTOMER_TOKEN_KEYS": "local-stack-only-customer-token-signing-key",
        "SHOP_GATEWAY_PORT": str(port),
        "SHOP_ORDERS_URL": f"http://127.0.0.1:{orders_port}",
        "SHOP_GATEWAY_CHECKOUT_RATE_PER_SECOND": "0",
    }
    with (out / "gateway.log").open("wb") as log:
        gateway = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
            [sys.executable, "-m", "shop_gateway"], env=environment, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    results = []
    try:
        await wait_ready(url, gateway)
        for connections in arguments.connections:
            for answer in (409, 202):
                canned.answer = answer
                label = f"{'sold out' if answer == 409 else 'placed'}, {connections} connections"
                warm_up = wrk.Load(seconds=2, connections=connections)
                measured = wrk.Load(seconds=arguments.seconds, connections=connections)
                await asyncio.to_thread(wrk.run, url, sku="BENCH-1", load=warm_up, pids={}, label="warm-up")
                result = await asyncio.to_thread(
                    wrk.run, url, sku="BENCH-1", load=measured, pids={"gateway": gateway.pid}, label=label
                )
                results.append(result)
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=15)
        server.close()
        await canned.close()
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_alone", description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 256])
    parser.add_argument("--seconds", type=float, default=8.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
