"""Customers' bearer tokens: signed, short-lived, verifiable by every configured key and signed by the first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_gateway.customer_tokens import TokenRefused, looks_like_customer_token, mint, verify

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OLD = "old-signing-key-0123456789abcdef-0123"
NEW = "new-signing-key-0123456789abcdef-0123"
FIFTEEN = timedelta(minutes=15)


def test_a_token_names_its_customer_until_it_expires() -> None:
    issued = mint("c-1", keys=[NEW], now=NOW, lifetime=FIFTEEN)
    assert issued.expires_at == NOW + FIFTEEN
    assert looks_like_customer_token(issued.token)
    assert verify(issued.token, keys=[NEW], now=NOW) == "c-1"
    assert verify(issued.token, keys=[NEW], now=NOW + FIFTEEN - timedelta(seconds=1)) == "c-1"
    for later in (NOW + FIFTEEN, NOW + timedelta(days=1)):
        with pytest.raises(TokenRefused) as refused:
            verify(issued.token, keys=[NEW], now=later)
        assert refused.value.reason == "expired"


def test_during_a_rotation_the_first_key_signs_and_every_key_verifies() -> None:
    before = mint("c-1", keys=[OLD], now=NOW, lifetime=FIFTEEN).token
    during = mint("c-1", keys=[NEW, OLD], now=NOW, lifetime=FIFTEEN).token
    assert verify(before, keys=[NEW, OLD], now=NOW) == "c-1"
    assert verify(during, keys=[NEW], now=NOW) == "c-1"
    with pytest.raises(TokenRefused, match="invalid"):
        verify(before, keys=[NEW], now=NOW)  # the old key is gone: its tokens stop working


def test_a_changed_claim_or_signature_or_a_foreign_key_is_refused() -> None:
    token = mint("c-1", keys=[NEW], now=NOW, lifetime=FIFTEEN).token
    prefix, claims, signature = token.split(".")
    other = mint("c-2", keys=[NEW], now=NOW, lifetime=timedelta(days=365)).token.split(".")[1]
    forged = [
        f"{prefix}.{other}.{signature}",  # someone else's claims (and a longer life) under this signature
        f"{prefix}.{claims}.{signature[:-2]}AA",
        f"{prefix}.{claims}.",
        f"{prefix}.{claims}",
        f"cus2.{claims}.{signature}",
        "cus1.!!!.???",
        "",
        mint("c-1", keys=["someone-elses-key-0123456789abcdef"], now=NOW, lifetime=FIFTEEN).token,
    ]
    for token in forged:
        with pytest.raises(TokenRefused) as refused:
            verify(token, keys=[NEW, OLD], now=NOW)
        assert refused.value.reason == "invalid", token


def test_order_access_tokens_are_not_taken_for_customer_tokens() -> None:
    assert not looks_like_customer_token("q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c")
