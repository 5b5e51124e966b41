"""Proof by permutation: one order's customer-facing events, delivered in every order and some twice under a new
message id, through notifications' real dispatcher, database and SMTP sender, give the customer one email per fact
and never a step of the order's story after a later one (no 'shipped' after 'delivered' of the same shipment)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import itertools
import random
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop_contracts import Envelope, Message, fulfillment, orders
from shop_contracts.values import Address, Customer, PricedLineV1
from shop_notifications import consumers, tables
from shop_notifications.bootstrap import DEFINITION
from shop_notifications.delivery import OutgoingEmail, RetryPolicy
from shop_notifications.links import LinkSigning
from shop_notifications.mailcatcher import MailCatcher
from shop_notifications.sender import EmailSender
from shop_notifications.settings import NotificationsSettings
from shop_notifications.smtp import NOTIFICATION_ID_HEADER, ORDER_ID_HEADER, SmtpMailer
from shop_runtime.consumer import Dispatcher
from shop_runtime.database import Database
from tests.support import infra
from tests.support.messages import eventually

pytestmark = pytest.mark.integration

CUSTOMER = Customer(email="minji@example.com", locale="en")
SIGNING = LinkSigning(public_url="https://shop.test", valid_seconds=86_400)


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


# The events, each for a given order -------------------------------------------------------------------------


def _confirmed(order_id: str) -> orders.OrderConfirmedV1:
    return orders.OrderConfirmedV1(
        order_id=order_id,
        customer=CUSTOMER,
        currency="KRW",
        lines=[PricedLineV1(sku="TEE-M", title="Launch Tee", quantity=1, unit_price=36000, line_total=36000)],
        subtotal=36000,
        shipping=3000,
        total=39000,
        shipping_address=Address(
            name="Minji Kim", line1="152 Teheran-ro", city="Seoul", postal_code="06236", country="KR"
        ),
    )


def _shipped(fulfillment_id: str) -> Callable[[str], Message]:
    def shipped(order_id: str) -> orders.OrderShipped:
        return orders.OrderShipped(
            order_id=order_id,
            customer=CUSTOMER,
            fulfillment_id=fulfillment_id,
            carrier="CJ Logistics",
            tracking_number=f"T-{fulfillment_id}",
        )

    return shipped


def _delivered(fulfillment_id: str) -> Callable[[str], Message]:
    def delivered(order_id: str) -> orders.OrderDelivered:
        return orders.OrderDelivered(order_id=order_id, customer=CUSTOMER, fulfillment_id=fulfillment_id)

    return delivered


def _cancelled(order_id: str) -> orders.OrderCancelledV1:
    return orders.OrderCancelledV1(
        order_id=order_id,
        customer=CUSTOMER,
        reason="changed_mind",
        refund=39000,
        currency="KRW",
        cancelled_by="customer",
    )


def _rejected(order_id: str) -> orders.OrderRejected:
    return orders.OrderRejected(
        order_id=order_id, customer=CUSTOMER, reason="payment_declined", detail="card_declined"
    )


def _balance_reminder(order_id: str) -> orders.OrderBalanceReminderV1:
    return orders.OrderBalanceReminderV1(
        order_id=order_id,
        customer=CUSTOMER,
        group_id="grp-1",
        sku="CAM-1",
        amount=350000,
        currency="KRW",
        charge_at=datetime(2030, 3, 14, 16, 0, tzinfo=UTC),
    )


def _balance_failed_until(retry_at: datetime | None) -> Callable[[str], Message]:
    def balance_failed(order_id: str) -> orders.OrderBalanceChargeFailedV1:
        return orders.OrderBalanceChargeFailedV1(
            order_id=order_id,
            customer=CUSTOMER,
            group_id="grp-1",
            amount=350000,
            currency="KRW",
            reason="card_declined",
            retry_at=retry_at,
        )

    return balance_failed


_balance_failed = _balance_failed_until(datetime(2030, 3, 15, 16, 0, tzinfo=UTC))


def _balance_charged(order_id: str) -> orders.OrderBalanceChargedV1:
    return orders.OrderBalanceChargedV1(
        order_id=order_id,
        customer=CUSTOMER,
        group_id="grp-1",
        amount=350000,
        currency="KRW",
        expected_ship_date=date(2030, 4, 1),
    )


def _return_label(order_id: str) -> fulfillment.ReturnLabelCreated:
    return fulfillment.ReturnLabelCreated(
        return_id="ret-1",
        order_id=order_id,
        customer=CUSTOMER,
        carrier="sandbox",
        label_id="lbl-1",
        tracking_number="R-1",
        label_url="https://labels.test/lbl-1.pdf",
    )


def _return_refunded(order_id: str) -> orders.ReturnRefundedV1:
    return orders.ReturnRefundedV1(
        return_id="ret-1", order_id=order_id, customer=CUSTOMER, currency="KRW", value=36000, refund=33000
    )


# What the customer must get ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One delivery of an event: the fact it tells and how to make it for an order."""

    name: str
    fact: str
    message: Callable[[str], Message]


