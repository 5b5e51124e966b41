"""Customers' message preferences as use cases: one-click unsubscribe, and reading and changing every category
with a link's token. Each works in the unit of work it is given; the HTTP edge commits it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from shop_notifications import repository
from shop_notifications.domain import (
    MARKETING,
    OPTIONAL_CATEGORIES,
    Category,
    normalise_email,
    subscribed_by_default,
)
from shop_notifications.links import PREFERENCES, UNSUBSCRIBE, LinkSigning, LinkToken, TokenKind, verify_token
from shop_notifications.page_links import VerifiedPage, verify_page_token
from shop_runtime.database import UnitOfWork

log = logging.getLogger(__name__)


async def link_secrets(uow: UnitOfWork) -> tuple[str, ...]:
    """The secrets that verify a link's token, the first of which signs: the key kept in the database, made on
    first use, so every process and replica of the service signs and checks alike without configuration."""
    return (await repository.link_signing_key(uow.session),)


async def _verified(
    uow: UnitOfWork, token: str, *, kind: TokenKind, signing: LinkSigning, now: datetime
) -> LinkToken:
    return verify_token(
        token,
        kind=kind,
        secrets=await link_secrets(uow),
        now=now.timestamp(),
        valid_seconds=signing.valid_seconds,
    )


@dataclass(frozen=True)
class Preferences:
    """What an address gets: each category a customer may turn off, and whether it is on."""

    email: str
    choices: dict[Category, bool]


async def _preferences(uow: UnitOfWork, email: str) -> Preferences:
    recorded = await repository.preferences_of(uow.session, email)
    return Preferences(
        email=email,
        choices={
            category: recorded.get(category, subscribed_by_default(category))
            for category in OPTIONAL_CATEGORIES
        },
    )


async def unsubscribe(
    uow: UnitOfWork, *, token: str, signing: LinkSigning, now: datetime
) -> tuple[str, Category]:
    """One-click unsubscribe: the token's address stops getting the token's category (again is the same)."""
    verified = await _verified(uow, token, kind=UNSUBSCRIBE, signing=signing, now=now)
    assert verified.category is not None  # an unsubscribe token always names one
    await repository.record_preferences(
        uow.session, verified.email, {verified.category: False}, at=now, by="one_click"
    )
    log.info("an address unsubscribed from %s", verified.category)
    return verified.email, verified.category


async def preferences_of(uow: UnitOfWork, *, token: str, signing: LinkSigning, now: datetime) -> Preferences:
    """What the preferences token's address gets."""
    verified = await _verified(uow, token, kind=PREFERENCES, signing=signing, now=now)
    return await _preferences(uow, verified.email)


async def change_preferences(
    uow: UnitOfWork, *, token: str, choices: dict[Category, bool], signing: LinkSigning, now: datetime
) -> Preferences:
    """Record the preferences token's address's choices (turning marketing on is consent, given from a link
    only its mailbox got) and answer what it now gets."""
    verified = await _verified(uow, token, kind=PREFERENCES, signing=signing, now=now)
    await repository.record_preferences(uow.session, verified.email, choices, at=now, by="preferences_page")
    return await _preferences(uow, verified.email)


async def page_of(uow: UnitOfWork, *, token: str, now: datetime) -> VerifiedPage:
    """What a page link's token opens (an order, a decision or an invoice), checked with the same stored key."""
    return verify_page_token(token, secrets=await link_secrets(uow), now=now.timestamp())


async def record_account_consent(uow: UnitOfWork, *, email: str, consent: bool, changed_at: datetime) -> None:
    """An account's consent to marketing, as orders told it (at sign-up, or changed on the account): the
    ``marketing`` choice of its address, unless a later choice is recorded (an unsubscribe or a preferences page
    after it), so a late or repeated event never undoes a newer choice."""
    recorded = await repository.record_choice_if_newer(
        uow.session, normalise_email(email), MARKETING, consent, at=changed_at, by="account"
    )
    log.info(
        "an account's consent to marketing %s", "recorded" if recorded else "is older than the choice kept"
    )
