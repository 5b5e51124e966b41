"""Running the catalog as a merchant: changing a product, adding and retiring variants, archiving and restoring a
product, and changing prices now or at a set time. Every change to what a variant sells for, or whether it may be
sold, is told to the other services as the variant's next version."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shop_catalog.domain.errors import (
    DuplicateSku,
    InvalidPreorderPolicy,
    NothingToChange,
    UnknownPriceChange,
    UnknownProduct,
    UnknownSku,
    VariantRetired,
)
from shop_catalog.domain.policies import check_deposits_cover
from shop_catalog.domain.products import (
    PRICE_CHANGE_KIND,
    changed_prices,
    price_change_due,
)
from shop_catalog.handlers.announcements import tell_availability
from shop_catalog.handlers.preorders import end_preorder_policy
from shop_catalog.handlers.products import NewVariant
from shop_catalog.handlers.waitlist import tell_waitlists
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import products as product_records
from shop_catalog.repository import stock as stock_records
from shop_catalog.repository.products import ProductRecord, VariantRecord
from shop_catalog.tables import products, scheduled_jobs, variants
from shop_contracts import catalog as contracts
from shop_contracts.money import Money
from shop_runtime import scheduling
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork

log = logging.getLogger(__name__)


async def tell_variant(uow: UnitOfWork, sku: str) -> VariantRecord:
    """Publish the variant as it now is (title, options, prices, whether it may be sold) under its next version.

    The version is bumped under the variant's row lock and the record read after it, so the highest version
    always carries the latest state: a consumer that keeps the highest never goes back to an older price.
    """
    version = await product_records.next_variant_version(uow.session, sku)
    record = await product_records.lock_variant(uow.session, sku)
    assert record is not None, "the caller found the variant"
    uow.publish(
        contracts.VariantUpdated(
            product_id=str(record.product_id),
            variant_id=str(record.variant_id),
            sku=sku,
            title=record.title,
            options=record.options,
            prices=[Money(amount=amount, currency=currency) for currency, amount in record.prices.items()],
            version=version,
            sellable=record.sellability.sellable,
        ),
        subject=sku,
    )
    return record


async def _lock_product(uow: UnitOfWork, product_id: uuid.UUID) -> ProductRecord:
    product = await product_records.lock_product(uow.session, product_id)
    if product is None:
        raise UnknownProduct(f"no product {product_id}", field="product_id")
    return product


async def change_product(
    uow: UnitOfWork, *, product_id: uuid.UUID, title: str | None, description: str | None
) -> ProductRecord:
    """Change a product's title or description; a new title is told with each variant (orders names lines by it)."""
    if title is None and description is None:
        raise NothingToChange("give title, description or both", field="body")
    product = await _lock_product(uow, product_id)
    changes = {
        name: value
        for name, value in (("title", title), ("description", description))
        if value is not None and value != getattr(product, name)
    }
    if not changes:
        return product
    await uow.session.execute(
        sa.update(products).where(products.c.id == product_id).values(**changes, updated_at=sa.func.now())
    )
    if "title" in changes:
        for sku in product.skus:
            await tell_variant(uow, sku)
    return await _lock_product(uow, product_id)


async def add_variant(uow: UnitOfWork, *, product_id: uuid.UUID, variant: NewVariant) -> uuid.UUID:
    """Add a variant to a product (sold once it has stock, unless the product is archived); told as version 1."""
    await _lock_product(uow, product_id)
    if await product_records.existing_skus(uow.session, [variant.sku]):
        raise DuplicateSku(f"SKU {variant.sku!r} already exists", field="sku")
    variant_id = uuid.uuid4()
    await uow.session.execute(
        sa.insert(variants).values(
            id=variant_id,
            product_id=product_id,
            sku=variant.sku,
            options=variant.options,
            position=await product_records.next_position(uow.session, product_id),
            version=0,  # tell_variant makes it 1, as a variant created with its product
        )
    )
    await product_records.set_prices(uow.session, variant_id, variant.prices)
    await tell_variant(uow, variant.sku)
    return variant_id


async def retire_variant(uow: UnitOfWork, *, sku: str, clock: Clock) -> VariantRecord:
    """Stop selling a variant for good: no new order or pre-order takes it, and the other services are told.

    Units already reserved and pre-orders already accepted are still served; its pre-order window, if open, is
    ended. Retiring a retired variant changes nothing.
    """
    # The SKU's policy, then its stock levels, then its variant row: the order every stock change locks them in.
    await preorder_records.lock_preorder_policies(uow.session, [sku])
    await stock_records.lock_stock_levels(uow.session, [sku])
    record = await product_records.lock_variant(uow.session, sku)
    if record is None:
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
    if record.sellability.retired_at is not None:
        return record
    available_before = await stock_records.available_units(uow.session, [sku])
    await uow.session.execute(sa.update(variants).where(variants.c.sku == sku).values(retired_at=clock.now()))
    policy = (await preorder_records.preorder_policies_now(uow.session, [sku])).get(sku)
    if policy is not None and policy.policy is not None:
        await end_preorder_policy(uow, sku=sku)
    await tell_waitlists(uow, available_before)
    await tell_availability(uow, [sku])
    return await tell_variant(uow, sku)


async def archive_product(uow: UnitOfWork, *, product_id: uuid.UUID, clock: Clock) -> ProductRecord:
    """Take a product off sale and out of the storefront's listing, until restored; archiving twice is once.

    Its variants keep their pre-order policies (a restore sells them again as before); reservations and
    pre-orders already accepted are still served.
    """
    return await _set_archived(uow, product_id=product_id, archived_at=clock.now())