@dataclass(frozen=True)
class Story:
    """Events of one order, and for each fact the facts later in the customer's story: once one of those is
    known, an email about the earlier fact would reach the customer out of order, so none goes."""

    name: str
    arrivals: tuple[Arrival, ...]
    later: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def emails_expected(self, arrived: Sequence[Arrival]) -> list[str]:
        """The facts the customer hears of, in order: each once, unless a later fact came first."""
        known: set[str] = set()
        told: list[str] = []
        for arrival in arrived:
            if arrival.fact not in known and not self.later.get(arrival.fact, frozenset()) & known:
                told.append(arrival.fact)
            known.add(arrival.fact)
        return told

    def out_of_order(self, told: Sequence[str]) -> list[tuple[str, str]]:
        """Pairs (first, then) the customer got where ``then`` comes before ``first`` in the story."""
        return [
            (first, then)
            for index, first in enumerate(told)
            for then in told[index + 1 :]
            if first in self.later.get(then, frozenset())
        ]


SHIPMENT = Story(
    "confirmed, shipped, delivered and shipped again under a new message id",
    (
        Arrival("confirmed", "confirmed", _confirmed),
        Arrival("shipped F1", "shipped F1", _shipped("F1")),
        Arrival("delivered F1", "delivered F1", _delivered("F1")),
        Arrival("shipped F1 again (new message id)", "shipped F1", _shipped("F1")),
    ),
    later={
        "confirmed": frozenset({"shipped F1", "delivered F1"}),
        "shipped F1": frozenset({"delivered F1"}),
    },
)

TWO_SHIPMENTS = Story(
    "two shipments of one order, each shipped and delivered",
    (
        Arrival("shipped F1", "shipped F1", _shipped("F1")),
        Arrival("delivered F1", "delivered F1", _delivered("F1")),
        Arrival("shipped F2", "shipped F2", _shipped("F2")),
        Arrival("delivered F2", "delivered F2", _delivered("F2")),
    ),
    later={"shipped F1": frozenset({"delivered F1"}), "shipped F2": frozenset({"delivered F2"})},
)

CANCELLATION = Story(
    "confirmed, cancelled and cancelled again under a new message id",
    (
        Arrival("confirmed", "confirmed", _confirmed),
        Arrival("cancelled", "cancelled", _cancelled),
        Arrival("cancelled again (new message id)", "cancelled", _cancelled),
    ),
    later={"confirmed": frozenset({"cancelled"})},
)

REJECTION = Story(
    "rejected twice under two message ids",
    (
        Arrival("rejected", "rejected", _rejected),
        Arrival("rejected again (new message id)", "rejected", _rejected),
    ),
)

BALANCE = Story(
    "a balance reminded, failed once, charged, and charged again under a new message id",
    (
        Arrival("reminder", "reminder", _balance_reminder),
        Arrival("charge failed", "charge failed", _balance_failed),
        Arrival("charged", "charged", _balance_charged),
        Arrival("charged again (new message id)", "charged", _balance_charged),
    ),
    later={
        "reminder": frozenset({"charge failed", "charged"}),
        "charge failed": frozenset({"charged"}),
    },
)

DUNNING = Story(
    "a balance failing three times, the last without a retry",
    (
        Arrival("failed, retry on the 15th", "failed 1", _balance_failed),
        Arrival(
            "failed, retry on the 16th",
            "failed 2",
            _balance_failed_until(datetime(2030, 3, 16, 16, 0, tzinfo=UTC)),
        ),
        Arrival("failed for the last time", "failed last", _balance_failed_until(None)),
    ),
    later={"failed 1": frozenset({"failed 2", "failed last"}), "failed 2": frozenset({"failed last"})},
)

BALANCE_OF_A_CANCELLED_ORDER = Story(
    "a balance reminder and a failed charge of an order that was cancelled",
    (
        Arrival("reminder", "reminder", _balance_reminder),
        Arrival("charge failed", "charge failed", _balance_failed),
        Arrival("cancelled", "cancelled", _cancelled),
    ),
    later={
        "reminder": frozenset({"charge failed", "cancelled"}),
        "charge failed": frozenset({"cancelled"}),
    },
)

