"""Read-only snapshots of the service databases, taken in an order that keeps cross-service checks honest.

Every connection sets ``default_transaction_read_only`` and runs one ``REPEATABLE READ READ ONLY``
transaction, so each database is seen as of one instant and nothing the ops tool runs can write.

The databases cannot share one snapshot, so the order matters: orders is read first, then the services
whose work precedes or follows an order's status change. A status in orders is set only after the other
service committed its part (payment succeeded, shipment reported), so reading orders first means any fact
orders already knows is also visible in the later snapshots; what the later snapshots add (an order
confirmed a moment after orders was read) can only make a check more lenient, never raise a false alarm.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool


class DatabaseUnavailable(Exception):
    """A service database could not be opened; checks that need it cannot run."""


class Snapshots:
    """One read-only connection per service database, or the reason it could not be opened."""

    def __init__(self, connections: Mapping[str, AsyncConnection], failures: Mapping[str, str]) -> None:
        self._connections = dict(connections)
        self._failures = dict(failures)

    @property
    def failures(self) -> dict[str, str]:
        return dict(self._failures)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint on every connection: a query that fails (a missing column) spoils nothing after it."""
        async with AsyncExitStack() as stack:
            for connection in self._connections.values():
                await stack.enter_async_context(connection.begin_nested())
            yield

    def connection(self, service: str) -> AsyncConnection:
        try:
            return self._connections[service]
        except KeyError:
            reason = self._failures.get(service, "not opened")
            raise DatabaseUnavailable(f"{service} database unavailable: {reason}") from None


async def _open(stack: AsyncExitStack, url: str) -> AsyncConnection:
    engine = create_async_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "server_settings": {"default_transaction_read_only": "on", "application_name": "shop-ops"},
            "timeout": 10,
        },
    )
    stack.push_async_callback(engine.dispose)
    connection = await stack.enter_async_context(engine.connect())
    connection = await connection.execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    await stack.enter_async_context(connection.begin())
    # The snapshot of a REPEATABLE READ transaction is taken at its first statement: take it now.
    await connection.execute(sa.text("SELECT 1"))
    return connection


@asynccontextmanager
async def read_only_snapshots(database_urls: Mapping[str, str]) -> AsyncIterator[Snapshots]:
    """Open every database in the mapping's order; a database that fails is recorded, not fatal."""
    async with AsyncExitStack() as stack:
        connections: dict[str, AsyncConnection] = {}
        failures: dict[str, str] = {}
        for service, url in database_urls.items():
            try:
                connections[service] = await _open(stack, url)
            except Exception as error:
                failures[service] = f"{type(error).__name__}: {error}".splitlines()[0]
        yield Snapshots(connections, failures)
