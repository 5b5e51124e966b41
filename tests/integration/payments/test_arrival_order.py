"""Proof by permutation: one order's payment messages, delivered in every order they can arrive in, leave the
same ledger, tell each outcome once and make each PSP call once, and no state on the way allows more.

Commands go through payments' real ``Dispatcher`` with its ``SUBSCRIPTIONS`` bound to a sandbox PSP exactly as
the worker binds them (``service_definition(...).subscriptions``), into a throwaway PostgreSQL database; PSP
webhooks go through payments' HTTP app, signed. No broker: a ``dispatch`` is what the worker does with one
delivery, and the test chooses the order of the deliveries. Each order of arrival gets an order id of its own.

Some orders of arrival cannot happen by construction, and are left out explicitly (``impossible`` names why):

- A refund command before the capture it refunds is recorded: orders asks for a refund only of money it heard
  was captured (``PaymentSucceeded``, ``BalanceCharged``), and payments tells that from the transaction that
  records the capture. A copy of a refund command (redelivered, re-published under a new id) is no earlier
  than the first, so it too comes after the capture.
- A balance command before the checkout capture is recorded: orders asks for a balance only of an order it
  confirmed, on hearing ``PaymentSucceeded``.
- A webhook saying the customer confirmed a declined balance charge before that decline is recorded: the
  customer is asked to confirm by orders, on hearing ``BalanceChargeFailed``, which payments tells from the
  transaction that records the decline. (Were one to come earlier anyway, payments answers 404 and the PSP
  delivers it again: ``test_webhooks`` shows an unknown charge refused.)
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import Envelope, Message
from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_contracts.routing import service_queue
from shop_payments import webhooks
from shop_payments.bootstrap import service_definition
from shop_payments.psp import ChargeAttempt, ChargeResult, SandboxPsp
from shop_payments.tables import outbox
from shop_runtime.clock import SystemClock
from shop_runtime.consumer import Dispatcher
from shop_runtime.database import Database
from shop_runtime.service import WorkerContext
from tests.integration.payments.harness import payments_of
from tests.support import infra

pytestmark = pytest.mark.integration

SECRET = "whsec-arrival-order-0b7f2c"
NEEDS_ACTION = "tok_arrival_needs_action"
"""Pays at checkout; off session it needs the customer, under a PSP reference the test can name in advance."""

OUTCOMES = {
    message.TYPE: message
    for message in (
        contracts.PaymentSucceeded,
        contracts.PaymentFailed,
        contracts.BalanceCharged,
        contracts.BalanceChargeFailed,
        contracts.RefundIssued,
        contracts.RefundRejected,
    )
}


def _reference(attempt: ChargeAttempt) -> str:
    return f"ch_{attempt.idempotency_key}"


def _needs_action_off_session(attempt: ChargeAttempt) -> ChargeResult:
    if not attempt.off_session:
        return ChargeResult(True, _reference(attempt), card_brand="visa", card_last4="3184")
    return ChargeResult(
        False,
        _reference(attempt),
        decline_code="authentication_required",
        decline_message="The card needs the customer to confirm this charge.",
        card_brand="visa",
        card_last4="3184",
        requires_action=True,
    )


@dataclass
class Shop:
    """Payments as its worker and HTTP app run it, minus the broker."""

    dispatcher: Dispatcher
    database: Database
    client: httpx.AsyncClient
    sandbox: SandboxPsp


@pytest.fixture
async def shop(broker: AbstractRobustConnection) -> AsyncIterator[Shop]:
    sandbox = SandboxPsp({NEEDS_ACTION: _needs_action_off_session})
    definition = service_definition(lambda settings: sandbox)
    settings = infra.service_settings(definition, suffix="_arrival_order", psp_webhook_secrets=SECRET)
    await infra.fresh_database(definition, settings)
    database = definition.database(settings)
    context = WorkerContext(settings=settings, database=database, broker=broker, clock=SystemClock())
    dispatcher = Dispatcher(
        database, consumer=service_queue("payments"), subscriptions=definition.subscriptions(context)
    )
    app = definition.http_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments") as client,
        ):
            yield Shop(dispatcher, database, client, sandbox)
    finally:
        await database.dispose()
        await infra.drop_database(settings.database_url)


# --- what arrives ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One arrival: a command's envelope (a copy has a new id; a redelivery the same one), or a webhook."""

    name: str
    envelope: Envelope | None = None
    webhook: bytes | None = None