RETURN = Story(
    "a return's label, its refund, and the refund again under a new message id",
    (
        Arrival("label", "label", _return_label),
        Arrival("refunded", "refunded", _return_refunded),
        Arrival("refunded again (new message id)", "refunded", _return_refunded),
    ),
    later={"label": frozenset({"refunded"})},
)

STORIES = [
    SHIPMENT,
    TWO_SHIPMENTS,
    CANCELLATION,
    REJECTION,
    BALANCE,
    DUNNING,
    BALANCE_OF_A_CANCELLED_ORDER,
    RETURN,
]


# The service as its worker runs it, minus the broker -----------------------------------------------------------


@dataclass
class Notifications:
    database: Database
    dispatcher: Dispatcher
    sender: EmailSender
    catcher: MailCatcher
    mailer: SmtpMailer
    read: list[tuple[str, str]] = field(default_factory=list)

    async def deliver(self, order_id: str, arrival: Arrival) -> uuid.UUID:
        """Hand one event to the dispatcher as the consumer would; a fresh message id each time."""
        envelope = Envelope.wrap(arrival.message(order_id), subject=order_id, correlation_id=order_id)
        await self.dispatcher.dispatch(envelope)
        return envelope.id

    async def send_everything_due(self) -> None:
        while (await self.sender.send_batch()).claimed:
            pass

    async def told(self, order_id: str, facts_by_message: Mapping[uuid.UUID, str]) -> list[str]:
        """What the customer got about the order, in the order it reached the mail server, as facts."""
        async with self.database.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(tables.notifications.c.id, tables.notifications.c.source_message_id).where(
                    tables.notifications.c.order_id == order_id
                )
            )
            source_of = {str(row.id): row.source_message_id for row in rows}
        return [
            facts_by_message[source_of[notification_id]]
            for about, notification_id in self._mail_headers()  # in the order the mail server took them
            if about == order_id
        ]

    def _mail_headers(self) -> list[tuple[str, str]]:
        """(order id, notification id) of every email the mail server holds, oldest first."""
        for path in self.catcher.messages()[len(self.read) :]:
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(mail, EmailMessage)
            self.read.append((str(mail[ORDER_ID_HEADER]), str(mail[NOTIFICATION_ID_HEADER])))
        return self.read


@pytest.fixture(scope="module")
async def notifications(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Notifications]:
    port = _free_port()
    settings = infra.service_settings(
        DEFINITION, suffix="_arrival_order", smtp_port=port, storefront_url="https://shop.test"
    )
    assert isinstance(settings, NotificationsSettings)
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    mailer = SmtpMailer(settings)
    catcher = await MailCatcher(Path(tmp_path_factory.mktemp("mail")), port=port).start()
    try:
        yield Notifications(
            database=database,
            dispatcher=Dispatcher(
                database,
                consumer="notifications",
                subscriptions=consumers.subscriptions(storefront_url=settings.storefront_url),
            ),
            sender=EmailSender(
                database,
                mailer,
                policy=RetryPolicy(
                    max_attempts=3, base_delay=timedelta(seconds=0.05), max_delay=timedelta(seconds=0.1)
                ),
                batch_size=10,
                poll_seconds=0.02,
                signing=SIGNING,
            ),
            catcher=catcher,
            mailer=mailer,
        )
    finally:
        await catcher.stop()
        await database.dispose()
        await infra.drop_database(settings.database_url)


# The proofs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender_keeps_up", [True, False], ids=["sender-after-each-event", "sender-after-all"]
)
@pytest.mark.parametrize("story", STORIES, ids=lambda story: story.name)
async def test_in_every_arrival_order_the_customer_gets_one_email_per_fact_in_the_storys_order(
    notifications: Notifications, story: Story, sender_keeps_up: bool
) -> None:
    wrong = []
    for number, arrived in enumerate(itertools.permutations(story.arrivals)):
        order_id = f"arrival-{uuid.uuid4().hex[:8]}-{number}"
        facts_by_message: dict[uuid.UUID, str] = {}
        for arrival in arrived:
            facts_by_message[await notifications.deliver(order_id, arrival)] = arrival.fact
            if sender_keeps_up:
                await notifications.send_everything_due()
        await notifications.send_everything_due()

        told = await notifications.told(order_id, facts_by_message)
        expected = story.emails_expected(arrived)
        if told != expected:
            wrong.append(
                f"arrived {[a.name for a in arrived]}: got {told}, expected {expected}"
                + (f", out of order {story.out_of_order(told)}" if story.out_of_order(told) else "")
            )
    assert not wrong, f"{len(wrong)} arrival orders went wrong:\n" + "\n".join(wrong)


