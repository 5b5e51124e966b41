"""The waitlist: customers who asked to be told once a variant is back in stock or open for pre-order, and
telling them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shop_catalog.domain.errors import UnknownWaitlistEntry
from shop_catalog.domain.waitlist import WaitlistEntry, WaitlistKind, availability_changes, normalized_email
from shop_catalog.handlers.low_stock import watch_low_stock
from shop_catalog.handlers.products import require_sku
from shop_catalog.repository import products as product_records
from shop_catalog.repository import stock as stock_records
from shop_catalog.repository import waitlist as waitlist_records
from shop_contracts import catalog as contracts
from shop_contracts.values import Customer, PreorderPolicy
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class WaitlistSubscription:
    entry: WaitlistEntry
    created: bool
    """False when the address was on the SKU's waitlist already (the same entry is returned)."""


async def subscribe_to_waitlist(
    uow: UnitOfWork, *, sku: str, email: str, locale: str
) -> WaitlistSubscription:
    """Put an address on a SKU's waitlist once; subscribing again keeps the entry and takes the new locale."""
    await require_sku(uow, sku)
    entry, created = await waitlist_records.add_waitlist_entry(
        uow.session, sku=sku, email=normalized_email(email), locale=locale
    )
    return WaitlistSubscription(entry=entry, created=created)


async def unsubscribe_from_waitlist(uow: UnitOfWork, *, entry_id: uuid.UUID) -> None:
    """Take an entry off its waitlist; it hears of nothing more."""
    if not await waitlist_records.delete_waitlist_entry(uow.session, entry_id):
        raise UnknownWaitlistEntry(f"no waitlist entry {entry_id}", field="entry_id")


async def tell_waitlists(uow: UnitOfWork, available_before: dict[str, int]) -> list[str]:
    """Tell the waitlists of SKUs that came back in stock; let those that sold out hear of the next restock.

    Called after the levels were saved, under the locks of the SKUs' levels, with what was available
    before the change; low-stock watches are judged here too, as every such change passes this way. Returns
    the SKUs that sold out.
    """
    available_after = await stock_records.available_units(uow.session, available_before)
    changes = availability_changes(available_before, available_after)
    if changes.sold_out:
        await waitlist_records.reset_waitlist_notified(uow.session, changes.sold_out, "back_in_stock")
    for sku in changes.back_in_stock:
        await notify_waitlist(uow, sku=sku, kind="back_in_stock")
    await watch_low_stock(uow, available_before)
    return list(changes.sold_out)


async def notify_waitlist(
    uow: UnitOfWork, *, sku: str, kind: WaitlistKind, policy: PreorderPolicy | None = None
) -> None:
    """Publish one message per subscriber not yet told of ``kind`` and mark them told, in this transaction.

    Every message is an outbox row of this transaction, so a waitlist is expected to stay within a few
    thousand entries per SKU; a larger one would need batching outside the stock change.
    """
    entries = await waitlist_records.lock_waitlist_to_notify(uow.session, sku, kind)
    if not entries:
        return
    listing = await product_records.variant_listing(uow.session, sku)
    for entry in entries:
        uow.publish(
            contracts.WaitlistNotification(
                waitlist_entry_id=str(entry.id),
                kind=kind,
                sku=sku,
                product_id=str(listing.product_id),
                title=listing.title,
                options=listing.options,
                customer=Customer(email=entry.email, locale=entry.locale),
                ends_at=policy.ends_at if policy is not None else None,
                expected_ship_date=policy.expected_ship_date if policy is not None else None,
            ),
            subject=sku,
        )
    await waitlist_records.mark_waitlist_notified(uow.session, [entry.id for entry in entries], kind)
