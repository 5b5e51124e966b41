"""Every service's migrations build exactly the tables its code declares (no drift between the two)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from shop_catalog.bootstrap import DEFINITION as CATALOG
from shop_fulfillment.bootstrap import DEFINITION as FULFILLMENT
from shop_notifications.bootstrap import DEFINITION as NOTIFICATIONS
from shop_orders.bootstrap import DEFINITION as ORDERS
from shop_payments.bootstrap import DEFINITION as PAYMENTS
from shop_runtime.database import create_engine
from shop_runtime.service import ServiceDefinition
from tests.support import infra

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "definition", [CATALOG, ORDERS, PAYMENTS, FULFILLMENT, NOTIFICATIONS], ids=lambda d: d.name
)
async def test_migrations_match_the_declared_tables(definition: ServiceDefinition) -> None:
    settings = infra.service_settings(definition, suffix="_migrations")
    await infra.fresh_database(definition, settings)
    engine = create_engine(settings)

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, definition.metadata))

    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
        await infra.drop_database(settings.database_url)
    assert found == [], f"{definition.name}: tables and migrations differ: {found}"
