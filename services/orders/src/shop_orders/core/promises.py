"""The order's steps on the ship date promised for a pre-order line: catalog moved the expected date, the
customer accepted it, the promise was missed. A part of ``Order``: the methods act on the whole order; the
checks to run later are the handler's to schedule."""

from __future__ import annotations

from datetime import date, datetime

from shop_contracts import orders as contracts
from shop_orders.core.balances import BalanceSteps
from shop_orders.core.domain import needs_consent, promised_ship_date
from shop_orders.core.parts import OrderLine, policy_of


class PromiseSteps(BalanceSteps):
    """The order's steps on promised ship dates."""

    def waiting_line(self, sku: str) -> OrderLine | None:
        """The pre-order line of ``sku`` while some of its units still wait for stock."""
        return next(
            (
                line
                for line in self.lines
                if line.sku == sku and line.kind == "preorder" and line.units_allocated < line.quantity
            ),
            None,
        )

    def record_date_change(
        self,
        line: OrderLine,
        *,
        previous_date: date | None,
        expected_ship_date: date | None,
        version: int | None,
        now: datetime,
        decision_token: str,
    ) -> bool:
        """Catalog moved a waiting line's expected date: keep it and tell the customer, asking for consent when
        the new date is past the promise. A change older than one applied (a lower ``version``), or one that
        leaves the date where it is (told twice), changes nothing: False."""
        if version is not None and line.eta_version is not None and version <= line.eta_version:
            return False
        if expected_ship_date == line.expected_ship_date and line.date_changed_at is not None:
            return False
        promised = line.promised_ship_date or promised_ship_date(policy_of(line), self.created_at)
        consent_required = needs_consent(expected_ship_date, promised)
        line.expected_ship_date = expected_ship_date
        line.promised_ship_date = promised
        line.consent_awaited = consent_required
        line.date_changed_at = now
        if version is not None:
            line.eta_version = version
        self.record(
            "preorder_date_changed",
            sku=line.sku,
            previous_date=_iso(previous_date),
            expected_ship_date=_iso(expected_ship_date),
            promised_ship_date=promised.isoformat(),
            consent_required=consent_required,
        )
        self.send(
            contracts.OrderPreorderDateChanged(
                order_id=self.id,
                customer=self.customer,
                sku=line.sku,
                title=line.title,
                previous_date=previous_date,
                expected_ship_date=expected_ship_date,
                promised_date=promised,
                consent_required=consent_required,
                decision_token=decision_token,
            )
        )
        return True

    def lines_with_changed_dates(self) -> list[OrderLine]:
        return [line for line in self.lines if line.kind == "preorder" and line.date_changed_at is not None]

    def accept_changed_dates(self) -> dict[str, date]:
        """The customer accepts the changed dates: every line awaiting consent is promised its new date (the
        checks at the new dates are to be scheduled). Accepting twice accepts nothing more."""
        accepted: dict[str, date] = {}
        for line in self.lines_with_changed_dates():
            if not line.consent_awaited or line.expected_ship_date is None:
                continue
            accepted[line.sku] = line.expected_ship_date
            line.promised_ship_date = line.expected_ship_date
            line.consent_awaited = False
        if accepted:
            self.record(
                "preorder_date_accepted",
                promised_ship_dates={sku: day.isoformat() for sku, day in accepted.items()},
            )
        return accepted


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
