"""The invariant audit: every check reads the service databases read-only and reports what breaks an invariant.

A check is one async function registered with ``@audit_check``: it loads rows through ``shop_ops.queries``
and hands them to a pure decision in ``shop_ops.invariants``. To add one, write the query, the decision
and a registered function; nothing else changes. A check that fails to run (a database down, a table missing) is reported as an error and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shop_ops import invariants, queries
from shop_ops.databases import DatabaseUnavailable, Snapshots, read_only_snapshots
from shop_ops.invariants import Finding, Severity


@dataclass(frozen=True)
class AuditOptions:
    now: datetime
    outbox_max_age: timedelta = timedelta(seconds=60)
    fulfillment_grace: timedelta = timedelta(minutes=5)
    waiting_after: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class AuditContext:
    snapshots: Snapshots
    options: AuditOptions


CheckFunction = Callable[[AuditContext], Awaitable[list[Finding]]]


@dataclass(frozen=True)
class AuditCheck:
    name: str
    summary: str
    run: CheckFunction


CHECKS: list[AuditCheck] = []
"""Every registered check, in the order they run and print."""


def audit_check(name: str, summary: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        CHECKS.append(AuditCheck(name, summary, function))
        return function

    return register


@dataclass(frozen=True)
class CheckResult:
    check: AuditCheck
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class AuditReport:
    results: list[CheckResult]

    def of_severity(self, severity: Severity) -> list[tuple[str, Finding]]:
        return [
            (result.check.name, finding)
            for result in self.results
            for finding in result.findings
            if finding.severity is severity
        ]

    @property
    def violations(self) -> list[tuple[str, Finding]]:
        return self.of_severity(Severity.VIOLATION)

    @property
    def waiting(self) -> list[tuple[str, Finding]]:
        return self.of_severity(Severity.WAITING)

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(result.check.name, result.error) for result in self.results if result.error is not None]

    @property
    def exit_code(self) -> int:
        """1 when an invariant is broken; 2 when none is but a check could not run; 0 when all is well."""
        if self.violations:
            return 1
        return 2 if self.errors else 0


async def run_checks(context: AuditContext, checks: list[AuditCheck] | None = None) -> AuditReport:
    results = []
    for check in CHECKS if checks is None else checks:
        try:
            async with context.snapshots.savepoint():
                findings = await check.run(context)
            results.append(CheckResult(check, findings))
        except DatabaseUnavailable as error:
            results.append(CheckResult(check, error=str(error)))
        except Exception as error:
            results.append(CheckResult(check, error=f"{type(error).__name__}: {error}".splitlines()[0]))
    return AuditReport(results)


async def audit(database_urls: Mapping[str, str], options: AuditOptions) -> AuditReport:
    """Open every database read-only (in snapshot order) and run every check."""
    async with read_only_snapshots(database_urls) as snapshots:
        return await run_checks(AuditContext(snapshots, options))


@audit_check("stock.within_on_hand", "catalog: no negative stock, reserved never above on hand")
async def _stock_within_on_hand(context: AuditContext) -> list[Finding]:
    connection = context.snapshots.connection("catalog")
    return invariants.stock_levels_within_on_hand(await queries.stock_levels(connection))


@audit_check("stock.reservations_match", "catalog: reservations held add up to each stock level's reserved")
async def _reservations_match(context: AuditContext) -> list[Finding]:
    connection = context.snapshots.connection("catalog")
    return invariants.reservations_match_stock(
        await queries.stock_levels(connection), await queries.reserved_by_place(connection)
    )


@audit_check("stock.preorders_within_cap", "catalog: pre-orders accepted never exceed their policy's cap")
async def _preorders_within_cap(context: AuditContext) -> list[Finding]:
    connection = context.snapshots.connection("catalog")
    return invariants.preorders_within_cap(await queries.preorder_cap_uses(connection))


@audit_check(
    "stock.drafts_hold_only_what_they_want",
    "orders x catalog: no units stay reserved under a draft reservation the draft gave up",
)
async def _drafts_hold_only_what_they_want(context: AuditContext) -> list[Finding]:
    drafts = await queries.draft_holds(context.snapshots.connection("orders"))
    held = await queries.reserved_by_reservation(context.snapshots.connection("catalog"))
    return invariants.drafts_hold_only_what_they_want(
        drafts, held, now=context.options.now, grace=context.options.fulfillment_grace
    )


@audit_check("money.ledger", "payments: captured - refunded >= 0 per order, refunds within captures")
async def _ledger(context: AuditContext) -> list[Finding]:
    connection = context.snapshots.connection("payments")
    return invariants.ledger_balances(
        await queries.order_ledgers(connection), await queries.payment_ledgers(connection)
    )


@audit_check("money.one_charge_per_step", "payments: no two successful payments for one order and step")
async def _one_charge_per_step(context: AuditContext) -> list[Finding]:
    connection = context.snapshots.connection("payments")
    return invariants.one_success_per_step(await queries.repeated_successful_steps(connection))


@audit_check(
    "money.paid_orders_captured", "orders x payments: paid orders have payments equal to their total"
)
async def _paid_orders_captured(context: AuditContext) -> list[Finding]:
    paid = await queries.order_states(
        context.snapshots.connection("orders"), statuses=invariants.PAID_STATUSES
    )
    succeeded = await queries.succeeded_payments(context.snapshots.connection("payments"))
    return invariants.paid_orders_fully_captured(paid, succeeded)


@audit_check(
    "money.holds_within_authorised",
    "payments: card holds never capture, void or expire more than authorised, nor capture once closed",
)
async def _holds_within_authorised(context: AuditContext) -> list[Finding]:
    return invariants.holds_within_authorised(
        await queries.hold_ledgers(context.snapshots.connection("payments"))
    )


@audit_check(
    "money.holds_paid",
    "payments: orders whose lapsed card hold could not be charged off session are shown as waiting (info)",
)
async def _holds_paid(context: AuditContext) -> list[Finding]:
    unpaid = await queries.unpaid_holds(context.snapshots.connection("payments"))
    return invariants.holds_paid(unpaid, now=context.options.now)


@audit_check(
    "money.orders_awaiting_payment",
    "orders: orders on payment terms past their due date unpaid are shown as waiting (info)",
)
async def _orders_awaiting_payment(context: AuditContext) -> list[Finding]:
    on_terms = await queries.order_states(
        context.snapshots.connection("orders"), statuses=invariants.PAID_STATUSES
    )
    return invariants.orders_awaiting_payment(on_terms, now=context.options.now)


@audit_check("money.rejected_not_charged", "orders x payments: rejected orders keep no money")
async def _rejected_not_charged(context: AuditContext) -> list[Finding]:
    rejected = await queries.order_states(context.snapshots.connection("orders"), statuses=["rejected"])
    ledgers = await queries.order_ledgers(context.snapshots.connection("payments"))
    return invariants.rejected_orders_not_charged(rejected, {ledger.order_id: ledger for ledger in ledgers})


@audit_check("saga.services_agree", "orders x fulfillment: both services agree on each order's state")
async def _services_agree(context: AuditContext) -> list[Finding]:
    all_orders = await queries.order_states(context.snapshots.connection("orders"))
    shipments = await queries.fulfillment_orders(context.snapshots.connection("fulfillment"))
    return invariants.services_agree_on_state(
        all_orders,
        shipments,
        now=context.options.now,
        fulfillment_grace=context.options.fulfillment_grace,
    )


@audit_check(
    "shipments.groups_follow_facts", "orders: each group's status follows its recorded shipment facts"
)
async def _groups_follow_facts(context: AuditContext) -> list[Finding]:
    return invariants.groups_follow_their_facts(
        await queries.shipment_groups(context.snapshots.connection("orders"))
    )


@audit_check(
    "shipments.cancelled_groups_stopped", "orders x fulfillment: a cancelled group has no live fulfillment"
)
async def _cancelled_groups_stopped(context: AuditContext) -> list[Finding]:
    groups = await queries.shipment_groups(context.snapshots.connection("orders"))
    shipments = await queries.fulfillment_orders(context.snapshots.connection("fulfillment"))
    return invariants.cancelled_groups_stopped(groups, shipments)


@audit_check("shipments.stock_committed_once", "orders x catalog: each shipment's units committed once")
async def _stock_committed_once(context: AuditContext) -> list[Finding]:
    shipped, recent = await queries.shipped_by_order(
        context.snapshots.connection("orders"), since=context.options.now - context.options.outbox_max_age
    )
    committed = await queries.committed_by_order(context.snapshots.connection("catalog"))
    return invariants.stock_committed_once(shipped, committed, in_flight=recent)


def _outbox_check(service: str) -> CheckFunction:
    async def check(context: AuditContext) -> list[Finding]:
        options = context.options
        rows = await queries.unpublished_outbox_rows(
            context.snapshots.connection(service),
            service,
            created_before=options.now - options.outbox_max_age,
        )
        return invariants.outbox_published(rows, now=options.now, max_age=options.outbox_max_age)

    return check


for _service in queries.OUTBOXES:
    audit_check(
        f"messaging.outbox_published.{_service}", f"{_service}: outbox rows published within the threshold"
    )(_outbox_check(_service))


@audit_check("saga.paid_orders_progress", "orders: paid orders ship or are shown as waiting (info)")
async def _paid_orders_progress(context: AuditContext) -> list[Finding]:
    confirmed = await queries.order_states(context.snapshots.connection("orders"), statuses=["confirmed"])
    shipments = await queries.fulfillment_orders(
        context.snapshots.connection("fulfillment"), order_ids=[order.order_id for order in confirmed]
    )
    return invariants.paid_orders_progressing(
        confirmed, shipments, now=context.options.now, waiting_after=context.options.waiting_after
    )
