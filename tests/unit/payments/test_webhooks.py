"""PSP webhook signatures and what a customer's completed action makes of a declined balance charge."""

from __future__ import annotations

import uuid

import pytest

from shop_contracts.money import Money
from shop_payments import webhooks
from shop_payments.domain import (
    BalanceAttempt,
    Decline,
    EventMismatch,
    Payment,
    PspEvent,
    PspEventOutcome,
    payment_after_action,
)

BODY = b'{"id":"evt_1","type":"charge.succeeded","data":{}}'
NOW = 1_764_000_000
SECRET = "whsec-unit-test-secret-1"


def verify(header: str | None, *, secrets: tuple[str, ...] = (SECRET,), now: float = NOW) -> int:
    return webhooks.verify(BODY, header, secrets=secrets, now=now, tolerance_seconds=300)


def refused(header: str | None, **kwargs: object) -> webhooks.SignatureRefused:
    with pytest.raises(webhooks.SignatureRefused) as caught:
        verify(header, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_a_body_signed_with_the_secret_verifies_and_its_signed_time_is_returned() -> None:
    header = webhooks.sign(BODY, secret=SECRET, timestamp=NOW - 20)
    assert header.startswith(f"t={NOW - 20},v1=")
    assert verify(header) == NOW - 20


def test_another_secret_another_body_or_another_time_does_not_verify() -> None:
    assert (
        refused(webhooks.sign(BODY, secret="whsec-someone-else-0000", timestamp=NOW)).code == "bad_signature"
    )
    tampered = webhooks.sign(BODY + b" ", secret=SECRET, timestamp=NOW)
    assert refused(tampered).status == 401
    # the timestamp is part of what is signed: a fresh t on an old signature does not verify
    old = webhooks.sign(BODY, secret=SECRET, timestamp=NOW - 3600)
    assert refused(old.replace(f"t={NOW - 3600}", f"t={NOW}")).code == "bad_signature"


def test_a_signature_older_or_newer_than_the_tolerance_is_stale() -> None:
    assert verify(webhooks.sign(BODY, secret=SECRET, timestamp=NOW - 300)) == NOW - 300
    stale = refused(webhooks.sign(BODY, secret=SECRET, timestamp=NOW - 301))
    assert (stale.code, stale.status) == ("stale_signature", 401)
    assert refused(webhooks.sign(BODY, secret=SECRET, timestamp=NOW + 301)).code == "stale_signature"


def test_a_missing_or_malformed_header_is_a_bad_request() -> None:
    for header in (None, "", "  "):
        assert (refused(header).code, refused(header).status) == ("missing_signature", 400)
    for header in ("v1=abc", f"t={NOW}", "t=soon,v1=abc", "sha256=abc"):
        assert (refused(header).code, refused(header).status) == ("malformed_signature", 400)


def test_during_a_rotation_any_configured_secret_verifies_any_signature_in_the_header() -> None:
    rotated = ("whsec-unit-test-secret-2", SECRET)
    assert verify(webhooks.sign(BODY, secret=SECRET, timestamp=NOW), secrets=rotated) == NOW
    assert verify(webhooks.sign(BODY, secret=rotated[0], timestamp=NOW), secrets=rotated) == NOW
    # a PSP mid-rotation may send both signatures; one matching is enough
    both = (
        webhooks.sign(BODY, secret="whsec-retired-secret-00", timestamp=NOW)
        + ",v1="
        + (webhooks.sign(BODY, secret=SECRET, timestamp=NOW).split("v1=")[1])
    )
    assert verify(both) == NOW
    assert webhooks.parse_secrets(" a-secret , ,b-secret ") == ("a-secret", "b-secret")


def _balance(*, requires_action: bool, attempt: int = 1, succeeded: bool = False) -> Payment:
    decline = (
        None if succeeded else Decline("authentication_required", "confirm", requires_action=requires_action)
    )
    return Payment(
        id=uuid.uuid4(),
        order_id="o-1",
        step="balance:g-1" if attempt == 1 else f"balance:g-1:{attempt}",
        amount=Money(7_000, "KRW"),
        psp_reference=f"sandbox_ch_{attempt}",
        decline=decline,
        balance=BalanceAttempt("g-1", attempt),
    )


def _event(charge: str, amount: int = 7_000) -> PspEvent:
    return PspEvent(id="evt_1", type="charge.succeeded", charge_reference=charge, amount=Money(amount, "KRW"))


def test_a_confirmed_charge_pays_the_group_as_its_next_attempt_with_the_same_psp_reference() -> None:
    declined = _balance(requires_action=True)
    retried = _balance(requires_action=True, attempt=2)
    new_id = uuid.uuid4()

    paid = payment_after_action(
        declined, [declined, retried], event=_event("sandbox_ch_1"), payment_id=new_id
    )

    assert isinstance(paid, Payment)
    assert (paid.id, paid.step, paid.succeeded) == (new_id, "balance:g-1:3", True)
    assert (paid.psp_reference, paid.amount, paid.balance) == (
        "sandbox_ch_1",
        Money(7_000, "KRW"),
        BalanceAttempt("g-1", 3),
    )
    assert [entry.amount for entry in paid.ledger_entries()] == [Money(7_000, "KRW")]


def test_nothing_is_paid_twice_nor_for_a_charge_that_needed_no_action() -> None:
    declined = _balance(requires_action=True)
    after_action = payment_after_action(
        declined, [declined], event=_event("sandbox_ch_1"), payment_id=uuid.uuid4()
    )
    assert isinstance(after_action, Payment)
    # the same charge told again; the group paid by another attempt meanwhile; a plain decline
    assert (
        payment_after_action(declined, [declined, after_action], event=_event("x"), payment_id=uuid.uuid4())
        is PspEventOutcome.NO_CHANGE
    )
    other = _balance(requires_action=False, attempt=2, succeeded=True)
    assert (
        payment_after_action(declined, [declined, other], event=_event("x"), payment_id=uuid.uuid4())
        is PspEventOutcome.ALREADY_PAID
    )
    plain = _balance(requires_action=False)
    assert (
        payment_after_action(plain, [plain], event=_event("x"), payment_id=uuid.uuid4())
        is PspEventOutcome.NO_CHANGE
    )
    with pytest.raises(EventMismatch):
        payment_after_action(declined, [declined], event=_event("x", amount=1), payment_id=uuid.uuid4())