async def restore_product(uow: UnitOfWork, *, product_id: uuid.UUID) -> ProductRecord:
    """Put an archived product back on sale; the waitlists of its variants with units in stock hear of it."""
    return await _set_archived(uow, product_id=product_id, archived_at=None)


async def _set_archived(
    uow: UnitOfWork, *, product_id: uuid.UUID, archived_at: datetime | None
) -> ProductRecord:
    skus = await product_records.product_skus(uow.session, product_id)
    if skus is None:
        raise UnknownProduct(f"no product {product_id}", field="product_id")
    await preorder_records.lock_preorder_policies(uow.session, skus)
    await stock_records.lock_stock_levels(uow.session, skus)
    product = await _lock_product(uow, product_id)
    if (product.archived_at is None) == (archived_at is None):
        return product
    available_before = await stock_records.available_units(uow.session, product.skus)
    await uow.session.execute(
        sa.update(products)
        .where(products.c.id == product_id)
        .values(archived_at=archived_at, updated_at=sa.func.now())
    )
    await tell_waitlists(uow, available_before)
    await tell_availability(uow, product.skus)
    for sku in product.skus:
        await tell_variant(uow, sku)
    return await _lock_product(uow, product_id)


class ChangeVariantPrices(scheduling.Job):
    """Set a variant's prices in the currencies named, at the time the merchant chose."""

    KIND = PRICE_CHANGE_KIND
    change_id: str
    sku: str
    prices: dict[str, int]


def _price_change_key(change_id: str) -> str:
    return f"{ChangeVariantPrices.KIND}:{change_id}"


@dataclass(frozen=True)
class PriceChange:
    id: str
    sku: str
    prices: dict[str, int]
    """The amounts the change sets, by currency."""
    effective_at: datetime
    status: str
    """``applied`` (now) or ``scheduled``."""
    version: int | None
    """The variant's version that carries the new prices, once applied."""


async def change_prices(
    uow: UnitOfWork, *, sku: str, prices: dict[str, int], effective_at: datetime | None, clock: Clock
) -> PriceChange:
    """Change a variant's prices now, or schedule the change for ``effective_at``.

    Orders prices checkouts from the variant as catalog last told it, so a checkout after the change pays the
    new price; orders placed before keep the price they were placed with.
    """
    now = clock.now()
    due = price_change_due(effective_at, now)
    change_id = str(uuid.uuid4())
    if due is None:
        record = await _apply_prices(uow, sku=sku, prices=prices)
        return PriceChange(
            id=change_id, sku=sku, prices=prices, effective_at=now, status="applied", version=record.version
        )
    found = await product_records.lock_variant(uow.session, sku)
    if found is None:
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
    if found.sellability.retired_at is not None:
        raise VariantRetired(f"{sku!r} is retired; its prices no longer change", field="sku")
    await _deposits_still_cover(uow, sku, {*found.prices, *prices})
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        ChangeVariantPrices(change_id=change_id, sku=sku, prices=prices),
        key=_price_change_key(change_id),
        due_at=due,
    )
    return PriceChange(
        id=change_id, sku=sku, prices=prices, effective_at=due, status="scheduled", version=None
    )


async def _apply_prices(uow: UnitOfWork, *, sku: str, prices: dict[str, int]) -> VariantRecord:
    record = await product_records.lock_variant(uow.session, sku)
    if record is None:
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
    if record.sellability.retired_at is not None:
        raise VariantRetired(f"{sku!r} is retired; its prices no longer change", field="sku")
    if changed_prices(record.prices, prices) == record.prices:
        return record
    await _deposits_still_cover(uow, sku, {*record.prices, *prices})
    await product_records.set_prices(uow.session, record.variant_id, prices)
    return await tell_variant(uow, sku)


async def apply_scheduled_price_change(uow: UnitOfWork, *, job: ChangeVariantPrices) -> None:
    """A scheduled price change came due: apply it, unless the variant was retired since (nothing to sell)."""
    try:
        await _apply_prices(uow, sku=job.sku, prices=job.prices)
    except (UnknownSku, VariantRetired) as error:
        log.info("scheduled price change %s not applied: %s", job.change_id, error)


async def cancel_price_change(uow: UnitOfWork, *, sku: str, change_id: str, clock: Clock) -> None:
    """Cancel a scheduled price change that has not come due; one applied or cancelled already is unknown here."""
    row = (
        await uow.session.execute(
            sa.select(scheduled_jobs.c.payload)
            .where(scheduled_jobs.c.key == _price_change_key(change_id), scheduled_jobs.c.done_at.is_(None))
            .with_for_update()
        )
    ).first()
    if row is None or row.payload.get("sku") != sku:
        raise UnknownPriceChange(f"no scheduled price change {change_id} of {sku!r}", field="change_id")
    await scheduling.cancel(uow.session, scheduled_jobs, key=_price_change_key(change_id), now=clock.now())


async def _deposits_still_cover(uow: UnitOfWork, sku: str, currencies: set[str]) -> None:
    """A price in a new currency needs a deposit amount in it too when the variant's pre-order asks fixed ones."""
    record = (await preorder_records.preorder_policies_now(uow.session, [sku])).get(sku)
    if record is not None and record.policy is not None:
        try:
            check_deposits_cover(record.policy, currencies)
        except InvalidPreorderPolicy as refused:
            raise InvalidPreorderPolicy(
                f"{refused} (the pre-order policy of {sku!r} has no deposit in a currency of these prices)",
                field="prices",
            ) from refused
