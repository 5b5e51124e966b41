"""Loading and saving orders inside a unit of work. The columns hold amounts in minor units; the order holds them
as ``Money`` in its currency, converted here as it is loaded and saved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from shop_contracts.money import CurrencyMismatch, Money
from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import Availability, CatalogVariant, GroupStatus, OrderStatus
from shop_orders.core.errors import DiscountCodeError, UnknownDiscountCode, UnknownOrder
from shop_orders.core.order import ORDER_COLUMNS, ORDER_MONEY, Order
from shop_orders.core.parts import (
    GROUP_COLUMNS,
    GROUP_MONEY,
    LINE_COLUMNS,
    LINE_MONEY,
    OrderLine,
    ShipmentGroup,
)
from shop_orders.core.pricing import CodeTerms, check_discount_code
from shop_orders.core.tables import (
    catalog_availability,
    catalog_preorder_policies,
    catalog_variants,
    discount_codes,
    order_lines,
    order_timeline,
    orders,
    shipment_groups,
)


def _variants_of(skus: Any) -> sa.Select[Any]:
    """Orders' copy of the variants of ``skus`` (a list, or ``ANY`` of an array parameter)."""
    return (
        sa.select(
            catalog_variants,
            catalog_preorder_policies.c.policy,
            catalog_preorder_policies.c.version.label("policy_version"),
            catalog_availability.c.in_stock_units,
            catalog_availability.c.preorder_units_left,
            catalog_availability.c.policy_version.label("availability_policy_version"),
            catalog_availability.c.version.label("availability_version"),
        )
        .outerjoin(catalog_preorder_policies, catalog_preorder_policies.c.sku == catalog_variants.c.sku)
        .outerjoin(catalog_availability, catalog_availability.c.sku == catalog_variants.c.sku)
        .where(catalog_variants.c.sku.in_(skus) if isinstance(skus, list) else catalog_variants.c.sku == skus)
    )


def _variant_of(row: Row[Any]) -> CatalogVariant:
    return CatalogVariant(
        sku=row.sku,
        title=row.title,
        prices=dict(row.prices),
        sellable=row.sellable,
        preorder_policy=PreorderPolicy.model_validate(row.policy) if row.policy else None,
        policy_version=row.policy_version,
        availability=None
        if row.availability_version is None
        else Availability(
            in_stock_units=row.in_stock_units,
            preorder_units_left=row.preorder_units_left,
            policy_version=row.availability_policy_version,
        ),
    )


async def variants_by_sku(session: AsyncSession, skus: list[str]) -> dict[str, CatalogVariant]:
    """Orders' copy of the variants: prices, pre-order policies and what catalog last said is left."""
    rows = await session.execute(_variants_of(skus))
    return {row.sku: _variant_of(row) for row in rows}


@dataclass(frozen=True)
class KnownCheckout:
    """The order a checkout's Idempotency-Key already placed, as a retry is answered."""

    order_id: str
    status: str
    request_fingerprint: str


@dataclass(frozen=True)
class CheckoutFacts:
    """What a checkout reads before it decides: the order its key placed (if any) and orders' copy of its
    variants."""

    known: KnownCheckout | None
    variants: dict[str, CatalogVariant]


def _checkout_facts_statement() -> sa.Select[Any]:
    """The key's order and the variants in one round trip: one row per variant found, each with the key's order
    (or NULLs), and one row of NULL variant columns when no SKU is known."""
    known = (
        sa.select(
            orders.c.id.label("known_id"),
            orders.c.status.label("known_status"),
            orders.c.request_fingerprint.label("known_fingerprint"),
        )
        .where(orders.c.idempotency_key == sa.bindparam("key"))
        .subquery("known")
    )
    # = ANY(array) rather than IN (...): one statement text whatever the number of SKUs, prepared once.
    skus = sa.any_(sa.bindparam("skus", type_=postgresql.ARRAY(sa.Text)))
    variants = _variants_of(skus).subquery("variants")
    one = sa.select(sa.literal_column("1").label("one")).subquery("one")
    return sa.select(known, variants).select_from(
        one.outerjoin(known, sa.true()).outerjoin(variants, sa.true())
    )