def _envelope(message: Message, order_id: str) -> Envelope:
    return Envelope.wrap(message, subject=order_id, correlation_id=order_id)


def _copy(envelope: Envelope) -> Envelope:
    """The same command re-published under a new message id (made when the first was)."""
    return envelope.model_copy(update={"id": uuid.uuid4()})


def _charge_succeeded(event_id: str, charge: str, amount: int) -> bytes:
    data = {"charge": charge, "amount": amount, "currency": "KRW"}
    return json.dumps({"id": event_id, "type": "charge.succeeded", "created": 1, "data": data}).encode()


def _refund(order_id: str, name: str, amount: int) -> contracts.IssueRefund:
    return contracts.IssueRefund(
        order_id=order_id,
        amount=Money(amount, "KRW"),
        reason="changed_mind",
        idempotency_key=f"{order_id}:{name}",
    )


# --- what the test sees after each arrival --------------------------------------------------------------


@dataclass
class Seen:
    """What a user checks of one order: the ledger, the outcomes told (the outbox), the sandbox's calls."""

    captured: int
    refunded: int
    refunds: dict[str, int]
    told: list[Message]
    charges: list[tuple[str, int, bool, str]]
    psp_refunds: list[tuple[str, str, int]]

    def told_of(self, message_class: type[Any]) -> list[Any]:
        return [message for message in self.told if isinstance(message, message_class)]


async def _seen(shop: Shop, order_id: str) -> Seen:
    view = await payments_of(shop.client, order_id)
    async with shop.database.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(outbox.c.message_type, outbox.c.body)
                .where(outbox.c.headers["correlation_id"].astext == order_id)
                .order_by(outbox.c.id)
            )
        ).all()
    told: list[Message] = []
    for row in rows:
        if row.message_type in OUTCOMES:
            told.append(
                OUTCOMES[row.message_type].model_validate(Envelope.model_validate_json(row.body).data)
            )
    return Seen(
        captured=view["captured"],
        refunded=view["refunded"],
        refunds={refund["idempotency_key"]: refund["amount"] for refund in view["refunds"]},
        told=told,
        charges=[
            (c.idempotency_key, c.amount, c.result.approved, c.result.psp_reference)
            for c in shop.sandbox.charges
            if c.idempotency_key.startswith(f"{order_id}:")
        ],
        psp_refunds=[
            (r.idempotency_key, r.charge_reference, r.amount)
            for r in shop.sandbox.refunds
            if r.idempotency_key.startswith(f"{order_id}:")
        ],
    )


def _assert_allowed(seen: Seen, where: str) -> None:
    """What every state on the way allows: no more refunded than captured, at the PSP as in the ledger; each
    PSP call once per fact; each outcome told once, and only once its fact is in the ledger."""
    assert 0 <= seen.refunded <= seen.captured, where
    keys = [key for key, *_ in seen.charges]
    assert len(keys) == len(set(keys)), f"{where}: a charge made twice: {keys}"
    refund_keys = [key for key, *_ in seen.psp_refunds]
    assert len(refund_keys) == len(set(refund_keys)), f"{where}: a refund made twice: {refund_keys}"
    charged = {reference: (amount, approved) for _, amount, approved, reference in seen.charges}
    given_back = Counter[str]()
    for _, reference, amount in seen.psp_refunds:
        given_back[reference] += amount
    for reference, amount in given_back.items():
        charge_amount, approved = charged[reference]
        assert approved, f"{where}: a refund of charge {reference}, which took no money"
        assert amount <= charge_amount, f"{where}: {amount} refunded of charge {reference}"
    told_once = Counter(
        (type(message).__name__, getattr(message, "idempotency_key", None)) for message in seen.told
    )
    assert all(count == 1 for count in told_once.values()), f"{where}: told twice: {told_once}"
    for issued in seen.told_of(contracts.RefundIssued):
        assert seen.refunds.get(issued.idempotency_key) == issued.amount.amount, where
    rejected = {message.idempotency_key for message in seen.told_of(contracts.RefundRejected)}
    assert not rejected & set(seen.refunds), f"{where}: refused and given: {rejected & set(seen.refunds)}"
    if seen.told_of(contracts.PaymentSucceeded) or seen.told_of(contracts.BalanceCharged):
        assert seen.captured > 0, where


