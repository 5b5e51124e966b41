"""The sandbox PSP: what each test token answers, and that an idempotency key charges once."""

from __future__ import annotations

import pytest

from shop_payments.psp import ChargeAttempt, ChargeResult, IdempotencyKeyReused, PspUnavailable, SandboxPsp


async def test_a_visa_token_is_approved_and_shows_its_brand_and_last_digits() -> None:
    result = await SandboxPsp().charge(
        token="tok_visa", amount=39000, currency="KRW", idempotency_key="o-1:full"
    )
    assert result.approved
    assert (result.card_brand, result.card_last4) == ("visa", "4242")
    assert result.psp_reference
    assert result.decline_code is None


async def test_a_mastercard_token_is_approved() -> None:
    result = await SandboxPsp().charge(
        token="tok_mastercard", amount=1250, currency="USD", idempotency_key="o-1:full"
    )
    assert result.approved
    assert (result.card_brand, result.card_last4) == ("mastercard", "4444")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("tok_card_declined", "card_declined"),
        ("tok_insufficient_funds", "insufficient_funds"),
        ("tok_nobody_knows", "invalid_token"),
        ("4242424242424242", "invalid_token"),
    ],
)
async def test_declining_tokens_say_why(token: str, code: str) -> None:
    result = await SandboxPsp().charge(token=token, amount=100, currency="USD", idempotency_key="o-1:full")
    assert not result.approved
    assert result.decline_code == code
    assert result.decline_message


async def test_the_same_idempotency_key_answers_the_same_and_charges_once() -> None:
    sandbox = SandboxPsp()
    first = await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:full")
    again = await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:full")
    assert again == first
    assert len(sandbox.charges) == 1


async def test_a_declined_charge_is_also_answered_once() -> None:
    sandbox = SandboxPsp()
    first = await sandbox.charge(
        token="tok_card_declined", amount=500, currency="USD", idempotency_key="o-1:full"
    )
    again = await sandbox.charge(
        token="tok_card_declined", amount=500, currency="USD", idempotency_key="o-1:full"
    )
    assert again == first
    assert len(sandbox.charges) == 1


async def test_different_keys_are_different_charges() -> None:
    sandbox = SandboxPsp()
    first = await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:full")
    second = await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-2:full")
    assert first.psp_reference != second.psp_reference
    assert [charge.idempotency_key for charge in sandbox.charges] == ["o-1:full", "o-2:full"]


async def test_a_key_reused_for_another_amount_is_refused() -> None:
    sandbox = SandboxPsp()
    await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:full")
    with pytest.raises(IdempotencyKeyReused):
        await sandbox.charge(token="tok_visa", amount=600, currency="USD", idempotency_key="o-1:full")
    assert len(sandbox.charges) == 1


async def test_the_sandbox_never_keeps_the_token() -> None:
    sandbox = SandboxPsp()
    await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:full")
    assert "tok_visa" not in repr(sandbox.charges)
    assert "tok_visa" not in repr(vars(sandbox)["_answers"])


async def test_a_new_behaviour_can_fail_first_and_succeed_on_the_retry() -> None:
    """How timeouts and 'error then success' tokens plug in: a behaviour sees which attempt it is."""

    def flaky(attempt: ChargeAttempt) -> ChargeResult:
        if attempt.number == 1:
            raise PspUnavailable("timed out")
        return ChargeResult(
            approved=True, psp_reference=f"ref-{attempt.number}", card_brand="visa", card_last4="1"
        )

    sandbox = SandboxPsp({"tok_flaky": flaky})
    with pytest.raises(PspUnavailable):
        await sandbox.charge(token="tok_flaky", amount=500, currency="USD", idempotency_key="o-1:full")
    assert sandbox.charges == []
    result = await sandbox.charge(token="tok_flaky", amount=500, currency="USD", idempotency_key="o-1:full")
    assert result.approved
    assert result.psp_reference == "ref-2"
    assert len(sandbox.charges) == 1
