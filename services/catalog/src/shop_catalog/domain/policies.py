"""Checking a pre-order policy as staff set it: fields that contradict each other are refused by name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NoReturn

from shop_catalog.domain.errors import InvalidPreorderPolicy
from shop_contracts.values import PreorderPolicy

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def check_deposits_cover(policy: PreorderPolicy, currencies: Iterable[str]) -> None:
    """A deposit of fixed amounts names one for every currency the variant is sold in: a buyer paying in a
    currency without one would otherwise pay no deposit at all."""
    if not policy.deposit_amounts:
        return
    missing = sorted(set(currencies) - set(policy.deposit_amounts))
    if missing:
        _refuse(
            "deposit_amounts",
            f"the variant is sold in {', '.join(missing)} too: give a deposit amount for every currency it is "
            "sold in, or a deposit_percent",
        )


def check_preorder_policy(policy: PreorderPolicy) -> None:
    """Refuse a policy whose fields contradict each other, naming the field to fix."""

    has_percent = policy.deposit_percent is not None
    has_amounts = bool(policy.deposit_amounts)
    if policy.payment_mode == "deposit":
        if has_percent == has_amounts:
            _refuse(
                "deposit_percent", "deposit mode needs exactly one of deposit_percent and deposit_amounts"
            )
    elif has_percent:
        _refuse("deposit_percent", "only a deposit payment_mode takes a deposit")
    elif has_amounts:
        _refuse("deposit_amounts", "only a deposit payment_mode takes a deposit")
    for currency, amount in policy.deposit_amounts.items():
        if not _CURRENCY.match(currency):
            _refuse(f"deposit_amounts.{currency}", "must be an ISO 4217 currency code")
        if amount < 1:
            _refuse(f"deposit_amounts.{currency}", "must be at least 1 minor unit")
    if policy.starts_at is not None and policy.ends_at is not None and policy.ends_at <= policy.starts_at:
        _refuse("ends_at", "must be after starts_at")
    if (
        policy.expected_ship_date is not None
        and policy.expected_ship_latest is not None
        and policy.expected_ship_latest < policy.expected_ship_date
    ):
        _refuse("expected_ship_latest", "must not be before expected_ship_date")
    if policy.expected_ship_latest is not None and policy.expected_ship_date is None:
        _refuse("expected_ship_date", "needed when expected_ship_latest is given")
    if policy.balance_due == "at" and policy.balance_due_at is None:
        _refuse("balance_due_at", "needed when balance_due is 'at'")
    if policy.balance_due != "at" and policy.balance_due_at is not None:
        _refuse("balance_due_at", "only when balance_due is 'at'")
    if policy.balance_due == "after" and policy.balance_due_after_hours is None:
        _refuse("balance_due_after_hours", "needed when balance_due is 'after'")
    if policy.balance_due != "after" and policy.balance_due_after_hours is not None:
        _refuse("balance_due_after_hours", "only when balance_due is 'after'")
    _check_early_bird_tiers(policy)
    if (policy.early_access_segment is None) != (policy.early_access_starts_at is None):
        _refuse("early_access_starts_at", "early access needs both early_access_segment and its start")
    if (
        policy.early_access_starts_at is not None
        and policy.starts_at is not None
        and policy.early_access_starts_at >= policy.starts_at
    ):
        _refuse("early_access_starts_at", "must be before starts_at")


def _check_early_bird_tiers(policy: PreorderPolicy) -> None:
    tiers = policy.early_bird_tiers
    if tiers and policy.starts_at is None:
        _refuse("early_bird_tiers", "early-bird tiers count days from starts_at, which is missing")
    previous = 0
    for index, tier in enumerate(tiers):
        if tier.until_day is None:
            if index != len(tiers) - 1:
                _refuse(f"early_bird_tiers[{index}].until_day", "only the last tier may be open-ended")
            continue
        if tier.until_day <= previous:
            _refuse(f"early_bird_tiers[{index}].until_day", "tiers must be in increasing until_day")
        previous = tier.until_day


def _refuse(field_name: str, message: str) -> NoReturn:
    raise InvalidPreorderPolicy(message, field=field_name)
