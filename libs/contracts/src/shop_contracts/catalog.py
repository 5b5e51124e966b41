"""Messages owned by catalog: stock reservations and the sellable data of variants."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.money import Money
from shop_contracts.routing import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from shop_contracts.values import (
    Customer,
    LocatedLine,
    PreorderLine,
    PreorderPolicy,
    RequestedLine,
    Value,
)

SOURCE = "catalog"


class CatalogEvent(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = SOURCE
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE


class CatalogCommand(Message):
    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE


class VariantUpdated(CatalogEvent):
    """A variant's sellable data (title, options, prices) as it now is; consumers upsert it."""

    TYPE: ClassVar[str] = "catalog.variant.updated.v1"
    product_id: str
    variant_id: str
    sku: str
    title: str
    options: dict[str, str]
    prices: list[Money]
    version: int = Field(ge=1, description="Grows with every change; consumers ignore older versions.")
    sellable: bool = Field(
        default=True,
        description="False while the variant may not be ordered: it was retired (for good) or its product is "
        "archived (until restored). Catalog refuses such lines (reasons variant_retired, product_archived).",
    )


class ReserveStock(CatalogCommand):
    """Reserve in-stock units, or accept pre-order units against their policy, for every line or none."""

    TYPE: ClassVar[str] = "catalog.stock.reserve.v1"
    order_id: str
    lines: list[RequestedLine] = Field(min_length=1)
    customer_email: str | None = Field(default=None, description="For pre-order per-customer limits.")
    customer_segments: list[str] = Field(default_factory=list, description="For early access to pre-orders.")
    only_at_one_of: list[str] | None = Field(
        default=None,
        description="Same-day delivery: every line must be reserved at one of these locations (the first, in "
        "this order, that holds them all), or the order is rejected (reason not_at_same_day_location). None: "
        "any location.",
    )
    exchange_id: str | None = Field(
        default=None,
        description="Units for an exchange of an order's return (the return's id), not a new order: the answer "
        "(reserved or rejected) carries the same id.",
    )
    claim_hold: bool = Field(
        default=False,
        description="The order's units were held at checkout (POST /stock-holds) and orders took that answer as "
        "the reservation: claim the hold and answer only a refusal (catalog.stock.rejected, e.g. the hold "
        "expired before this arrived); a claimed hold is not answered. False: answer catalog.stock.reserved or "
        "catalog.stock.rejected.",
    )


class ReleaseStock(CatalogCommand):
    """Give back an order's reserved units and its places in pre-order queues."""

    TYPE: ClassVar[str] = "catalog.stock.release.v1"
    order_id: str
    reason: str
    lines: list[LocatedLine] | None = Field(
        default=None,
        description="Only these reserved units (part of an order cancelled); None releases everything held.",
    )
    release_id: str | None = Field(
        default=None,
        description="Names a partial release: a second one with the same id changes nothing, whatever its "
        "message id. Without it, partial releases of an order are told apart by their reason and units.",
    )


class CommitStock(CatalogCommand):
    """The reserved units left the warehouse: take them off hand."""

    TYPE: ClassVar[str] = "catalog.stock.commit.v1"
    order_id: str
    lines: list[LocatedLine] = Field(min_length=1)
    shipment_id: str | None = Field(
        default=None,
        description="What these units left with (a shipment group, or its short pick): a second commit with the "
        "same id changes nothing, whatever its message id.",
    )


class StockReserved(CatalogEvent):
    """In-stock ``lines`` are reserved at their locations; ``preorder_lines`` wait in their queues."""

    TYPE: ClassVar[str] = "catalog.stock.reserved.v1"
    order_id: str
    lines: list[LocatedLine]
    preorder_lines: list[PreorderLine] = Field(default_factory=list)
    exchange_id: str | None = Field(
        default=None, description="Set when the units are an exchange's replacement."
    )


class Shortage(Value):
    sku: str
    requested: int
    available: int
    reason: str = Field(
        default="out_of_stock",
        description="out_of_stock, preorder_cap_reached, preorder_not_open, preorder_closed, per_customer_limit, "
        "variant_retired or product_archived",
    )


class StockRejected(CatalogEvent):
    TYPE: ClassVar[str] = "catalog.stock.rejected.v1"
    order_id: str
    reason: str
    shortages: list[Shortage]
    exchange_id: str | None = Field(
        default=None, description="Set when an exchange's replacement is missing."
    )


class StockReleased(CatalogEvent):
    TYPE: ClassVar[str] = "catalog.stock.released.v1"
    order_id: str


class StockCommitted(CatalogEvent):
    TYPE: ClassVar[str] = "catalog.stock.committed.v1"
    order_id: str
    lines: list[LocatedLine]


class PreorderPolicyUpdated(CatalogEvent):
    """A variant's pre-order policy as it now is; ``policy`` None means the variant is not on pre-order."""

    TYPE: ClassVar[str] = "catalog.preorder_policy.updated.v1"
    sku: str
    policy: PreorderPolicy | None
    version: int = Field(ge=1)


