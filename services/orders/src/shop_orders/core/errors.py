"""Every error an order use case raises, each a subclass of OrderError naming the field it is about."""

from __future__ import annotations


class OrderError(Exception):
    """A request orders refuses; ``field`` names the input that is wrong."""

    def __init__(
        self, message: str, *, field: str | None = None, details: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.details = details or {}
        """More about the field for the problem's error entry (e.g. ``opens_at`` of a pre-order not open yet)."""


class UnknownSku(OrderError):
    pass


class NotSoldInCurrency(OrderError):
    pass


class NotSellable(OrderError):
    """Catalog no longer sells the variant: it was retired, or its product is archived."""


class SoldOut(OrderError):
    """Catalog said the SKU cannot cover the line: no units left in stock, or its pre-order cap is full."""


class UnknownShippingMethod(OrderError):
    pass


class IdempotencyKeyReused(OrderError):
    """The same Idempotency-Key came with a different request body."""


class UnknownOrder(OrderError):
    pass


class DuplicateSku(OrderError):
    pass


class NoDecisionAwaited(OrderError):
    """No pre-order line of the order has a changed date to accept or cancel over."""


class OrderNotOnTerms(OrderError):
    """Only an unpaid order on payment terms that is still going ahead takes a later payment."""


class NotCancellable(OrderError):
    """Part of the order is already with the warehouse or on its way: the answer is a return."""


class DiscountCodeError(OrderError):
    """A discount code given at checkout that cannot be redeemed."""


class UnknownDiscountCode(DiscountCodeError):
    pass


class DiscountCodeUsed(DiscountCodeError):
    pass


class DiscountCodeExpired(DiscountCodeError):
    pass


class DiscountCodeNotYours(DiscountCodeError):
    """The code was offered to another customer (another account, or a guest's other email address)."""


class SameDayNotOffered(OrderError):
    """Same-day delivery was chosen where it cannot be done: the address, a pre-order line, or the stock."""


class CustomerError(OrderError):
    """A request about a customer account that orders refuses."""


class EmailTaken(CustomerError):
    pass


class UnknownCustomer(CustomerError):
    pass


class UnknownAddress(CustomerError):
    pass


class TooManyAddresses(CustomerError):
    pass


class InvalidSegment(CustomerError):
    """A segment name that is not a slug within the length allowed."""


class TooManySegments(CustomerError):
    pass


class OrderHasAnotherCustomer(CustomerError):
    """Staff tried to give an order to a customer while it already belongs to someone else."""


class ReturnRefused(OrderError):
    """A return request orders refuses: outside the window, more units than can come back, nothing shipped."""


class UnknownReturn(OrderError):
    pass


class ReturnNotInStatus(OrderError):
    """The return is not where the requested step can happen (approving a rejected one, say)."""


class ExchangeRefused(OrderError):
    """An exchange that cannot be offered: another product, an unknown variant, a pre-order, no price."""


class PurchaseLimitReached(OrderError):
    """The pre-order's limit per customer would be passed by this line."""


class PreorderWindowClosed(OrderError):
    """The pre-order is not open to this buyer now: its window has not opened yet, or has closed."""
