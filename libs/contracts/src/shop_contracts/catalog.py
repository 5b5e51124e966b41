"""Messages owned by catalog: stock reservations and the sellable data of variants."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.routing import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from shop_contracts.values import LocatedLine, Money, RequestedLine, Value

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


class ReserveStock(CatalogCommand):
    TYPE: ClassVar[str] = "catalog.stock.reserve.v1"
    order_id: str
    lines: list[RequestedLine] = Field(min_length=1)


class ReleaseStock(CatalogCommand):
    TYPE: ClassVar[str] = "catalog.stock.release.v1"
    order_id: str
    reason: str


class CommitStock(CatalogCommand):
    """The reserved units left the warehouse: take them off hand."""

    TYPE: ClassVar[str] = "catalog.stock.commit.v1"
    order_id: str
    lines: list[LocatedLine] = Field(min_length=1)


class StockReserved(CatalogEvent):
    TYPE: ClassVar[str] = "catalog.stock.reserved.v1"
    order_id: str
    lines: list[LocatedLine]


class Shortage(Value):
    sku: str
    requested: int
    available: int


class StockRejected(CatalogEvent):
    TYPE: ClassVar[str] = "catalog.stock.rejected.v1"
    order_id: str
    reason: str
    shortages: list[Shortage]


class StockReleased(CatalogEvent):
    TYPE: ClassVar[str] = "catalog.stock.released.v1"
    order_id: str


class StockCommitted(CatalogEvent):
    TYPE: ClassVar[str] = "catalog.stock.committed.v1"
    order_id: str
    lines: list[LocatedLine]
