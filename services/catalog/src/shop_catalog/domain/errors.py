"""Every refusal of catalog's rules, each a subclass of CatalogError naming the field it is about."""

from __future__ import annotations


class CatalogError(Exception):
    """A request the catalog refuses; ``field`` names the input that is wrong."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownSku(CatalogError):
    pass


class UnknownProduct(CatalogError):
    pass


class DuplicateSku(CatalogError):
    pass


class StockWouldGoNegative(CatalogError):
    pass


class InvalidPreorderPolicy(CatalogError):
    pass


class NoPreorderPolicy(CatalogError):
    pass


class UnknownInbound(CatalogError):
    pass


class UnknownWaitlistEntry(CatalogError):
    pass


class InboundAlreadyReceived(CatalogError):
    pass


class VariantRetired(CatalogError):
    pass


class InvalidPriceChange(CatalogError):
    pass


class UnknownPriceChange(CatalogError):
    pass


class NothingToChange(CatalogError):
    pass
