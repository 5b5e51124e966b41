"""The sandbox PSP's card holds: authorise, capture in full or in parts, void, expiry by its clock, a token
whose captures fail, one whose hold expires early, and that each idempotency key acts once."""

from __future__ import annotations

import pytest

from shop_payments.psp import HoldRefused, IdempotencyKeyReused, PspServerError, SandboxPsp

DAY = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_hold_is_authorised_for_days_and_captured_in_parts_then_released() -> None:
    clock = Clock()
    sandbox = SandboxPsp(clock=clock, hold_seconds=7 * DAY)
    held = await sandbox.authorize(token="tok_visa", amount=100_000, currency="KRW", idempotency_key="o:full")
    assert held.approved
    assert held.expires_at is not None
    assert held.expires_at.timestamp() == clock.now + 7 * DAY
    assert (held.card_brand, held.card_last4) == ("visa", "4242")
    first = await sandbox.capture(
        authorization_reference=held.psp_reference,
        amount=40_000,
        currency="KRW",
        idempotency_key="o:capture:g-1",
    )
    assert first.approved
    await sandbox.void(authorization_reference=held.psp_reference, amount=60_000, idempotency_key="o:void")
    with pytest.raises(HoldRefused):
        await sandbox.capture(
            authorization_reference=held.psp_reference,
            amount=1,
            currency="KRW",
            idempotency_key="o:capture:g-2",
        )


async def test_a_capture_asked_again_under_its_key_captures_once_and_a_different_one_is_refused() -> None:
    sandbox = SandboxPsp()
    held = await sandbox.authorize(token="tok_visa", amount=5_000, currency="KRW", idempotency_key="o:full")
    again = [
        await sandbox.capture(
            authorization_reference=held.psp_reference, amount=5_000, currency="KRW", idempotency_key="o:cap"
        )
        for _ in range(2)
    ]
    assert again[0] == again[1]
    assert len(sandbox.captures) == 1
    with pytest.raises(IdempotencyKeyReused):
        await sandbox.capture(
            authorization_reference=held.psp_reference, amount=4_000, currency="KRW", idempotency_key="o:cap"
        )


async def test_a_hold_captured_after_it_expired_is_declined() -> None:
    clock = Clock()
    sandbox = SandboxPsp(clock=clock, hold_seconds=7 * DAY)
    held = await sandbox.authorize(token="tok_visa", amount=5_000, currency="KRW", idempotency_key="o:full")
    clock.now += 7 * DAY
    late = await sandbox.capture(
        authorization_reference=held.psp_reference, amount=5_000, currency="KRW", idempotency_key="o:cap"
    )
    assert not late.approved
    assert late.decline_code == "authorization_expired"


async def test_the_early_token_holds_for_a_minute_and_its_card_still_charges_off_session() -> None:
    clock = Clock()
    sandbox = SandboxPsp(clock=clock)
    held = await sandbox.authorize(
        token="tok_hold_expires_early", amount=5_000, currency="KRW", idempotency_key="o:full"
    )
    assert held.expires_at is not None
    assert held.expires_at.timestamp() == clock.now + 60
    charged = await sandbox.charge(
        token="tok_hold_expires_early", amount=5_000, currency="KRW", idempotency_key="o:r", off_session=True
    )
    assert charged.approved


async def test_a_token_whose_captures_fail_is_authorised_and_refused_at_capture() -> None:
    sandbox = SandboxPsp()
    held = await sandbox.authorize(
        token="tok_capture_fails", amount=5_000, currency="KRW", idempotency_key="o:full"
    )
    assert held.approved
    refused = await sandbox.capture(
        authorization_reference=held.psp_reference, amount=5_000, currency="KRW", idempotency_key="o:cap"
    )
    assert not refused.approved
    assert refused.decline_code == "capture_failed"


async def test_a_flaky_psp_fails_the_first_capture_and_the_retry_under_the_same_key_captures() -> None:
    sandbox = SandboxPsp()
    with pytest.raises(PspServerError):
        await sandbox.authorize(
            token="tok_error_then_ok", amount=5_000, currency="KRW", idempotency_key="o:f"
        )
    held = await sandbox.authorize(
        token="tok_error_then_ok", amount=5_000, currency="KRW", idempotency_key="o:f"
    )
    with pytest.raises(PspServerError):
        await sandbox.capture(
            authorization_reference=held.psp_reference, amount=5_000, currency="KRW", idempotency_key="o:cap"
        )
    retried = await sandbox.capture(
        authorization_reference=held.psp_reference, amount=5_000, currency="KRW", idempotency_key="o:cap"
    )
    assert retried.approved


async def test_a_restarted_sandbox_still_knows_when_a_hold_expires_from_its_reference() -> None:
    clock = Clock()
    held = await SandboxPsp(clock=clock, hold_seconds=DAY).authorize(
        token="tok_visa", amount=5_000, currency="KRW", idempotency_key="o:full"
    )
    clock.now += DAY + 1
    late = await SandboxPsp(clock=clock).capture(
        authorization_reference=held.psp_reference, amount=5_000, currency="KRW", idempotency_key="o:cap"
    )
    assert late.decline_code == "authorization_expired"


async def test_a_declined_card_is_not_authorised() -> None:
    held = await SandboxPsp().authorize(
        token="tok_card_declined", amount=5_000, currency="KRW", idempotency_key="o:full"
    )
    assert not held.approved
    assert held.decline_code == "card_declined"
    assert held.expires_at is None
