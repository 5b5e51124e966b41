"""No card data and no secret in what the shop stores or logs. Named to run last (pytest takes files in name
order), so it scans what every other system test made the shop write: all text and JSON columns of every
service database (outbox and inbox payloads included), every process log and every span file."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from scripts.stack import SERVICES, Stack
from shop_storefront import checkout, new_sku
from tests.support.leaks import Leak, scan_database, scan_files
from tests.system.shop import place_order, product_in_stock, wait_for_status

pytestmark = pytest.mark.system


async def test_card_data_is_refused_and_nothing_stored_or_logged_holds_card_data_or_secrets(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("SCAN")
    await product_in_stock(gateway, sku=sku, units=5)
    for payment in (
        {"token": "4242 4242 4242 4242"},
        {"token": "5555-5555-5555-4444"},
        {"token": "tok_visa", "cvv": "737"},
        {"token": "tok_visa", "card_number": "378282246310005"},
    ):
        refused = await place_order(gateway, {**checkout(sku), "payment": payment})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "card_data_refused"
        assert "PSP token" in refused.json()["title"]
    note = {
        **checkout(sku),
        "shipping_address": {**checkout(sku)["shipping_address"], "line2": "4111111111111111"},
    }
    assert (await place_order(gateway, note)).json()["code"] == "card_data_refused"
    placed = await place_order(gateway, checkout(sku))
    await wait_for_status(gateway, placed.json(), "confirmed")

    leaks: list[Leak] = []
    columns_read = 0
    for service in SERVICES:
        engine = create_async_engine(stack.config.database_url(service))
        async with engine.connect() as connection:
            if service == SERVICES[0]:  # the scanner finds what is planted, or its silence means nothing
                await connection.execute(sa.text("CREATE TEMP TABLE planted (note text, data jsonb)"))
                await connection.execute(
                    sa.text("INSERT INTO planted VALUES ('pay 4111 1111 1111 1111', '{\"cvc\": \"123\"}')")
                )
                planted, _ = await scan_database(connection, name=service)
                assert sorted(leak.what for leak in planted if ".planted." in leak.where) == [
                    "card data field 'cvc'",
                    "card number ending 1111",
                ]
                await connection.execute(sa.text("DROP TABLE planted"))
            found, columns = await scan_database(connection, name=service)
        await engine.dispose()
        leaks += found
        columns_read += columns
    assert columns_read >= 50  # every table's text and JSON columns, outbox and inbox payloads among them

    files = sorted([*stack.config.log_dir.glob("*.log"), *stack.config.span_dir.glob("*.jsonl")])
    assert {path.stem for path in files} >= {"gateway", "orders-worker", "payments-http", "payments"}
    secrets = [
        stack.config.staff_api_key,
        stack.config.warehouse_api_key,
        stack.config.psp_webhook_secret,
        stack.config.warehouse_signing_secret,
    ]
    assert all(
        len(secret) >= 16 and "test" in secret for secret in secrets
    )  # distinctive: a find means a leak
    leaks += scan_files(files, secrets=secrets)

    assert not leaks, "\n".join(str(leak) for leak in leaks[:50])
