"""The sandbox PSP: what each test token answers on and off session, verifying tokens, refunds, and that an
idempotency key charges (or refunds) once."""

from __future__ import annotations

import httpx
import pytest

from shop_payments.psp import (
    ChargeAttempt,
    ChargeResult,
    IdempotencyKeyReused,
    PspServerError,
    PspTimeout,
    PspUnavailable,
    RefundRefused,
    SandboxPsp,
    SandboxWebhooks,
)


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


@pytest.mark.parametrize("token", ["tok_requires_action", "tok_fails_later"])
async def test_cards_that_fail_later_are_charged_at_checkout(token: str) -> None:
    result = await SandboxPsp().charge(
        token=token, amount=10_000, currency="KRW", idempotency_key="o-1:full", off_session=False
    )
    assert result.approved
    assert not result.requires_action
    assert result.card_brand
    assert result.card_last4


async def test_a_card_that_requires_action_is_declined_off_session_asking_the_customer() -> None:
    result = await SandboxPsp().charge(
        token="tok_requires_action", amount=29_000, currency="KRW", idempotency_key="o-1:b", off_session=True
    )
    assert not result.approved
    assert result.decline_code == "authentication_required"
    assert result.requires_action


async def test_a_card_that_fails_later_is_declined_off_session() -> None:
    result = await SandboxPsp().charge(
        token="tok_fails_later", amount=29_000, currency="KRW", idempotency_key="o-1:b", off_session=True
    )
    assert not result.approved
    assert result.decline_code == "card_declined"
    assert not result.requires_action


@pytest.mark.parametrize(
    ("token", "approved", "code"),
    [
        ("tok_visa", True, None),
        ("tok_mastercard", True, None),
        ("tok_card_declined", False, "card_declined"),
        ("tok_insufficient_funds", False, "insufficient_funds"),
    ],
)
async def test_the_old_tokens_answer_the_same_off_session(
    token: str, approved: bool, code: str | None
) -> None:
    result = await SandboxPsp().charge(
        token=token, amount=500, currency="USD", idempotency_key="o-1:b", off_session=True
    )
    assert (result.approved, result.decline_code, result.requires_action) == (approved, code, False)


@pytest.mark.parametrize(
    ("token", "brand", "last4"),
    [
        ("tok_visa", "visa", "4242"),
        ("tok_mastercard", "mastercard", "4444"),
        ("tok_requires_action", "visa", "3184"),
        ("tok_fails_later", "visa", "0341"),
    ],
)
async def test_chargeable_tokens_verify_and_show_their_card(token: str, brand: str, last4: str) -> None:
    sandbox = SandboxPsp()
    verification = await sandbox.verify(token=token)
    assert verification.approved
    assert (verification.card_brand, verification.card_last4) == (brand, last4)
    assert verification.psp_reference
    assert sandbox.charges == []


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("tok_card_declined", "card_declined"),
        ("tok_insufficient_funds", "insufficient_funds"),
        ("tok_nobody_knows", "invalid_token"),
    ],
)
async def test_declining_tokens_fail_verification_with_their_code(token: str, code: str) -> None:
    verification = await SandboxPsp().verify(token=token)
    assert not verification.approved
    assert verification.decline_code == code
    assert verification.decline_message


async def test_a_key_reused_off_session_for_an_on_session_charge_is_refused() -> None:
    sandbox = SandboxPsp()
    await sandbox.charge(
        token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:b", off_session=True
    )
    with pytest.raises(IdempotencyKeyReused):
        await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:b")


async def test_a_refund_gives_back_once_per_key() -> None:
    sandbox = SandboxPsp()
    charge = await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:full")
    first = await sandbox.refund(psp_reference=charge.psp_reference, amount=200, idempotency_key="r-1")
    again = await sandbox.refund(psp_reference=charge.psp_reference, amount=200, idempotency_key="r-1")
    assert again == first
    assert [(r.charge_reference, r.amount) for r in sandbox.refunds] == [(charge.psp_reference, 200)]
    with pytest.raises(IdempotencyKeyReused):
        await sandbox.refund(psp_reference=charge.psp_reference, amount=300, idempotency_key="r-1")