async def test_two_consumers_and_the_sender_racing_keep_each_story_whole_and_in_order(
    notifications: Notifications,
) -> None:
    """Two worker replicas handle one order's events at the same moment while the sender runs: the decision
    which fact is told is taken under the order's lock, so no interleaving breaks the story."""
    shuffle = random.Random(20250314)
    order_ids = [f"race-{uuid.uuid4().hex[:8]}-{number}" for number in range(12)]
    deliveries = [(order_id, arrival) for order_id in order_ids for arrival in SHIPMENT.arrivals]
    shuffle.shuffle(deliveries)
    facts_by_message: dict[uuid.UUID, str] = {}

    async def deliver(order_id: str, arrival: Arrival) -> None:
        facts_by_message[await notifications.deliver(order_id, arrival)] = arrival.fact

    stop = asyncio.Event()
    sending = asyncio.create_task(notifications.sender.run(stop))
    try:
        await asyncio.gather(*(deliver(order_id, arrival) for order_id, arrival in deliveries))
    finally:
        stop.set()
        await sending
    await notifications.send_everything_due()

    for order_id in order_ids:
        told = await notifications.told(order_id, facts_by_message)
        assert told.count("delivered F1") == 1, (order_id, told)
        assert len(told) == len(set(told)), (order_id, told)
        assert SHIPMENT.out_of_order(told) == [], (order_id, told)


async def test_an_email_waiting_for_a_retry_holds_back_the_orders_later_emails(
    notifications: Notifications,
) -> None:
    """'shipped' could not be sent (the mail server was down) and waits for its retry; 'delivered' arrives
    meanwhile and would be due first, but an order's emails go out in the order recorded."""
    order_id = f"retry-{uuid.uuid4().hex[:8]}"
    shipped, delivered = SHIPMENT.arrivals[1], SHIPMENT.arrivals[2]
    facts_by_message: dict[uuid.UUID, str] = {}
    retrying_in_a_second = EmailSender(
        notifications.database,
        notifications.mailer,
        policy=RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=1)),
        batch_size=10,
        poll_seconds=0.02,
        signing=SIGNING,
    )
    await notifications.catcher.stop()
    try:
        facts_by_message[await notifications.deliver(order_id, shipped)] = shipped.fact
        outcome = await retrying_in_a_second.send_batch()
        assert outcome.retried == 1
        facts_by_message[await notifications.deliver(order_id, delivered)] = delivered.fact
    finally:
        await notifications.catcher.start()

    async def both_told() -> None:
        await notifications.send_everything_due()
        assert len(await notifications.told(order_id, facts_by_message)) == 2

    await eventually(both_told)
    assert await notifications.told(order_id, facts_by_message) == ["shipped F1", "delivered F1"]


@dataclass
class BrokenForOneOrder:
    """The real mailer, except that handing over one order's email fails with an error it does not expect."""

    mailer: SmtpMailer
    broken_order_id: str

    async def send(self, outgoing: OutgoingEmail) -> None:
        if outgoing.order_id == self.broken_order_id:
            raise RuntimeError("this email cannot be composed")
        await self.mailer.send(outgoing)

    async def close(self) -> None:
        await self.mailer.close()


async def test_an_email_that_fails_unexpectedly_never_makes_the_other_emails_of_its_batch_go_again(
    notifications: Notifications,
) -> None:
    fine, broken = f"fine-{uuid.uuid4().hex[:8]}", f"broken-{uuid.uuid4().hex[:8]}"
    confirmed = SHIPMENT.arrivals[0]
    facts_by_message = {
        await notifications.deliver(fine, confirmed): confirmed.fact,
        await notifications.deliver(broken, confirmed): confirmed.fact,
    }
    sender = EmailSender(
        notifications.database,
        BrokenForOneOrder(notifications.mailer, broken),
        policy=RetryPolicy(max_attempts=3, base_delay=timedelta(0), max_delay=timedelta(0)),
        batch_size=10,
        poll_seconds=0.02,
        signing=SIGNING,
    )
    for _ in range(3):  # the sender's loop: an error of a batch is logged and the next batch tried
        with contextlib.suppress(RuntimeError):
            await sender.send_batch()

    assert await notifications.told(fine, facts_by_message) == ["confirmed"]
    async with notifications.database.engine.connect() as connection:
        status, attempts = (
            await connection.execute(
                sa.select(tables.notifications.c.status, tables.notifications.c.attempts).where(
                    tables.notifications.c.order_id == broken
                )
            )
        ).one()
    assert (status, attempts) == ("failed", 3)