_CHECKOUT_FACTS = _checkout_facts_statement()


async def checkout_facts(
    connection: AsyncSession | AsyncConnection, idempotency_key: str, skus: list[str]
) -> CheckoutFacts:
    """The order ``idempotency_key`` placed, if any, and orders' copy of the variants of ``skus``."""
    rows = (await connection.execute(_CHECKOUT_FACTS, {"key": idempotency_key, "skus": skus})).all()
    first = rows[0]
    known = (
        None
        if first.known_id is None
        else KnownCheckout(
            order_id=first.known_id, status=first.known_status, request_fingerprint=first.known_fingerprint
        )
    )
    return CheckoutFacts(
        known=known, variants={row.sku: _variant_of(row) for row in rows if row.sku is not None}
    )


class SqlCheckoutReads:
    """What a checkout reads before it decides, outside any transaction: one round trip per read.

    The reads have an engine of their own, in autocommit, with no pre-ping: the service's engine pings each
    checkout by beginning a transaction, which an autocommit connection would then have to roll back (three
    round trips for one SELECT). A read changes nothing, so a connection that turns out dead (PostgreSQL
    restarted) is simply read again once on a fresh one, which is what the ping would have bought. So a
    checkout refused from orders' copy writes nothing and begins no transaction, and no connection is held
    while catalog holds the lines.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, database_url: str, *, pool_size: int) -> SqlCheckoutReads:
        return cls(
            create_async_engine(
                database_url,
                pool_size=pool_size,
                max_overflow=0,
                pool_pre_ping=False,
                isolation_level="AUTOCOMMIT",
            )
        )

    async def checkout_facts(self, idempotency_key: str, skus: list[str]) -> CheckoutFacts:
        try:
            async with self.engine.connect() as connection:
                return await checkout_facts(connection, idempotency_key, skus)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self.engine.connect() as connection:  # the pool renewed its connections: read once more
            return await checkout_facts(connection, idempotency_key, skus)

    async def close(self) -> None:
        await self.engine.dispose()


async def upsert_availability(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep catalog's newest word on a SKU's availability; an older one arriving late changes nothing."""
    statement = insert(catalog_availability).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[catalog_availability.c.sku],
            set_={key: statement.excluded[key] for key in values if key != "sku"},
            where=catalog_availability.c.version < statement.excluded.version,
        )
    )


async def upsert_preorder_policy(
    session: AsyncSession, sku: str, policy: dict[str, Any] | None, version: int
) -> None:
    """Keep the newest version of a variant's pre-order policy; an older event arriving late changes nothing."""
    statement = insert(catalog_preorder_policies).values(sku=sku, policy=policy, version=version)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[catalog_preorder_policies.c.sku],
            set_={"policy": statement.excluded.policy, "version": statement.excluded.version},
            where=catalog_preorder_policies.c.version < statement.excluded.version,
        )
    )


