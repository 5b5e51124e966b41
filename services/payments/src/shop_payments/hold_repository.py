"""Loading and saving card holds inside a unit of work: the authorisation with what its ledger says of it, a held
order's confirmation terms and its shipments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.money import Money
from shop_payments.domain import LedgerEntry, LedgerKind, Payment, PaymentKind
from shop_payments.holds import Dunning, Hold, OrderTerms, ShipmentFact
from shop_payments.repository import add_ledger_entries, payment_of_row
from shop_payments.tables import hold_dunning, hold_orders, hold_shipments, ledger_entries, payments


async def lock_hold(session: AsyncSession, *, order_id: str) -> None:
    """Serialise work on an order's holds (captures, releases, expiry) until the transaction ends."""
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"payments:{order_id}:hold", 0)))
    )


async def _hold_of(session: AsyncSession, authorization: Payment) -> Hold:
    sums = (
        await session.execute(
            sa.select(ledger_entries.c.kind, sa.func.sum(ledger_entries.c.amount))
            .where(
                ledger_entries.c.payment_id == authorization.id,
                ledger_entries.c.kind.in_([LedgerKind.VOID.value, LedgerKind.EXPIRY.value]),
            )
            .group_by(ledger_entries.c.kind)
        )
    ).all()
    released = {kind: int(amount) for kind, amount in sums}
    rows = (
        await session.execute(
            sa.select(payments)
            .where(payments.c.authorization_id == authorization.id)
            .order_by(payments.c.created_at, payments.c.id)
        )
    ).all()
    of_hold = [payment_of_row(row) for row in rows]
    captures = tuple(payment for payment in of_hold if payment.kind is PaymentKind.CAPTURE)
    currency = authorization.amount.currency
    return Hold(
        authorization=authorization,
        captured=Money.total(
            (capture.amount for capture in captures if capture.succeeded), currency=currency
        ),
        voided=Money(released.get(LedgerKind.VOID.value, 0), currency),
        expired=Money(released.get(LedgerKind.EXPIRY.value, 0), currency),
        captures=captures,
        replacements=tuple(payment for payment in of_hold if payment.kind is PaymentKind.REPLACEMENT),
    )


_HAS_HOLDS = sa.select(
    sa.exists().where(
        payments.c.order_id == sa.bindparam("order_id", type_=payments.c.order_id.type),
        payments.c.kind == PaymentKind.AUTHORIZATION.value,
        payments.c.status == "succeeded",
    )
)
"""Built once: most orders' confirmation and shipments run only this, so they pay neither its construction nor
its cache key."""


async def has_holds(session: AsyncSession, *, order_id: str) -> bool:
    """Whether the order has an approved hold (what ``holds_of_order`` lists): one statement, no lock."""
    return bool((await session.execute(_HAS_HOLDS, {"order_id": order_id})).scalar())


async def holds_of_order(session: AsyncSession, *, order_id: str) -> list[Hold]:
    """The order's approved holds, oldest first."""
    rows = (
        await session.execute(
            sa.select(payments)
            .where(
                payments.c.order_id == order_id,
                payments.c.kind == PaymentKind.AUTHORIZATION.value,
                payments.c.status == "succeeded",
            )
            .order_by(payments.c.created_at, payments.c.id)
        )
    ).all()
    return [await _hold_of(session, payment_of_row(row)) for row in rows]


async def hold(session: AsyncSession, *, authorization_id: uuid.UUID) -> Hold | None:
    row = (
        await session.execute(
            sa.select(payments).where(
                payments.c.id == authorization_id, payments.c.kind == PaymentKind.AUTHORIZATION.value
            )
        )
    ).first()
    return None if row is None else await _hold_of(session, payment_of_row(row))


async def hold_by_reference(session: AsyncSession, *, psp_reference: str) -> Hold | None:
    row = (
        await session.execute(
            sa.select(payments).where(
                payments.c.psp_reference == psp_reference, payments.c.kind == PaymentKind.AUTHORIZATION.value
            )
        )
    ).first()
    return None if row is None else await _hold_of(session, payment_of_row(row))


async def capture_by_reference(session: AsyncSession, *, psp_reference: str) -> Payment | None:
    row = (
        await session.execute(
            sa.select(payments).where(
                payments.c.psp_reference == psp_reference, payments.c.kind == PaymentKind.CAPTURE.value
            )
        )
    ).first()
    return None if row is None else payment_of_row(row)


async def add_release(
    session: AsyncSession, hold: Hold, *, kind: LedgerKind, amount: Money, reference: str | None
) -> None:
    """Record that ``amount`` of the hold was released (``void``) or lapsed (``expiry``), outside any refund."""
    await add_ledger_entries(
        session,
        [
            LedgerEntry(
                order_id=hold.order_id,
                payment_id=hold.authorization.id,
                kind=kind,
                amount=amount,
                psp_reference=reference,
            )
        ],
    )