async def _deliver(shop: Shop, delivery: Delivery) -> str:
    """Hand one arrival to payments as the worker (a command) or the PSP (a webhook) would; say how it went."""
    if delivery.envelope is not None:
        return "handled" if await shop.dispatcher.dispatch(delivery.envelope) else "duplicate"
    assert delivery.webhook is not None
    signature = webhooks.sign(delivery.webhook, secret=SECRET, timestamp=int(time.time()))
    response = await shop.client.post(
        "/webhooks/psp",
        content=delivery.webhook,
        headers={"Content-Type": "application/json", webhooks.SIGNATURE_HEADER: signature},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


# --- an order paid in full, refunded in two parts: every order of arrival ------------------------------


def _paid_in_full(order_id: str) -> list[Delivery]:
    capture = _envelope(
        contracts.CapturePayment(
            order_id=order_id,
            step="full",
            amount=Money(10_000, "KRW"),
            payment_token="tok_visa",
            save_method=True,
        ),
        order_id,
    )
    return_a = _envelope(_refund(order_id, "return-a", 3_000), order_id)
    return_b = _envelope(_refund(order_id, "return-b", 2_000), order_id)
    return [
        Delivery("capture", capture),
        Delivery("capture copy", _copy(capture)),
        Delivery("refund a", return_a),
        Delivery("refund a copy", _copy(return_a)),
        Delivery("refund a redelivered", return_a),
        Delivery("refund b", return_b),
    ]


def _impossible_when_paid_in_full(names: tuple[str, ...]) -> str | None:
    first_capture = min(names.index("capture"), names.index("capture copy"))
    for position, name in enumerate(names):
        if name.startswith("refund") and position < first_capture:
            return "a refund command is sent only once the capture it refunds is recorded"
    return None


async def test_every_order_of_arrival_of_a_capture_and_its_refunds_ends_the_same_and_tells_each_once(
    shop: Shop,
) -> None:
    names = tuple(delivery.name for delivery in _paid_in_full("o"))
    orders = list(itertools.permutations(names))
    possible = [order for order in orders if _impossible_when_paid_in_full(order) is None]
    # Left out, each for the reason `_impossible_when_paid_in_full` gives: a refund before any capture.
    assert (len(orders), len(possible)) == (720, 240)

    for number, order in enumerate(possible):
        order_id = f"order-full-{number}"
        by_name = {delivery.name: delivery for delivery in _paid_in_full(order_id)}
        for step, name in enumerate(order, start=1):
            answer = await _deliver(shop, by_name[name])
            _assert_allowed(await _seen(shop, order_id), f"{order[:step]} -> {answer}")

        seen = await _seen(shop, order_id)
        where = f"arrival order {order}"
        assert (seen.captured, seen.refunded) == (10_000, 5_000), where
        assert seen.refunds == {f"{order_id}:return-a": 3_000, f"{order_id}:return-b": 2_000}, where
        assert [type(m).__name__ for m in seen.told].count("PaymentSucceeded") == 1, where
        assert sorted(m.idempotency_key for m in seen.told_of(contracts.RefundIssued)) == [
            f"{order_id}:return-a",
            f"{order_id}:return-b",
        ], where
        assert not seen.told_of(contracts.RefundRejected), where
        assert [(key, amount) for key, amount, *_ in seen.charges] == [(f"{order_id}:full", 10_000)], where
        assert sorted(amount for *_, amount in seen.psp_refunds) == [2_000, 3_000], where


# --- a deposit, a balance the customer confirms by webhook, refunds: a random walk with duplicates -------


def _deposit_and_balance(order_id: str) -> list[Delivery]:
    capture = _envelope(
        contracts.CapturePayment(
            order_id=order_id,
            step="full",
            amount=Money(3_000, "KRW"),
            payment_token=NEEDS_ACTION,
            save_method=True,
            balance_later=True,
        ),
        order_id,
    )
    balance = _envelope(
        contracts.ChargeBalance(order_id=order_id, group_id="g-1", amount=Money(7_000, "KRW")), order_id
    )
    declined_charge = f"ch_{order_id}:balance:g-1"
    confirmed = _charge_succeeded(f"evt_{order_id}_1", declined_charge, 7_000)
    cancel_a = _envelope(_refund(order_id, "cancel-a", 1_000), order_id)
    cancel_b = _envelope(_refund(order_id, "cancel-b", 4_000), order_id)
    return [
        Delivery("capture", capture),
        Delivery("capture copy", _copy(capture)),
        Delivery("balance", balance),
        Delivery("balance copy", _copy(balance)),
        Delivery("webhook", webhook=confirmed),
        Delivery("webhook redelivered", webhook=confirmed),
        Delivery(
            "webhook told again", webhook=_charge_succeeded(f"evt_{order_id}_2", declined_charge, 7_000)
        ),
        Delivery("refund a", cancel_a),
        Delivery("refund a copy", _copy(cancel_a)),
        Delivery("refund b", cancel_b),
    ]


def _impossible_with_a_balance(name: str, delivered: Iterable[str], balance_paid: bool) -> str | None:
    """Why ``name`` cannot arrive after ``delivered``, or None when it can."""
    arrived = set(delivered)
    if name.startswith(("balance", "refund a")) and not {"capture", "capture copy"} & arrived:
        return "orders asks for a balance or a refund only once the checkout capture is recorded"
    if name.startswith("webhook") and not {"balance", "balance copy"} & arrived:
        return (
            "the customer confirms a declined charge only once told of the decline, which is recorded first"
        )
    if name == "refund b" and not balance_paid:
        return "orders asks to refund the balance only once it heard the balance was charged"
    return None


RANDOM_WALKS = 80


async def test_a_balance_confirmed_by_webhook_and_refunds_arriving_in_any_possible_order_with_copies(
    shop: Shop,
) -> None:
    for walk in range(RANDOM_WALKS):
        chooser = random.Random(walk)
        order_id = f"order-balance-{walk}"
        waiting = {delivery.name: delivery for delivery in _deposit_and_balance(order_id)}
        arrived: list[str] = []
        answers: dict[str, list[str]] = {}
        balance_paid = False
        while waiting:
            possible = [
                name for name in waiting if _impossible_with_a_balance(name, arrived, balance_paid) is None
            ]
            name = chooser.choice(possible)
            answer = await _deliver(shop, waiting.pop(name))
            if name.startswith("balance") and not {"balance", "balance copy"} & set(arrived):
                # Told of the decline, the customer confirms the charge at their bank: the PSP takes the money.
                assert shop.sandbox.confirm_action(charge_reference=f"ch_{order_id}:balance:g-1")
            arrived.append(name)
            answers.setdefault(name, []).append(answer)
            where = f"walk {walk}: {arrived} -> {answer}"
            balance_paid = balance_paid or answer == "balance_charged"
            seen = await _seen(shop, order_id)
            _assert_allowed(seen, where)
            if "refund b" not in arrived:
                assert seen.refunded <= 1_000, where

        seen = await _seen(shop, order_id)
        where = f"walk {walk}: {arrived}"
        assert (seen.captured, seen.refunded) == (10_000, 5_000), where
        assert seen.refunds == {f"{order_id}:cancel-a": 1_000, f"{order_id}:cancel-b": 4_000}, where
        assert Counter(type(m).__name__ for m in seen.told) == {
            "PaymentSucceeded": 1,
            "BalanceChargeFailed": 1,
            "BalanceCharged": 1,
            "RefundIssued": 2,
        }, where
        # The checkout charge and the one balance attempt the customer confirmed: no attempt made by a copy.
        assert [(key, amount) for key, amount, *_ in seen.charges] == [
            (f"{order_id}:full", 3_000),
            (f"{order_id}:balance:g-1", 7_000),
        ], where
        assert sorted(amount for *_, amount in seen.psp_refunds) == [1_000, 4_000], where
        webhook_answers = sorted(
            answer for name in answers if name.startswith("webhook") for answer in answers[name]
        )
        assert webhook_answers.count("balance_charged") == 1, where
        assert set(webhook_answers) <= {"balance_charged", "duplicate", "no_change"}, where
        view = await payments_of(shop.client, order_id)
        assert [(p["step"], p["status"], p["psp_reference"]) for p in view["items"]] == [
            ("full", "succeeded", f"ch_{order_id}:full"),
            ("balance:g-1", "failed", f"ch_{order_id}:balance:g-1"),
            ("balance:g-1:2", "succeeded", f"ch_{order_id}:balance:g-1"),
        ], where
