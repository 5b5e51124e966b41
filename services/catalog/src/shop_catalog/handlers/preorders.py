"""Pre-order policies: setting and ending a SKU's policy, announcing a window when it opens, and giving units
that arrive to the pre-orders waiting for them, in queue order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shop_catalog.domain.errors import NoPreorderPolicy
from shop_catalog.domain.policies import check_deposits_cover, check_preorder_policy
from shop_catalog.domain.preorders import Allocation, allocate_in_queue_order
from shop_catalog.domain.stock import StockLevel
from shop_catalog.domain.waitlist import opening_announcement_due, preorder_opens
from shop_catalog.handlers.announcements import tell_availability
from shop_catalog.handlers.products import require_sku
from shop_catalog.handlers.waitlist import notify_waitlist
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import products as product_records
from shop_catalog.repository import waitlist as waitlist_records
from shop_catalog.repository.preorders import PolicyRecord
from shop_catalog.tables import (
    preorder_policies,
    scheduled_jobs,
)
from shop_contracts import catalog as contracts
from shop_contracts.values import PreorderPolicy
from shop_runtime import scheduling
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork
from shop_runtime.preorder_pricing import window_state


@dataclass(frozen=True)
class SavedPolicy:
    sku: str
    policy: PreorderPolicy | None
    version: int


async def set_preorder_policy(
    uow: UnitOfWork, *, sku: str, policy: PreorderPolicy, clock: Clock
) -> SavedPolicy:
    """Put a variant on pre-order under ``policy`` (or change its policy) and tell other services.

    When this opens the pre-order (its window is open now and was not under the policy it replaces), the
    SKU's waitlist hears of it. A window that starts later is announced by a scheduled job at its start;
    saving the policy again replaces that job (the old version's job is cancelled).
    """
    await require_sku(uow, sku)
    check_preorder_policy(policy)
    check_deposits_cover(policy, await product_records.currencies_of(uow.session, sku))
    existing = (await preorder_records.lock_preorder_policies(uow.session, [sku])).get(sku)
    now = clock.now()
    previous_window = (
        window_state(existing.policy, now) if existing is not None and existing.policy is not None else None
    )
    version = existing.version + 1 if existing else 1
    values = {**preorder_records.policy_values(policy), "version": version, "ended_at": None}
    if existing:
        await uow.session.execute(
            sa.update(preorder_policies)
            .where(preorder_policies.c.sku == sku)
            .values(**values, updated_at=sa.func.now())
        )
    else:
        await uow.session.execute(sa.insert(preorder_policies).values(sku=sku, **values))
    uow.publish(contracts.PreorderPolicyUpdated(sku=sku, policy=policy, version=version), subject=sku)
    await tell_availability(uow, [sku])
    if preorder_opens(previous_window, window_state(policy, now)):
        await notify_waitlist(uow, sku=sku, kind="preorder_open", policy=policy)
    await _schedule_opening(uow, sku=sku, policy=policy, version=version, replaced=existing, now=now)
    return SavedPolicy(sku=sku, policy=policy, version=version)


async def end_preorder_policy(uow: UnitOfWork, *, sku: str) -> SavedPolicy:
    """Take a variant off pre-order; pre-orders already accepted keep their places and are still served.

    The SKU's waitlist may hear of the next pre-order that opens.
    """
    await require_sku(uow, sku)
    existing = (await preorder_records.lock_preorder_policies(uow.session, [sku])).get(sku)
    if existing is None or existing.policy is None:
        raise NoPreorderPolicy(f"{sku!r} is not on pre-order", field="sku")
    await waitlist_records.reset_waitlist_notified(uow.session, [sku], "preorder_open")
    version = existing.version + 1
    # A scheduled announcement of the ended window finds the version moved on and does nothing.
    await uow.session.execute(
        sa.update(preorder_policies)
        .where(preorder_policies.c.sku == sku)
        .values(version=version, ended_at=sa.func.now(), updated_at=sa.func.now())
    )
    uow.publish(contracts.PreorderPolicyUpdated(sku=sku, policy=None, version=version), subject=sku)
    await tell_availability(uow, [sku])
    return SavedPolicy(sku=sku, policy=None, version=version)


class AnnouncePreorderOpen(scheduling.Job):
    """Announce that a pre-order window opened, at its start (the policy of this version, if still current)."""

    KIND = "announce_preorder_open"
    sku: str
    version: int


def _opening_key(sku: str, version: int) -> str:
    return f"{AnnouncePreorderOpen.KIND}:{sku}:v{version}"


async def _schedule_opening(
    uow: UnitOfWork,
    *,
    sku: str,
    policy: PreorderPolicy,
    version: int,
    replaced: PolicyRecord | None,
    now: datetime,
) -> None:
    """Replace the announcement of the replaced policy's window with one at this window's start, if ahead."""
    if replaced is not None:
        await scheduling.cancel(uow.session, scheduled_jobs, key=_opening_key(sku, replaced.version), now=now)
    due = opening_announcement_due(policy, now)
    if due is not None:
        await scheduling.schedule(
            uow.session,
            scheduled_jobs,
            AnnouncePreorderOpen(sku=sku, version=version),
            key=_opening_key(sku, version),
            due_at=due,
        )


async def announce_preorder_open(uow: UnitOfWork, *, sku: str, version: int, clock: Clock) -> None:
    """A scheduled window start came: tell the SKU's waitlist the pre-order is open, once.

    Does nothing when the policy was changed or ended since (its own job, if any, announces it) or the
    window is not open at this moment.
    """
    record = (await preorder_records.lock_preorder_policies(uow.session, [sku])).get(sku)
    if record is None or record.policy is None or record.version != version:
        return
    if window_state(record.policy, clock.now()) != "open":
        return
    await notify_waitlist(uow, sku=sku, kind="preorder_open", policy=record.policy)


async def allocate_to_waiting_preorders(uow: UnitOfWork, levels: list[StockLevel]) -> list[Allocation]:
    """Give what ``levels`` have available to their SKUs' waiting pre-orders, in queue order.

    The one way units reach pre-orders (receipts, adjustments, releases). The caller holds the SKUs'
    policy locks and saves the levels afterwards.
    """
    queue = await preorder_records.waiting_preorders(uow.session, {level.sku for level in levels})
    if not queue:
        return []
    allocations = allocate_in_queue_order(queue, levels)
    await preorder_records.save_allocations(uow.session, queue, allocations)
    for allocation in allocations:
        uow.publish(
            contracts.PreorderAllocated(
                order_id=allocation.order_id,
                allocation_id=str(allocation.id),
                sku=allocation.sku,
                location=allocation.location,
                quantity=allocation.quantity,
                still_waiting=allocation.still_waiting,
            ),
            subject=allocation.order_id,
            correlation_id=allocation.order_id,
        )
    return allocations


def active_policy(records: dict[str, PolicyRecord]) -> dict[str, PreorderPolicy]:
    return {sku: record.policy for sku, record in records.items() if record.policy is not None}
