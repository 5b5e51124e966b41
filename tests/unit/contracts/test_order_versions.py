"""Orders' events carry Money from version 2: each version 1 upcasts to the version 2 that means the same (nested
lines and the win-back offer included), a version 2 travels as JSON unchanged, and its amounts share one currency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shop_contracts import orders
from shop_contracts.envelope import Envelope, Message
from shop_contracts.money import Money
from shop_contracts.registry import ALL_MESSAGES, MESSAGE_TYPES
from shop_contracts.values import Address, Customer, PricedLineV1

CUSTOMER = Customer(email="kim@example.com", locale="ko")
ADDRESS = Address(name="Kim", line1="1 Main St", city="Seoul", postal_code="04524", country="KR")
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LINE = PricedLineV1(sku="TEE-M", title="Launch Tee", quantity=2, unit_price=1250, line_total=2500)

# One version 1 of each money-bearing event, every amount distinct, in dollars (cents show a lost minor unit).
VERSION_1: list[Message] = [
    orders.OrderPlacedV1(order_id="order-1", customer=CUSTOMER, currency="USD", lines=[LINE], total=2999),
    orders.OrderConfirmedV1(
        order_id="order-1",
        customer=CUSTOMER,
        currency="USD",
        lines=[
            LINE,
            PricedLineV1(sku="CAM-1", title="Camera", quantity=1, unit_price=50000, line_total=50000),
        ],
        subtotal=52500,
        shipping=499,
        total=52999,
        shipping_address=ADDRESS,
        charged_now=12999,
        preorder_lines=[
            orders.PreorderSummaryV1(
                sku="CAM-1",
                title="Camera",
                quantity=1,
                payment_mode="deposit",
                paid_now=10000,
                balance=40000,
                balance_due="2026-12-20T00:00:00+00:00",
                expected_ship_date=date(2026, 12, 24),
                queue_position=7,
            )
        ],
    ),
    orders.OrderBalanceChargedV1(
        order_id="order-1",
        customer=CUSTOMER,
        group_id="group-1",
        amount=40000,
        currency="USD",
        expected_ship_date=date(2026, 12, 24),
    ),
    orders.OrderBalanceChargeFailedV1(
        order_id="order-1",
        customer=CUSTOMER,
        group_id="group-1",
        amount=40001,
        currency="USD",
        reason="card_declined",
        requires_action=True,
        retry_at=AT,
    ),
    orders.OrderBalanceReminderV1(
        order_id="order-1",
        customer=CUSTOMER,
        group_id="group-1",
        sku="CAM-1",
        amount=40002,
        currency="USD",
        charge_at=AT,
        when_ready=True,
    ),
    orders.OrderCancelledV1(
        order_id="order-1",
        customer=CUSTOMER,
        reason="found_cheaper",
        refund=2999,
        currency="USD",
        note="too slow",
        cancelled_by="customer",
        partial=True,
        held=True,
        discount_code="BACK-1",
        discount_percent=None,
        discount_expires_at=AT,
        offer=orders.WinBackOfferV1(
            kind="fixed_amount", code="BACK-1", amount_off=500, currency="USD", expires_at=AT, marketing=True
        ),
        feedback_token="token-1",
    ),
    orders.ReturnRefundedV1(
        return_id="return-1",
        order_id="order-1",
        customer=CUSTOMER,
        currency="USD",
        value=2500,
        return_shipping_fee=300,
        restocking_fee=125,
        refund=2075,
        exchange_unavailable=["TEE-L"],
    ),
    orders.DraftInvoiceSentV1(
        draft_id="draft-1",
        customer=CUSTOMER,
        currency="USD",
        lines=[
            orders.DraftInvoiceLineV1(
                sku="TEE-M", title="Launch Tee", quantity=2, unit_price=1250, discount=250, line_total=2250
            ),
            orders.DraftInvoiceLineV1(title="Gift wrap", quantity=1, unit_price=300, line_total=300),
        ],
        subtotal=2800,
        discount=250,
        shipping=499,
        tax=231,
        tax_included=False,
        total=3280,
        payment_terms="net",
        net_days=30,
        due_date=date(2026, 12, 31),
        checkout_token="token-2",
        expires_at=AT,
    ),
    orders.OrderPaymentOverdueV1(
        order_id="order-1",
        customer=CUSTOMER,
        currency="USD",
        amount=3280,
        due_date=date(2026, 12, 31),
        draft_id="draft-1",
        checkout_token="token-2",
    ),
    orders.SubscriptionChargeUpcomingV1(
        subscription_id="sub-1",
        customer=CUSTOMER,
        plan_name="Coffee",
        cycle=3,
        amount=1999,
        currency="USD",
        charge_at=AT,
    ),
    orders.SubscriptionCycleChargedV1(
        subscription_id="sub-1",
        customer=CUSTOMER,
        plan_name="Coffee",
        cycle=3,
        order_id="order-3",
        amount=1998,
        currency="USD",
        next_charge_at=AT,
    ),
    orders.SubscriptionCycleFailedV1(
        subscription_id="sub-1",
        customer=CUSTOMER,
        plan_name="Coffee",
        cycle=3,
        attempt=2,
        amount=1997,
        currency="USD",
        reason="insufficient_funds",
        requires_action=True,
        retry_at=AT,
        give_up_at=datetime(2026, 12, 8, tzinfo=UTC),
    ),
]

NEWER = {message.REPLACES: message for message in ALL_MESSAGES if message.REPLACES is not None}


def _sample(message: type[Message]) -> Message:
    (sample,) = (old for old in VERSION_1 if type(old) is message)
    return sample


def _version_2(old: Message) -> type[Message]:
    newer = NEWER.get(type(old))
    assert newer is not None, f"{old.TYPE} has no version 2"
    return newer


def _in_minor_units(value: Any) -> Any:
    """A JSON dump with every Money written back as its bare amount, as version 1 carried it."""
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"} and isinstance(value["amount"], int):
            return value["amount"]
        return {name: _in_minor_units(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_in_minor_units(item) for item in value]
    return value


def _without_currency(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _without_currency(item) for name, item in value.items() if name != "currency"}
    if isinstance(value, list):
        return [_without_currency(item) for item in value]
    return value


def _money_in(value: Any) -> list[Money]:
    if isinstance(value, Money):
        return [value]
    if isinstance(value, list):
        return [money for item in value for money in _money_in(item)]
    if hasattr(type(value), "model_fields"):
        return [money for name in type(value).model_fields for money in _money_in(getattr(value, name))]
    return []


def test_every_money_bearing_orders_event_has_a_registered_version_2_without_a_currency_field() -> None:
    for old in VERSION_1:
        newer = _version_2(old)
        assert type(old) in ALL_MESSAGES
        assert MESSAGE_TYPES[old.TYPE.removesuffix(".v1") + ".v2"] is newer
        assert "currency" not in newer.model_fields, newer.TYPE
    replaced_in_orders = {message for message in NEWER if message.__module__ == orders.__name__}
    assert replaced_in_orders == {type(old) for old in VERSION_1}


@pytest.mark.parametrize("old", VERSION_1, ids=lambda message: message.TYPE)
def test_version_1_upcasts_to_the_same_amounts_in_its_currency(old: Message) -> None:
    new = _version_2(old).upcast(old)

    assert type(new) is _version_2(old)
    assert _in_minor_units(new.model_dump(mode="json")) == _without_currency(old.model_dump(mode="json"))
    amounts = _money_in(new)
    assert amounts, "a version 2 carries its amounts as Money"
    assert {money.currency for money in amounts} == {"USD"}
    assert getattr(new, "currency") == "USD"  # noqa: B009 - every money-bearing orders event has it
    assert "currency" not in new.model_dump(mode="json")


@pytest.mark.parametrize("old", VERSION_1, ids=lambda message: message.TYPE)
def test_version_2_travels_in_an_envelope_unchanged(old: Message) -> None:
    new = _version_2(old).upcast(old)
    envelope = Envelope.wrap(new, subject="order-1", correlation_id="order-1")

    received = Envelope.model_validate_json(envelope.model_dump_json())

    assert received.type == new.TYPE
    assert type(new).model_validate(received.data) == new


def test_a_confirmation_upcasts_its_lines_and_pre_order_lines_to_money() -> None:
    old = _sample(orders.OrderConfirmedV1)
    assert isinstance(old, orders.OrderConfirmedV1)

    new = orders.OrderConfirmed.upcast(old)

    assert [(line.sku, line.unit_price, line.line_total) for line in new.lines] == [
        ("TEE-M", Money(1250, "USD"), Money(2500, "USD")),
        ("CAM-1", Money(50000, "USD"), Money(50000, "USD")),
    ]
    assert new.charged_now == Money(12999, "USD")
    (preorder,) = new.preorder_lines
    assert (preorder.paid_now, preorder.balance) == (Money(10000, "USD"), Money(40000, "USD"))
    assert (preorder.queue_position, preorder.balance_due) == (7, "2026-12-20T00:00:00+00:00")


def test_a_confirmation_charged_in_full_upcasts_without_a_charged_now() -> None:
    old = orders.OrderConfirmedV1.model_validate(
        {**_sample(orders.OrderConfirmedV1).model_dump(), "charged_now": None}
    )

    assert orders.OrderConfirmed.upcast(old).charged_now is None


def test_a_win_back_amount_without_its_own_currency_is_in_the_orders() -> None:
    offer = orders.WinBackOfferV1(kind="fixed_amount", code="BACK-2", amount_off=5000, expires_at=AT)
    old = orders.OrderCancelledV1(
        order_id="o", customer=CUSTOMER, reason="other", refund=0, currency="KRW", offer=offer
    )

    new = orders.OrderCancelled.upcast(old)

    assert new.refund == Money(0, "KRW")
    assert new.offer is not None
    assert new.offer.amount_off == Money(5000, "KRW")
    assert new.offer.currency == "KRW"
    assert (new.offer.kind, new.offer.code, new.offer.expires_at) == ("fixed_amount", "BACK-2", AT)


def test_a_win_back_link_has_no_amount_and_no_currency() -> None:
    offer = orders.WinBackOfferV1(kind="link", link="similar_products", skus=["TEE-M"], marketing=False)
    old = orders.OrderCancelledV1(
        order_id="o", customer=CUSTOMER, reason="other", refund=100, currency="KRW", offer=offer
    )

    new = orders.OrderCancelled.upcast(old)

    assert new.offer is not None
    assert (new.offer.amount_off, new.offer.currency, new.offer.skus) == (None, None, ["TEE-M"])


def _confirmation(**changes: Any) -> dict[str, Any]:
    confirmed = orders.OrderConfirmed.upcast(_sample(orders.OrderConfirmedV1)).model_dump(mode="json")
    return {**confirmed, **changes}


def test_every_amount_of_a_message_is_in_its_one_currency() -> None:
    won = {"amount": 1250, "currency": "KRW"}
    line = {"sku": "TEE-M", "title": "Tee", "quantity": 1, "unit_price": won, "line_total": won}

    with pytest.raises(ValidationError, match=r"lines\[0\]\.unit_price is in KRW but total in USD"):
        orders.OrderConfirmed.model_validate(_confirmation(lines=[line]))
    with pytest.raises(ValidationError, match="shipping is in KRW"):
        orders.OrderConfirmed.model_validate(_confirmation(shipping=won))
    preorder = _confirmation()["preorder_lines"][0]
    with pytest.raises(ValidationError, match=r"preorder_lines\[0\]\.balance is in KRW"):
        orders.OrderConfirmed.model_validate(_confirmation(preorder_lines=[{**preorder, "balance": won}]))
    cancelled = orders.OrderCancelled.upcast(_sample(orders.OrderCancelledV1)).model_dump(mode="json")
    with pytest.raises(ValidationError, match=r"offer\.amount_off is in KRW but refund in USD"):
        orders.OrderCancelled.model_validate(
            {**cancelled, "offer": {**cancelled["offer"], "amount_off": won}}
        )


def test_an_amount_is_never_negative_and_a_charge_is_of_more_than_nothing() -> None:
    cancelled = orders.OrderCancelled.upcast(_sample(orders.OrderCancelledV1)).model_dump(mode="json")
    with pytest.raises(ValidationError, match="must not be negative"):
        orders.OrderCancelled.model_validate({**cancelled, "refund": {"amount": -1, "currency": "USD"}})
    with pytest.raises(ValidationError, match="must not be negative"):
        orders.OrderConfirmed.model_validate(_confirmation(total={"amount": -1, "currency": "USD"}))
    charged = orders.OrderBalanceCharged.upcast(_sample(orders.OrderBalanceChargedV1)).model_dump(mode="json")
    with pytest.raises(ValidationError, match="more than 0"):
        orders.OrderBalanceCharged.model_validate({**charged, "amount": {"amount": 0, "currency": "USD"}})


def test_a_version_1_that_cannot_mean_a_version_2_is_refused() -> None:
    with pytest.raises(TypeError, match="expected a OrderPlaced"):
        orders.OrderPlaced.from_previous(_sample(orders.OrderConfirmedV1))


def test_no_orders_message_in_its_newest_version_carries_a_currency_beside_bare_amounts() -> None:
    replaced = {message.REPLACES for message in ALL_MESSAGES}
    newest = [
        message
        for message in ALL_MESSAGES
        if message.__module__ == orders.__name__ and message not in replaced
    ]
    for message in newest:
        assert "currency" not in message.model_fields, (
            f"{message.TYPE} still carries currency beside its amounts"
        )
