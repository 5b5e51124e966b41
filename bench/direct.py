"""The single-process floor: the checkout a shop would write without microservices, measured beside ours.

One FastAPI process over asyncpg answers ``POST /v1/orders`` (the body and ``Idempotency-Key`` the gateway
takes) in one transaction: a conditional ``UPDATE ... WHERE on_hand - reserved >= n RETURNING`` takes the stock,
an ``INSERT`` stores the order (a repeated key answers the first order), and it answers 202, or 409 ``sold_out``.
No broker, no saga, no telemetry: what the drop's decision costs when nothing else is paid for.

``python -m bench.direct --database-url URL --port PORT`` serves it (the bench starts it as its own process, so
its CPU is measured from /proc as the shop's processes are).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bench.infra import recreate_database

SCHEMA = """
CREATE TABLE stock (sku text PRIMARY KEY, on_hand int NOT NULL, reserved int NOT NULL DEFAULT 0,
                    price int NOT NULL, CHECK (reserved >= 0 AND reserved <= on_hand));
CREATE TABLE orders (id uuid PRIMARY KEY, idempotency_key text NOT NULL UNIQUE, email text NOT NULL,
                     sku text NOT NULL, quantity int NOT NULL, total int NOT NULL, currency text NOT NULL,
                     shipping_address jsonb NOT NULL, payment_token text NOT NULL, status text NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now());
"""
POOL = 8


class Line(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100)


class Payment(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class CheckoutIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    locale: str
    currency: str = Field(min_length=3, max_length=3)
    lines: list[Line] = Field(min_length=1, max_length=1)
    shipping_address: dict[str, str]
    shipping_method: str
    payment: Payment


def create_app(database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(database_url, min_size=POOL, max_size=POOL)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/orders", status_code=202)
    async def place_order(
        body: CheckoutIn,
        request: Request,
        idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    ) -> JSONResponse:
        line = body.lines[0]
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as connection:
            replayed = await connection.fetchval(
                "SELECT id FROM orders WHERE idempotency_key = $1", idempotency_key
            )
            if replayed is not None:
                return JSONResponse({"id": str(replayed), "status": "placed"}, status_code=202)
            order_id = uuid.uuid4()
            async with connection.transaction():
                price = await connection.fetchval(
                    "UPDATE stock SET reserved = reserved + $2 WHERE sku = $1 AND on_hand - reserved >= $2 "
                    "RETURNING price",
                    line.sku,
                    line.quantity,
                )
                if price is None:
                    return _sold_out(line.sku)
                await connection.execute(
                    "INSERT INTO orders (id, idempotency_key, email, sku, quantity, total, currency, "
                    "shipping_address, payment_token, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'placed')",
                    order_id,
                    idempotency_key,
                    body.email,
                    line.sku,
                    line.quantity,
                    price * line.quantity,
                    body.currency,
                    _json(body.shipping_address),
                    body.payment.token,
                )
        return JSONResponse(
            {"id": str(order_id), "status": "placed"},
            status_code=202,
            headers={"Location": f"/v1/orders/{order_id}"},
        )

    return app


def _json(value: dict[str, str]) -> str:
    return json.dumps(value)


def _sold_out(sku: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": f"{sku} is sold out", "status": 409, "code": "sold_out"},
        status_code=409,
        media_type="application/problem+json",
    )


async def prepare(name: str, stock: dict[str, int], price: int = 39000) -> str:
    """A fresh database for the floor with ``stock`` (SKU -> units); its URL."""
    url = await recreate_database(name)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(SCHEMA)
        await connection.executemany(
            "INSERT INTO stock (sku, on_hand, price) VALUES ($1, $2, $3)",
            [(sku, units, price) for sku, units in stock.items()],
        )
    finally:
        await connection.close()
    return url


async def add_stock(url: str, sku: str, units: int, price: int = 39000) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO stock (sku, on_hand, price) VALUES ($1, $2, $3)", sku, units, price
        )
    finally:
        await connection.close()


async def counts(url: str, sku: str) -> tuple[int, int, int]:
    """(on hand, reserved, orders) of ``sku``: the floor's own oversell check."""
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow("SELECT on_hand, reserved FROM stock WHERE sku = $1", sku)
        orders = await connection.fetchval("SELECT count(*) FROM orders WHERE sku = $1", sku)
    finally:
        await connection.close()
    return int(row["on_hand"]), int(row["reserved"]), int(orders)


def start(database_url: str, port: int) -> subprocess.Popen[bytes]:
    """The floor as its own process, answering once ``/ready`` does."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.direct", "--database-url", database_url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the direct checkout died: {process.stderr.read().decode()[-800:] if process.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise TimeoutError("the direct checkout never became ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.direct", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    config = uvicorn.Config(
        create_app(arguments.database_url),
        host="127.0.0.1",
        port=arguments.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
