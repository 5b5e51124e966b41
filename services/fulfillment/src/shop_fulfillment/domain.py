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


class NotCancellable(FulfillmentError):
    """The warehouse already packed or shipped the goods: they can come back as a return only."""

    def __init__(self, message: str, *, current: FulfillmentStatus) -> None:
        super().__init__(message)
        self.current = current


class InvalidPick(FulfillmentError):
    """A pick report names a SKU the fulfillment order lacks, or more units than it asked for."""


class FulfillmentStatus(enum.StrEnum):
    PICK_REQUESTED = "pick_requested"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


LIFECYCLE: tuple[FulfillmentStatus, ...] = (
    FulfillmentStatus.PICK_REQUESTED,
    FulfillmentStatus.PICKED,
    FulfillmentStatus.PACKED,
    FulfillmentStatus.SHIPPED,
    FulfillmentStatus.DELIVERED,
)
"""Every status in the order a fulfillment order passes through them (unless it is cancelled)."""

CANCELLABLE: tuple[FulfillmentStatus, ...] = (FulfillmentStatus.PICK_REQUESTED, FulfillmentStatus.PICKED)
"""Until it is packed, pick work can be dropped and the units put back on the shelf."""

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
    short_lines: tuple[Line, ...] = ()
    """With picked: the units the warehouse could not pick (they will not ship)."""


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
    short_lines: list[Line] = field(default_factory=list)
    events: list[StatusReached] = field(default_factory=list, compare=False)

    @property
    def next_status(self) -> FulfillmentStatus | None:
        if self.status is FulfillmentStatus.CANCELLED:
            return None
        position = LIFECYCLE.index(self.status)
        return LIFECYCLE[position + 1] if position + 1 < len(LIFECYCLE) else None

    def cancel(self) -> bool:
        """Drop the pick work while the goods are unpacked; False when it was cancelled already."""
        if self.status is FulfillmentStatus.CANCELLED:
            return False
        if self.status not in CANCELLABLE:
            raise NotCancellable(
                f"fulfillment order {self.id} is already {self.status}; the goods can only come back as a return",
                current=self.status,
            )
        self.status = FulfillmentStatus.CANCELLED
        self.events.append(StatusReached(fulfillment_id=self.id, status=FulfillmentStatus.CANCELLED))
        return True

    def report_pick(self, picked: dict[str, int] | None) -> None:
        """Picked, with the units of each SKU actually picked when fewer than asked (a short pick).

        What was picked is what ships; what was not is recorded as short. A pick of nothing at all
        cancels the fulfillment order: there is nothing to pack.
        """
        if picked is None or self.status is not FulfillmentStatus.PICK_REQUESTED:
            self.report(FulfillmentStatus.PICKED)
            return
        asked = {line.sku: line for line in self.lines}
        unknown = sorted(set(picked) - set(asked))
        if unknown:
            raise InvalidPick(
                f"this fulfillment order has no line for {', '.join(unknown)}", fields=("lines",)
            )
        for sku, quantity in picked.items():
            if not 0 <= quantity <= asked[sku].quantity:
                raise InvalidPick(
                    f"{sku}: picked {quantity}, but between 0 and {asked[sku].quantity} units were asked for",
                    fields=("lines",),
                )
        kept, short = [], []
        for line in self.lines:
            got = picked.get(line.sku, line.quantity)
            if got > 0:
                kept.append(Line(sku=line.sku, quantity=got, location=line.location))
            if got < line.quantity:
                short.append(Line(sku=line.sku, quantity=line.quantity - got, location=line.location))
        self.lines, self.short_lines = kept, short
        self.status = FulfillmentStatus.PICKED if kept else FulfillmentStatus.CANCELLED
        self.events.append(
            StatusReached(fulfillment_id=self.id, status=FulfillmentStatus.PICKED, short_lines=tuple(short))
        )

    def report(
        self, reported: FulfillmentStatus, *, carrier: str | None = None, tracking_number: str | None = None
    ) -> None:
        """Apply a warehouse or carrier report; a repeat of the current status changes nothing.

        Only the next status is accepted (no step is skipped), so the timeline always reads in order.
        """
        if self.status is FulfillmentStatus.CANCELLED:
            raise OutOfOrderReport(
                f"fulfillment order {self.id} was cancelled; drop its pick work", current=self.status
            )
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


# Returns: the sandbox carrier's labels and what a warehouse may report received.


class UnknownReturn(FulfillmentError):
    """No approved return by that id (not approved yet, or never)."""


class InvalidReturnReceipt(FulfillmentError):
    """A receipt names a SKU the return lacks, or more units than it expects."""


class ReturnAlreadyReceived(FulfillmentError):
    pass


@dataclass(frozen=True)
class ReturnLabel:
    carrier: str
    label_id: str
    tracking_number: str
    label_url: str


def sandbox_return_label(return_id: str) -> ReturnLabel:
    """The sandbox carrier's label for a return, made from its id so asking twice gives the same label."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"return-label:{return_id}").hex
    label_id = f"lbl_{digest[:16]}"
    return ReturnLabel(
        carrier="sandbox",
        label_id=label_id,
        tracking_number=f"SBXR{int(digest[16:28], 16) % 10**12:012d}",
        label_url=f"https://labels.sandbox.invalid/{label_id}.pdf",
    )


def check_return_receipt(expected: dict[str, int], received: list[tuple[str, int, str]]) -> None:
    """Raise unless every received (sku, quantity, condition) belongs to the return, within its units."""
    units: dict[str, int] = {}
    for index, (sku, quantity, _condition) in enumerate(received):
        if sku not in expected:
            raise InvalidReturnReceipt(f"{sku} is not in this return", fields=(f"lines[{index}].sku",))
        units[sku] = units.get(sku, 0) + quantity
        if units[sku] > expected[sku]:
            raise InvalidReturnReceipt(
                f"this return expects {expected[sku]} unit(s) of {sku}, not {units[sku]}",
                fields=(f"lines[{index}].quantity",),
            )