class PreorderAllocated(CatalogEvent):
    """Received units were allocated to a waiting pre-order: they are reserved at ``location`` for the order."""

    TYPE: ClassVar[str] = "catalog.preorder.allocated.v1"
    order_id: str
    allocation_id: str
    sku: str
    location: str
    quantity: int = Field(gt=0)
    still_waiting: int = Field(
        ge=0, description="Units of this order's pre-order for the SKU not yet allocated."
    )


WaitlistKind = Literal["back_in_stock", "preorder_open"]
"""What a waitlist subscriber is told: the variant is back in stock, or its pre-order window opened."""


class WaitlistNotification(CatalogEvent):
    """Tell one waitlist subscriber that a variant is back in stock or open for pre-order.

    One message per subscriber, so each message yields exactly one email. A subscriber hears of each kind
    once; ``back_in_stock`` may come again after the variant sold out, ``preorder_open`` after the
    pre-order was ended and set again.
    """

    TYPE: ClassVar[str] = "catalog.waitlist.notify.v1"
    waitlist_entry_id: str
    kind: WaitlistKind
    sku: str
    product_id: str
    title: str = Field(description="The product's title.")
    options: dict[str, str] = Field(default_factory=dict, description="The variant's options (size, colour).")
    customer: Customer
    ends_at: AwareDatetime | None = Field(default=None, description="preorder_open: when the window closes.")
    expected_ship_date: date | None = Field(default=None, description="preorder_open: when it should ship.")


class PreorderEtaChanged(CatalogEvent):
    """A waiting pre-order's expected ship date moved: an inbound was added, changed or received short, or
    places ahead in the queue were given back.

    Published only for pre-orders whose date actually changed; ``expected_ship_date`` None means no date is
    known any more (no inbound covers it and the policy names none).
    """

    TYPE: ClassVar[str] = "catalog.preorder.eta_changed.v1"
    order_id: str
    sku: str
    previous_date: date | None
    expected_ship_date: date | None
    reason: str = Field(
        description="inbound_expected, inbound_changed, inbound_received_short or queue_moved (places given back)"
    )
    version: int | None = Field(
        default=None,
        ge=1,
        description="Counts this pre-order's date changes, stamped by catalog under the pre-order's row lock: a "
        "consumer that applied a higher version ignores this one (it arrived late). None from older producers.",
    )


class StockAvailabilityChanged(CatalogEvent):
    """What a SKU can still sell, as catalog saw it under the SKU's locks: when it sold out (no units left in
    stock, or a capped pre-order full) and every time units came back (a restock, a release, a return, a
    policy change). Consumers keep the highest ``version`` only.

    Between two messages a SKU's figures only go down, so the last one is never below what is left: a
    consumer may refuse an order it cannot cover (more units than the figure) without asking catalog, but
    must let catalog decide everything else.
    """

    TYPE: ClassVar[str] = "catalog.stock.availability_changed.v1"
    sku: str
    in_stock_units: int = Field(ge=0, description="Units that may still be reserved, over all locations.")
    preorder_units_left: int | None = Field(
        default=None,
        ge=0,
        description="Units the pre-order policy's cap still allows; None without a policy or a cap.",
    )
    policy_version: int | None = Field(
        default=None,
        description="Version of the SKU's pre-order policy (PreorderPolicyUpdated) the figures were counted "
        "under; None when the SKU never had one.",
    )
    version: int = Field(ge=1, description="Grows with every message about this SKU; keep the highest.")


class LowStockLocation(Value):
    """One location's share of a SKU's stock when it ran low."""

    location: str
    on_hand: int = Field(ge=0)
    reserved: int = Field(ge=0)
    safety_stock: int = Field(ge=0)
    available: int = Field(ge=0, description="On hand less reserved less safety stock, never below zero.")


class StockLow(CatalogEvent):
    """A SKU's available units went from above its low-stock threshold to at or below it.

    Published once per crossing, from the transaction that changed the stock, under the SKU's lock: the SKU
    is armed again only once its available units are back above the threshold (a restock, a release, less
    safety stock, a lower threshold), so a repeated message never alerts twice.
    """

    TYPE: ClassVar[str] = "catalog.stock.low.v1"
    sku: str
    title: str | None = Field(default=None, description="The product's title, when catalog knows it.")
    available: int = Field(ge=0, description="Units that may still be reserved, over all locations.")
    threshold: int = Field(ge=0, description="The SKU's threshold: alert when available is at or below it.")
    locations: list[LowStockLocation] = Field(default_factory=list, description="The figures per location.")
    alert_number: int = Field(
        ge=1,
        description="Counts this SKU's low-stock alerts (the nth crossing): the same alert published again "
        "carries the same number, so a consumer tells it once.",
    )
