"""New message versions: each replaces its previous one in the registry, and upcasts it to the same meaning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shop_contracts import payments
from shop_contracts.envelope import Message
from shop_contracts.money import Money
from shop_contracts.registry import ALL_MESSAGES

REPLACING = [message for message in ALL_MESSAGES if message.REPLACES is not None]
PAYMENTS_REPLACING = [message for message in REPLACING if message.__module__ == payments.__name__]
"""Orders' events, whose amounts are nested in lines and offers, are upcast in ``test_order_versions``."""

# A value for every field payments' replaced versions have; each version takes the fields it declares.
_SAMPLE: dict[str, Any] = {
    "order_id": "order-1",
    "group_id": "group-1",
    "payment_id": "pay-1",
    "refund_id": "re-1",
    "subscription_id": "sub-1",
    "step": "full",
    "amount": 1999,
    "voided": 999,
    "currency": "USD",
    "payment_token": "tok_visa",
    "save_method": True,
    "balance_later": True,
    "bank_transfer_reference": None,
    "card_brand": "visa",
    "card_last4": "4242",
    "authorized_only": True,
    "attempt": 2,
    "cycle": 3,
    "decline_code": "card_declined",
    "message": "The card was declined.",
    "requires_action": True,
    "reason": "cancelled",
    "idempotency_key": "key-1",
    "error": "refund_exceeds_captured: no",
    "customer": {"email": "kim@example.com", "locale": "ko"},
    "retry_at": datetime(2026, 12, 1, tzinfo=UTC),
    "give_up_at": datetime(2026, 12, 8, tzinfo=UTC),
}


def test_every_payments_message_carries_money_in_its_newest_version() -> None:
    newest = {message for message in ALL_MESSAGES if message.__module__ == payments.__name__}
    newest -= {message.REPLACES for message in REPLACING if message.REPLACES is not None}
    for message in newest:
        for name, field in message.model_fields.items():
            assert name != "currency", f"{message.TYPE} still carries currency beside its money"
            if name in ("amount", "voided"):
                assert "Money" in str(field.annotation), f"{message.TYPE}.{name} is not Money"


@pytest.mark.parametrize("message", REPLACING, ids=lambda message: message.TYPE)
def test_a_replaced_version_is_registered_under_its_name_with_v1(message: type[Message]) -> None:
    previous = message.REPLACES
    assert previous is not None
    assert previous in ALL_MESSAGES
    assert previous.__name__ == f"{message.__name__}V1"
    assert (previous.__doc__ or "").startswith("Deprecated:")
    assert previous.TYPE.removesuffix(".v1") + ".v2" == message.TYPE


@pytest.mark.parametrize("message", PAYMENTS_REPLACING, ids=lambda message: message.TYPE)
def test_a_replaced_version_is_upcast_exactly(message: type[Message]) -> None:
    previous = message.REPLACES
    assert previous is not None
    old = previous.model_validate({name: _SAMPLE[name] for name in previous.model_fields})

    new = message.upcast(old)

    assert type(new) is message
    old_values = old.model_dump()
    for name, value in new.model_dump().items():
        if isinstance(getattr(new, name), Money):
            assert getattr(new, name) == Money(old_values[name], old_values["currency"]), name
        else:
            assert value == old_values[name], name
    assert set(old_values) - set(new.model_dump()) == {"currency"}
    assert getattr(new, "currency") == "USD"  # noqa: B009 - each payments message has it, Message does not
    assert "currency" not in new.model_dump(mode="json")


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        (payments.ChargeBalance, {"order_id": "o", "group_id": "g"}),
        (payments.IssueRefund, {"order_id": "o", "reason": "r", "idempotency_key": "k"}),
        (
            payments.ChargeSubscriptionCycle,
            {"subscription_id": "s", "cycle": 1, "attempt": 1, "order_id": "o", "payment_token": "t"},
        ),
    ],
)
def test_a_charge_or_refund_asked_for_is_of_more_than_nothing(
    message: type[Message], fields: dict[str, Any]
) -> None:
    message.model_validate({**fields, "amount": {"amount": 1, "currency": "KRW"}})
    with pytest.raises(ValidationError, match="more than 0"):
        message.model_validate({**fields, "amount": {"amount": 0, "currency": "KRW"}})


def test_a_capture_may_be_of_nothing_but_never_negative() -> None:
    fields = {"order_id": "o", "step": "full", "payment_token": "t"}
    payments.CapturePayment.model_validate({**fields, "amount": {"amount": 0, "currency": "KRW"}})
    with pytest.raises(ValidationError, match="must not be negative"):
        payments.CapturePayment.model_validate({**fields, "amount": {"amount": -1, "currency": "KRW"}})


def test_what_a_refund_voided_is_part_of_it_in_its_currency() -> None:
    fields = {"order_id": "o", "refund_id": "r", "reason": "x", "idempotency_key": "k"}
    amount = {"amount": 5000, "currency": "KRW"}
    payments.RefundIssued.model_validate(
        {**fields, "amount": amount, "voided": {"amount": 5000, "currency": "KRW"}}
    )
    for voided in ({"amount": 5001, "currency": "KRW"}, {"amount": 0, "currency": "USD"}):
        with pytest.raises(ValidationError, match="not part of the amount"):
            payments.RefundIssued.model_validate({**fields, "amount": amount, "voided": voided})