async def test_the_sandbox_refuses_to_refund_more_than_its_charge() -> None:
    sandbox = SandboxPsp()
    charge = await sandbox.charge(token="tok_visa", amount=500, currency="USD", idempotency_key="o-1:full")
    await sandbox.refund(psp_reference=charge.psp_reference, amount=400, idempotency_key="r-1")
    with pytest.raises(RefundRefused):
        await sandbox.refund(psp_reference=charge.psp_reference, amount=101, idempotency_key="r-2")
    declined = await sandbox.charge(
        token="tok_card_declined", amount=500, currency="USD", idempotency_key="o-2:full"
    )
    with pytest.raises(RefundRefused):
        await sandbox.refund(psp_reference=declined.psp_reference, amount=1, idempotency_key="r-3")


@pytest.mark.parametrize(
    ("token", "error", "brand", "last4"),
    [
        ("tok_timeout_then_ok", PspTimeout, "visa", "1881"),
        ("tok_error_then_ok", PspServerError, "mastercard", "5100"),
    ],
)
async def test_flaky_psp_tokens_fail_the_first_attempt_then_charge_once(
    token: str, error: type[PspUnavailable], brand: str, last4: str
) -> None:
    sandbox = SandboxPsp()
    with pytest.raises(error) as raised:
        await sandbox.charge(token=token, amount=39000, currency="KRW", idempotency_key="o-1:full")
    assert isinstance(raised.value, PspUnavailable)  # the worker retries it
    assert sandbox.charges == []
    result = await sandbox.charge(token=token, amount=39000, currency="KRW", idempotency_key="o-1:full")
    assert result.approved
    assert (result.card_brand, result.card_last4) == (brand, last4)
    again = await sandbox.charge(token=token, amount=39000, currency="KRW", idempotency_key="o-1:full")
    assert again == result
    assert len(sandbox.charges) == 1


async def test_flaky_psp_tokens_fail_the_first_attempt_of_every_new_charge() -> None:
    sandbox = SandboxPsp()
    with pytest.raises(PspTimeout):
        await sandbox.charge(token="tok_timeout_then_ok", amount=100, currency="KRW", idempotency_key="a")
    with pytest.raises(PspTimeout):
        await sandbox.charge(token="tok_timeout_then_ok", amount=100, currency="KRW", idempotency_key="b")
    assert (
        await sandbox.charge(token="tok_timeout_then_ok", amount=100, currency="KRW", idempotency_key="b")
    ).approved


async def test_a_server_error_says_its_status() -> None:
    with pytest.raises(PspServerError) as raised:
        await SandboxPsp().charge(token="tok_error_then_ok", amount=1, currency="KRW", idempotency_key="k")
    assert raised.value.status == 503


@pytest.mark.parametrize("token", ["tok_timeout_then_ok", "tok_error_then_ok"])
async def test_flaky_psp_tokens_verify_straight_away(token: str) -> None:
    verification = await SandboxPsp().verify(token=token)
    assert verification.approved


async def test_a_charge_the_customer_confirmed_is_approved_and_can_be_refunded() -> None:
    received: list[bytes] = []

    def shop(request: httpx.Request) -> httpx.Response:
        received.append(request.content)
        return httpx.Response(200, json={"status": "balance_charged"})

    webhooks = SandboxWebhooks(
        "http://shop/webhooks/psp", ("whsec-unit-sandbox-0001",), transport=httpx.MockTransport(shop)
    )
    sandbox = SandboxPsp(webhooks=webhooks)
    declined = await sandbox.charge(
        token="tok_requires_action",
        amount=7_000,
        currency="KRW",
        idempotency_key="o-1:balance:g-1",
        off_session=True,
    )
    assert declined.requires_action
    with pytest.raises(RefundRefused):
        await sandbox.refund(psp_reference=declined.psp_reference, amount=7_000, idempotency_key="r-early")

    await sandbox.complete_action(charge_reference=declined.psp_reference, amount=7_000, currency="KRW")

    assert len(received) == 1
    [charge] = sandbox.charges
    assert (charge.result.approved, charge.result.psp_reference) == (True, declined.psp_reference)
    replayed = await sandbox.charge(
        token="tok_requires_action",
        amount=7_000,
        currency="KRW",
        idempotency_key="o-1:balance:g-1",
        off_session=True,
    )
    assert replayed.approved
    refunded = await sandbox.refund(psp_reference=declined.psp_reference, amount=7_000, idempotency_key="r-1")
    assert refunded.psp_reference
