"""Fulfillment's rules, free of I/O: a fulfillment order moves from pick request to delivery, one step at a time."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field


class FulfillmentError(Exception):
    """A request fulfillment refuses; ``fields`` name the inputs that are wrong."""

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class UnknownFulfillment(FulfillmentError):
    pass


class MissingShipmentDetails(FulfillmentError):
    """Shipped was reported without the carrier or tracking number a customer needs to follow the parcel."""


class UnexpectedShipmentDetails(FulfillmentError):
    """A carrier or tracking number came with a report other than shipped."""


class OutOfOrderReport(FulfillmentError):
    """A report that is neither the next step nor a repeat of the current one."""

    def __init__(self, message: str, *, current: FulfillmentStatus) -> None:
        super().__init__(message, fields=("type",))
        self.current = current


class FulfillmentStatus(enum.StrEnum):
    PICK_REQUESTED = "pick_requested"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


LIFECYCLE: tuple[FulfillmentStatus, ...] = tuple(FulfillmentStatus)
"""Every status in the order a fulfillment order passes through them."""

REPORTABLE: tuple[FulfillmentStatus, ...] = LIFECYCLE[1:]
"""What a warehouse reports; ``pick_requested`` is where every fulfillment order starts."""

AWAITING_WAREHOUSE: tuple[FulfillmentStatus, ...] = (
    FulfillmentStatus.PICK_REQUESTED,
    FulfillmentStatus.PICKED,
    FulfillmentStatus.PACKED,
)
"""Statuses in which the goods are still in the warehouse's hands."""


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    location: str


@dataclass(frozen=True)
class StatusReached:
    """The fact a transition records; the handler turns it into the matching outgoing event."""

    fulfillment_id: uuid.UUID
    status: FulfillmentStatus
    carrier: str | None = None
    tracking_number: str | None = None


@dataclass
class FulfillmentOrder:
    """One shipment group of an order, at one location, on its way from the shelf to the customer."""

    id: uuid.UUID
    order_id: str
    location: str
    lines: list[Line]
    group_id: str | None = None
    status: FulfillmentStatus = FulfillmentStatus.PICK_REQUESTED
    carrier: str | None = None
    tracking_number: str | None = None
    events: list[StatusReached] = field(default_factory=list, compare=False)

    @property
    def next_status(self) -> FulfillmentStatus | None:
        position = LIFECYCLE.index(self.status)
        return LIFECYCLE[position + 1] if position + 1 < len(LIFECYCLE) else None

    def report(
        self, reported: FulfillmentStatus, *, carrier: str | None = None, tracking_number: str | None = None
    ) -> None:
        """Apply a warehouse or carrier report; a repeat of the current status changes nothing.

        Only the next status is accepted (no step is skipped), so the timeline always reads in order.
        """
        if reported is FulfillmentStatus.SHIPPED:
            missing = tuple(
                name
                for name, value in (("carrier", carrier), ("tracking_number", tracking_number))
                if not value
            )
            if missing:
                raise MissingShipmentDetails(
                    f"shipped needs {' and '.join(missing)} so the customer can follow the parcel",
                    fields=missing,
                )
        else:
            given = tuple(
                name
                for name, value in (("carrier", carrier), ("tracking_number", tracking_number))
                if value is not None
            )
            if given:
                raise UnexpectedShipmentDetails(
                    f"{' and '.join(given)} may only be reported with shipped, not {reported}",
                    fields=given,
                )
        if reported is self.status:
            if reported is FulfillmentStatus.SHIPPED and (carrier, tracking_number) != (
                self.carrier,
                self.tracking_number,
            ):
                raise OutOfOrderReport(
                    f"fulfillment order {self.id} is already shipped with {self.carrier} "
                    f"tracking number {self.tracking_number}",
                    current=self.status,
                )
            return
        if reported is not self.next_status:
            expected = f"next is {self.next_status}" if self.next_status else "nothing follows"
            raise OutOfOrderReport(
                f"fulfillment order {self.id} is {self.status}; it cannot become {reported} ({expected})",
                current=self.status,
            )
        self.status = reported
        if reported is FulfillmentStatus.SHIPPED:
            self.carrier, self.tracking_number = carrier, tracking_number
        self.events.append(
            StatusReached(
                fulfillment_id=self.id, status=reported, carrier=carrier, tracking_number=tracking_number
            )
        )