async def record_terms(session: AsyncSession, terms: OrderTerms) -> bool:
    """Keep a held order's confirmation terms once; False when they were kept before."""
    inserted = await session.execute(
        insert(hold_orders)
        .values(
            order_id=terms.order_id,
            currency=terms.currency,
            subtotal=terms.subtotal,
            total=terms.total,
            lines=[
                {"sku": sku, "quantity": quantity, "unit_price": terms.prices.get(sku, 0)}
                for sku, quantity in terms.units.items()
            ],
            has_preorder_lines=terms.has_preorder_lines,
            customer_email=terms.customer_email,
            customer_locale=terms.customer_locale,
        )
        .on_conflict_do_nothing(index_elements=[hold_orders.c.order_id])
        .returning(hold_orders.c.order_id)
    )
    return inserted.first() is not None


def _terms(row: Any) -> OrderTerms:
    units: dict[str, int] = {}
    prices: dict[str, int] = {}
    for line in row.lines:
        units[line["sku"]] = units.get(line["sku"], 0) + int(line["quantity"])
        prices[line["sku"]] = int(line["unit_price"])
    return OrderTerms(
        order_id=row.order_id,
        currency=row.currency,
        subtotal=row.subtotal,
        total=row.total,
        units=units,
        prices=prices,
        has_preorder_lines=row.has_preorder_lines,
        customer_email=row.customer_email,
        customer_locale=row.customer_locale,
    )


async def terms_of(session: AsyncSession, *, order_id: str) -> OrderTerms | None:
    row = (await session.execute(sa.select(hold_orders).where(hold_orders.c.order_id == order_id))).first()
    return None if row is None else _terms(row)


async def record_shipment(session: AsyncSession, *, order_id: str, shipment: ShipmentFact) -> bool:
    """Keep a shipment of a held order once; False when it was kept before."""
    inserted = await session.execute(
        insert(hold_shipments)
        .values(
            order_id=order_id,
            shipment_id=shipment.shipment_id,
            shipped=dict(shipment.shipped),
            short=dict(shipment.short),
        )
        .on_conflict_do_nothing(index_elements=[hold_shipments.c.order_id, hold_shipments.c.shipment_id])
        .returning(hold_shipments.c.shipment_id)
    )
    return inserted.first() is not None


async def shipments_of(session: AsyncSession, *, order_id: str) -> list[ShipmentFact]:
    """The order's shipments in the order they were recorded."""
    rows = (
        await session.execute(
            sa.select(hold_shipments)
            .where(hold_shipments.c.order_id == order_id)
            .order_by(hold_shipments.c.seq)
        )
    ).all()
    return [ShipmentFact(row.shipment_id, dict(row.shipped), dict(row.short)) for row in rows]


async def replacements_of_order(session: AsyncSession, *, order_id: str) -> list[Payment]:
    """The order's off-session charges in place of a hold (each attempt), first attempt first."""
    rows = (
        await session.execute(
            sa.select(payments)
            .where(payments.c.order_id == order_id, payments.c.kind == PaymentKind.REPLACEMENT.value)
            .order_by(payments.c.created_at, payments.c.id)
        )
    ).all()
    return [payment_of_row(row) for row in rows]


async def begin_dunning(session: AsyncSession, dunning: Dunning) -> bool:
    """Record that the order's dunning began, once; False when it had begun before."""
    inserted = await session.execute(
        insert(hold_dunning)
        .values(
            order_id=dunning.order_id,
            authorization_id=dunning.authorization_id,
            amount=dunning.owed.amount,
            currency=dunning.owed.currency,
            began_at=dunning.began_at,
            give_up_at=dunning.give_up_at,
        )
        .on_conflict_do_nothing(index_elements=[hold_dunning.c.order_id])
        .returning(hold_dunning.c.order_id)
    )
    return inserted.first() is not None


async def dunning_of(session: AsyncSession, *, order_id: str) -> Dunning | None:
    row = (await session.execute(sa.select(hold_dunning).where(hold_dunning.c.order_id == order_id))).first()
    if row is None:
        return None
    return Dunning(
        order_id=row.order_id,
        authorization_id=row.authorization_id,
        owed=Money(row.amount, row.currency),
        began_at=row.began_at,
        give_up_at=row.give_up_at,
        outcome=row.outcome,
    )


async def end_dunning(session: AsyncSession, *, order_id: str, outcome: str, at: datetime) -> None:
    """Record how the order's dunning ended (``paid`` or ``unpaid``), once: an ended dunning stays as it is."""
    await session.execute(
        sa.update(hold_dunning)
        .where(hold_dunning.c.order_id == order_id, hold_dunning.c.ended_at.is_(None))
        .values(ended_at=at, outcome=outcome)
    )