async def upsert_variant(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep the newest version of a variant; an older event arriving late changes nothing."""
    statement = insert(catalog_variants).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[catalog_variants.c.sku],
            set_={key: statement.excluded[key] for key in values if key != "sku"},
            where=catalog_variants.c.version < statement.excluded.version,
        )
    )


async def lock_order(session: AsyncSession, order_id: str) -> Order:
    """The order with its lines and groups, locked for this transaction."""
    return await SqlOrders(session).get(order_id)


async def lock_order_row(session: AsyncSession, order_id: str) -> bool:
    """Hold the order without loading it, for a step that only adds to its timeline; False when there is none."""
    locked = await session.scalar(sa.select(orders.c.id).where(orders.c.id == order_id).with_for_update())
    return locked is not None


async def lock_order_if_any(session: AsyncSession, order_id: str) -> Order | None:
    """The order, locked for this transaction; None when there is no order with this id."""
    return await SqlOrders(session).get_if_any(order_id)


async def add_to_timeline(session: AsyncSession, order_id: str, event: str, **detail: Any) -> None:
    await session.execute(sa.insert(order_timeline).values(order_id=order_id, event=event, detail=detail))


async def add_events_to_timeline(
    session: AsyncSession, order_id: str, events: list[tuple[str, dict[str, Any]]]
) -> None:
    """Several timeline events (in this order) in one round trip."""
    await session.execute(
        sa.insert(order_timeline),
        [{"order_id": order_id, "event": event, "detail": detail} for event, detail in events],
    )


async def redeem_discount_code(
    session: AsyncSession,
    *,
    code: str,
    order_id: str,
    now: datetime,
    customer_id: str | None = None,
    email: str | None = None,
    currency: str | None = None,
) -> CodeTerms:
    """Take a single-use code for a new order of ``customer_id`` (None: a guest) at ``email`` and return what it
    takes off; raise why it cannot be used (another customer's, used, expired, another currency's)."""
    row = (
        await session.execute(
            sa.select(discount_codes).where(discount_codes.c.code == code).with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownDiscountCode(f"no discount code {code!r}", field="discount_code")
    check_discount_code(
        code=code,
        redeemed_by=row.redeemed_by_order,
        expires_at=row.expires_at,
        now=now,
        issued_to_customer=row.customer_id,
        issued_to_email=row.email,
        customer_id=customer_id,
        email=email,
    )
    if row.kind == "fixed_amount" and currency is not None and row.currency != currency:
        raise DiscountCodeError(
            f"discount code {code} takes an amount off {row.currency} orders only", field="discount_code"
        )
    await session.execute(
        sa.update(discount_codes)
        .where(discount_codes.c.code == code)
        .values(redeemed_by_order=order_id, redeemed_at=now)
    )
    return CodeTerms(
        percent_off=int(row.percent_off or 0),
        amount_off=int(row.amount_off or 0),
        free_shipping=row.kind == "free_shipping",
    )


class Orders(Protocol):
    """What a handler needs of storage for orders. ``SqlOrders`` keeps them in PostgreSQL (the handlers'
    default); the handler tests give a fake that keeps them in memory."""

    async def get(self, order_id: str) -> Order:
        """The order with its lines and groups, held for this transaction; ``UnknownOrder`` when there is none."""

    async def get_if_any(self, order_id: str) -> Order | None:
        """As ``get``, or None when no order has this id."""

    async def add(self, order: Order) -> None:
        """Store a new order with its lines and the timeline events it recorded."""

    async def save(self, order: Order) -> None:
        """Write what changed on the order, its lines and groups, and the timeline events it recorded."""

    async def with_idempotency_key(self, key: str) -> Order | None:
        """The order a checkout with this Idempotency-Key placed, if one did."""

    async def redeem_discount_code(
        self,
        code: str,
        *,
        order_id: str,
        now: datetime,
        customer_id: str | None = None,
        email: str | None = None,
        currency: str | None = None,
    ) -> CodeTerms:
        """Take a single-use code for a new order of that customer: what it takes off; raise why it cannot be
        used."""

    async def variants(self, skus: list[str]) -> dict[str, CatalogVariant]:
        """Orders' copy of catalog's variants."""

    async def free_discount_code(self, order_id: str) -> None:
        """A code the order redeemed may be used again (the order was rejected)."""


_LINES_AND_GROUPS = sa.text(
    "SELECT (SELECT coalesce(json_agg(l ORDER BY l.position), '[]') FROM order_lines l"
    " WHERE l.order_id = :order_id) AS lines,"
    " (SELECT coalesce(json_agg(g ORDER BY g.created_at, g.id), '[]') FROM shipment_groups g"
    " WHERE g.order_id = :order_id) AS groups"
)
"""An order's lines and groups as two JSON arrays, in one round trip. Read by a statement of its own after the
order is locked: a statement that waited for the lock sees the locked row as the other transaction left it,
but every other table only as it was when the statement began."""


def _from_json(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """A row read as JSON, with its dates and times parsed back by the column's type."""
    parsed = dict(values)
    for column in table.columns:
        value = parsed.get(column.name)
        if isinstance(value, str) and isinstance(column.type, sa.DateTime):
            parsed[column.name] = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(column.type, sa.Date):
            parsed[column.name] = date.fromisoformat(value)
    return parsed


def _as_money(values: Mapping[Any, Any], money: frozenset[str], currency: str) -> dict[str, Any]:
    """A row's values as the order holds them: the amounts of its ``money`` columns as Money in ``currency``."""
    return {
        name: Money(value, currency) if name in money and value is not None else value
        for name, value in values.items()
    }


def _as_columns(values: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """An entity's values as its columns hold them: money as its amount in minor units, which must be in the
    order's ``currency`` (``CurrencyMismatch`` otherwise: the column could not say it was another)."""
    columns = {}
    for name, value in values.items():
        if isinstance(value, Money):
            if value.currency != currency:
                raise CurrencyMismatch(f"{name} is in {value.currency}, the order in {currency}", field=name)
            value = value.amount
        columns[name] = value
    return columns


def order_of(row: Row[Any], lines: list[dict[str, Any]], groups: list[dict[str, Any]]) -> Order:
    values = {key: value for key, value in row._mapping.items() if key in ORDER_COLUMNS}
    currency = values["currency"]
    return Order(
        **_as_money(values, ORDER_MONEY, currency) | {"status": OrderStatus(values["status"])},
        lines=[line_of(_from_json(order_lines, line), currency) for line in lines],
        groups=[group_of(_from_json(shipment_groups, group), currency) for group in groups],
    )


_GROUP_ROW_COLUMNS = sorted(GROUP_COLUMNS - {"created_at", "updated_at"})


def _group_row(group: ShipmentGroup, currency: str) -> dict[str, Any]:
    """A new group's row (its times are the database's)."""
    return _as_columns({name: getattr(group, name) for name in _GROUP_ROW_COLUMNS}, currency)


def group_of(values: Mapping[Any, Any], currency: str) -> ShipmentGroup:
    fields = {key: value for key, value in values.items() if key in GROUP_COLUMNS}
    return ShipmentGroup(
        **_as_money(fields, GROUP_MONEY, currency) | {"status": GroupStatus(fields["status"])}
    )


def line_of(values: Mapping[Any, Any], currency: str) -> OrderLine:
    fields = {key: value for key, value in values.items() if key in LINE_COLUMNS}
    return OrderLine(**_as_money(fields, LINE_MONEY, currency))


_NEW_ORDER_COLUMNS = sorted(ORDER_COLUMNS - {"updated_at"})
_NEW_LINE_COLUMNS = sorted(LINE_COLUMNS)
_NEW_GROUP_COLUMNS = _GROUP_ROW_COLUMNS


def _from_json_rows(table: sa.Table, columns: list[str], parameter: str) -> sa.Select[Any]:
    """The rows of ``table`` given as one JSON array parameter (a column's value by its name)."""
    rows = sa.func.jsonb_populate_recordset(
        sa.literal_column(f"NULL::{table.name}"), sa.bindparam(parameter, type_=postgresql.JSONB)
    ).table_valued(*columns)
    return sa.select(*(rows.c[name] for name in columns))


def _adding() -> sa.Insert:
    """A new order, its lines, new groups and timeline events in one statement: the lines, groups and events are
    JSON arrays (any number, none too), so the statement is the same for every order and compiled once (a
    multi-row VALUES is compiled again for every execution)."""
    events = ["order_id", "event", "detail"]
    return (
        sa.insert(orders)
        .values({name: sa.bindparam(name, type_=orders.c[name].type) for name in _NEW_ORDER_COLUMNS})
        .add_cte(
            sa.insert(order_lines)
            .from_select(_NEW_LINE_COLUMNS, _from_json_rows(order_lines, _NEW_LINE_COLUMNS, "lines"))
            .cte("added_lines")
        )
        .add_cte(
            sa.insert(shipment_groups)
            .from_select(_NEW_GROUP_COLUMNS, _from_json_rows(shipment_groups, _NEW_GROUP_COLUMNS, "groups"))
            .cte("added_groups")
        )
        .add_cte(
            sa.insert(order_timeline)
            .from_select(events, _from_json_rows(order_timeline, events, "events"))
            .cte("added_events")
        )
    )


_ADDING = _adding()


def _json_values(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values as JSON takes them (dates and times in ISO 8601, which the columns read back)."""
    return {
        name: value.isoformat() if isinstance(value, date | datetime) else value
        for name, value in values.items()
    }


class SqlOrders:
    """Orders in PostgreSQL, in the unit of work's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, order_id: str) -> Order:
        order = await self.get_if_any(order_id)
        if order is None:
            raise UnknownOrder(f"no order {order_id}", field="order_id")
        return order

    async def get_if_any(self, order_id: str) -> Order | None:
        row = (
            await self._session.execute(sa.select(orders).where(orders.c.id == order_id).with_for_update())
        ).first()
        if row is None:
            return None
        parts = (await self._session.execute(_LINES_AND_GROUPS, {"order_id": order_id})).one()
        return order_of(row, parts.lines, parts.groups)

    async def add(self, order: Order) -> None:
        """One statement: the order's row, with its lines, new groups and timeline events as CTEs of it."""
        added = [group for group in order.groups if group.new]
        currency = order.currency
        await self._session.execute(
            _ADDING,
            _as_columns({name: getattr(order, name) for name in _NEW_ORDER_COLUMNS}, currency)
            | {
                "lines": [
                    _json_values(
                        _as_columns({name: getattr(line, name) for name in _NEW_LINE_COLUMNS}, currency)
                    )
                    for line in order.lines
                ],
                "groups": [_json_values(_group_row(group, currency)) for group in added],
                "events": [
                    {"order_id": order.id, "event": event, "detail": detail}
                    for event, detail in order.timeline
                ],
            },
        )
        for part in (order, *order.lines, *order.groups):
            part.mark_saved()
        for group in added:
            group.new = False
        order.timeline = []

    async def save(self, order: Order) -> None:
        changed = order.changed
        if changed:
            await self._session.execute(
                sa.update(orders)
                .where(orders.c.id == order.id)
                .values(**_as_columns(changed, order.currency), updated_at=sa.func.now())
            )
            order.mark_saved()
        for line in order.lines:
            if line.changed:
                await self._session.execute(
                    sa.update(order_lines)
                    .where(order_lines.c.order_id == order.id, order_lines.c.position == line.position)
                    .values(**_as_columns(line.changed, order.currency))
                )
                line.mark_saved()
        added = [group for group in order.groups if group.new]
        if added:
            await self._session.execute(
                sa.insert(shipment_groups), [_group_row(group, order.currency) for group in added]
            )
            for group in added:
                group.new = False
                group.mark_saved()
        for group in order.groups:
            if group.changed:
                await self._session.execute(
                    sa.update(shipment_groups)
                    .where(shipment_groups.c.id == group.id)
                    .values(**_as_columns(group.changed, order.currency), updated_at=sa.func.now())
                )
                group.mark_saved()
        if order.timeline:
            await add_events_to_timeline(self._session, order.id, order.timeline)
            order.timeline = []

    async def with_idempotency_key(self, key: str) -> Order | None:
        order_id = await self._session.scalar(sa.select(orders.c.id).where(orders.c.idempotency_key == key))
        return None if order_id is None else await self.get(order_id)

    async def redeem_discount_code(
        self,
        code: str,
        *,
        order_id: str,
        now: datetime,
        customer_id: str | None = None,
        email: str | None = None,
        currency: str | None = None,
    ) -> CodeTerms:
        return await redeem_discount_code(
            self._session,
            code=code,
            order_id=order_id,
            now=now,
            customer_id=customer_id,
            email=email,
            currency=currency,
        )

    async def variants(self, skus: list[str]) -> dict[str, CatalogVariant]:
        return await variants_by_sku(self._session, skus)

    async def free_discount_code(self, order_id: str) -> None:
        await self._session.execute(
            sa.update(discount_codes)
            .where(discount_codes.c.redeemed_by_order == order_id)
            .values(redeemed_by_order=None, redeemed_at=None)
        )
