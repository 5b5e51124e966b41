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
from shop_runtime.database import UnitOfWork


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
"""An order's lines and groups as two JSON arrays, in one round trip: read again after the lock when
``_LOCKED_ORDER`` says its own were read before another transaction's change."""


def _locked_order() -> sa.Select[Any]:
    """The order locked, with its lines and groups as two JSON arrays, in one round trip.

    A statement that waited for the lock sees the locked row as the other transaction left it, but every other
    table only as it was when the statement began: the lines and groups may be older than the row. Every save
    that writes lines or groups also writes the order's row (``SqlOrders.save``), so the row locked is then a
    newer version than the one the statement's snapshot holds: ``as_read`` compares the two (their ``xmin``),
    and when it is false the lines and groups are read again (``_LINES_AND_GROUPS``), now that the lock is
    held."""
    lines: sa.Label[Any] = sa.literal_column(
        "(SELECT coalesce(json_agg(l ORDER BY l.position), '[]') FROM order_lines l"
        " WHERE l.order_id = orders.id)"
    ).label("lines")
    groups: sa.Label[Any] = sa.literal_column(
        "(SELECT coalesce(json_agg(g ORDER BY g.created_at, g.id), '[]') FROM shipment_groups g"
        " WHERE g.order_id = orders.id)"
    ).label("groups")
    as_read: sa.Label[Any] = sa.literal_column(
        "(orders.xmin = (SELECT s.xmin FROM orders s WHERE s.id = orders.id))"
    ).label("as_read")
    return (
        sa.select(orders, lines, groups, as_read)
        .where(orders.c.id == sa.bindparam("order_id"))
        .with_for_update(of=orders)
    )


_LOCKED_ORDER = _locked_order()


def _patch_columns(table: sa.Table, keys: frozenset[str]) -> list[str]:
    """The columns a save may change: all but the keys and the times the database keeps."""
    return [column.name for column in table.columns if column.name not in keys | {"created_at", "updated_at"}]


def _set_from_patch(table: sa.Table, patch: str, *, touch: bool) -> str:
    """``SET`` every changeable column of ``table`` (aliased ``t``) from its row overlaid with the JSON object
    ``patch``: a column the patch leaves out keeps its value, so one statement text serves any change."""
    columns = _patch_columns(
        table, frozenset(column.name for column in table.primary_key.columns) | {"order_id"}
    )
    names = ", ".join(f'"{name}"' for name in columns)
    values = ", ".join(f'r."{name}"' for name in columns)
    if touch:
        names, values = f"{names}, updated_at", f"{values}, now()"
    return f"SET ({names}) = (SELECT {values} FROM jsonb_populate_record(t, {patch}) r)"


def _saving() -> sa.TextClause:
    """What a save writes, in one statement of one text: the changed lines and groups (JSON arrays of the
    changed columns with their keys), the new groups, the timeline events, and the order's own changed columns,
    with the row's ``updated_at`` (only when ``touch``: anything but the timeline changed). ``_LOCKED_ORDER``
    relies on the order's row being written whenever its lines or groups are."""
    group_columns = ", ".join(f'"{name}"' for name in _NEW_GROUP_COLUMNS)
    text = (
        "WITH changed_lines AS (UPDATE order_lines AS t "
        + _set_from_patch(order_lines, "p.patch", touch=False)
        + " FROM jsonb_array_elements(CAST(:lines AS jsonb)) AS p(patch)"
        " WHERE t.order_id = :order_id AND t.position = (p.patch->>'position')::integer),"
        f" added_groups AS (INSERT INTO shipment_groups ({group_columns}) SELECT {group_columns}"
        " FROM jsonb_populate_recordset(NULL::shipment_groups, CAST(:added_groups AS jsonb))),"
        " changed_groups AS (UPDATE shipment_groups AS t "
        + _set_from_patch(shipment_groups, "p.patch", touch=True)
        + " FROM jsonb_array_elements(CAST(:groups AS jsonb)) AS p(patch)"
        " WHERE t.order_id = :order_id AND t.id = p.patch->>'id'),"
        " added_events AS (INSERT INTO order_timeline (order_id, event, detail)"
        " SELECT :order_id, e.event, e.detail"
        " FROM jsonb_populate_recordset(NULL::order_timeline, CAST(:events AS jsonb)) WITH ORDINALITY AS e"
        " ORDER BY e.ordinality)"
        " UPDATE orders AS t "
        + _set_from_patch(orders, "CAST(:order AS jsonb)", touch=True)
        + " WHERE t.id = :order_id AND :touch"
    )
    return sa.text(text).bindparams(
        *(
            sa.bindparam(name, type_=postgresql.JSONB)
            for name in ("lines", "added_groups", "groups", "events")
        ),
        sa.bindparam("order", type_=postgresql.JSONB),
        sa.bindparam("order_id", type_=sa.Text),
        sa.bindparam("touch", type_=sa.Boolean),
    )


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
_SAVING = _saving()


