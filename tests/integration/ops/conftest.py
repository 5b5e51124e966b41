"""Fresh databases of every service (suffix ``_ops``) for the ops tool, and a way to write rows into them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shop_catalog.bootstrap import DEFINITION as CATALOG
from shop_fulfillment.bootstrap import DEFINITION as FULFILLMENT
from shop_notifications.bootstrap import DEFINITION as NOTIFICATIONS
from shop_ops.settings import OpsSettings
from shop_orders.bootstrap import DEFINITION as ORDERS
from shop_payments.bootstrap import DEFINITION as PAYMENTS
from tests.support import infra

SUFFIX = "_ops"
DEFINITIONS = (ORDERS, CATALOG, PAYMENTS, FULFILLMENT, NOTIFICATIONS)

# The audit exists to catch what a constraint may not (or no longer) prevent: the tests write such rows.
CONSTRAINTS_IN_THE_WAY = {
    "catalog": [("stock_levels", "reserved_within_on_hand")],
    "payments": [("payments", "payments_one_per_order_step"), ("ledger_entries", "ledger_refund_has_refund")],
}


@dataclass(frozen=True)
class ServiceDatabases:
    urls: dict[str, str]
    engines: dict[str, AsyncEngine]

    def settings(self, **overrides: object) -> OpsSettings:
        values: dict[str, object] = {f"{name}_database_url": url for name, url in self.urls.items()}
        values["amqp_url"] = infra.amqp_url()
        values.update(overrides)
        return OpsSettings(**values)  # type: ignore[arg-type]

    async def execute(self, service: str, *statements: sa.Executable) -> None:
        async with self.engines[service].begin() as connection:
            for statement in statements:
                await connection.execute(statement)

    async def truncate(self) -> None:
        for definition in DEFINITIONS:
            names = ", ".join(f'"{table.name}"' for table in definition.metadata.sorted_tables)
            await self.execute(definition.name, sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
async def service_databases() -> AsyncIterator[ServiceDatabases]:
    urls: dict[str, str] = {}
    for definition in DEFINITIONS:
        settings = infra.service_settings(definition, suffix=SUFFIX)
        await infra.fresh_database(definition, settings)
        urls[definition.name] = settings.database_url
    engines = {name: create_async_engine(url) for name, url in urls.items()}
    databases = ServiceDatabases(urls, engines)
    for service, constraints in CONSTRAINTS_IN_THE_WAY.items():
        for table, constraint in constraints:
            await databases.execute(
                service, sa.text(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{constraint}"')
            )
    yield databases
    await asyncio.gather(*(engine.dispose() for engine in engines.values()))
    for url in urls.values():
        await infra.drop_database(url)


@pytest.fixture
async def databases(service_databases: ServiceDatabases) -> ServiceDatabases:
    """The service databases, emptied for this test."""
    await service_databases.truncate()
    return service_databases