def _json_values(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values as JSON takes them (dates and times in ISO 8601, which the columns read back)."""
    return {
        name: value.isoformat() if isinstance(value, date | datetime) else value
        for name, value in values.items()
    }


class SqlOrders:
    """Orders in PostgreSQL, in the unit of work's transaction.

    Given the ``unit_of_work`` itself, ``add`` is the unit of work's last statement
    (``UnitOfWork.execute_last``): it carries the outbox rows of the messages published before it, and when
    nothing ran before it (a checkout without a discount code) it is the whole transaction, in one round trip."""

    def __init__(self, session: AsyncSession, *, unit_of_work: UnitOfWork | None = None) -> None:
        self._session = session
        self._unit_of_work = unit_of_work

    async def get(self, order_id: str) -> Order:
        order = await self.get_if_any(order_id)
        if order is None:
            raise UnknownOrder(f"no order {order_id}", field="order_id")
        return order

    async def get_if_any(self, order_id: str) -> Order | None:
        row = (await self._session.execute(_LOCKED_ORDER, {"order_id": order_id})).first()
        if row is None:
            return None
        if row.as_read:
            return order_of(row, row.lines, row.groups)
        parts = (await self._session.execute(_LINES_AND_GROUPS, {"order_id": order_id})).one()
        return order_of(row, parts.lines, parts.groups)

    async def add(self, order: Order) -> None:
        """One statement: the order's row, with its lines, new groups and timeline events as CTEs of it."""
        added = [group for group in order.groups if group.new]
        currency = order.currency
        parameters = _as_columns({name: getattr(order, name) for name in _NEW_ORDER_COLUMNS}, currency) | {
            "lines": [
                _json_values(_as_columns({name: getattr(line, name) for name in _NEW_LINE_COLUMNS}, currency))
                for line in order.lines
            ],
            "groups": [_json_values(_group_row(group, currency)) for group in added],
            "events": [
                {"order_id": order.id, "event": event, "detail": detail} for event, detail in order.timeline
            ],
        }
        if self._unit_of_work is not None:
            await self._unit_of_work.execute_last(_ADDING, parameters)
        else:
            await self._session.execute(_ADDING, parameters)
        for part in (order, *order.lines, *order.groups):
            part.mark_saved()
        for group in added:
            group.new = False
        order.timeline = []

    async def save(self, order: Order) -> None:
        """One statement (``_saving``) for whatever the steps changed; none when nothing did."""
        currency = order.currency
        added = [group for group in order.groups if group.new]
        lines = [
            _json_values(_as_columns(line.changed, currency) | {"position": line.position})
            for line in order.lines
            if line.changed
        ]
        groups = [
            _json_values(_as_columns(group.changed, currency) | {"id": group.id})
            for group in order.groups
            if group.changed and not group.new
        ]
        changed = _json_values(_as_columns(order.changed, currency))
        touch = bool(changed or lines or groups or added)
        if not touch and not order.timeline:
            return
        await self._session.execute(
            _SAVING,
            {
                "order_id": order.id,
                "order": changed,
                "touch": touch,
                "lines": lines,
                "added_groups": [_json_values(_group_row(group, currency)) for group in added],
                "groups": groups,
                "events": [{"event": event, "detail": detail} for event, detail in order.timeline],
            },
        )
        order.mark_saved()
        for line in order.lines:
            line.mark_saved()
        for group in order.groups:
            group.new = False
            group.mark_saved()
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
