"""Message preferences without I/O: every template's category, the signed tokens of the unsubscribe and preferences
links, whether a recorded choice keeps an email back, and the links and headers a non-transactional email carries."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from shop_notifications.delivery import OutgoingEmail
from shop_notifications.domain import (
    CATEGORIES,
    MARKETING,
    PREORDER_UPDATES,
    TEMPLATE_CATEGORIES,
    TEMPLATES,
    TRANSACTIONAL,
    WAITLIST,
    Category,
    category_of,
    normalise_email,
    suppression_reason,
)
from shop_notifications.links import (
    PREFERENCES,
    UNSUBSCRIBE,
    LinkToken,
    TokenRefused,
    preference_links,
    preferences_token,
    sign_token,
    unsubscribe_token,
    verify_token,
)
from shop_notifications.rendering import TEMPLATES_PATH, with_preference_links
from shop_notifications.smtp import compose, from_header

SECRET = "a-secret-for-unit-tests-only"
OLD_SECRET = "the-secret-before-rotation"
NOW = 1_800_000_000
DAY = 86_400


def test_every_template_has_exactly_one_category() -> None:
    """The table names each template notifications sends (the names in code and the files in templates/, in both
    languages) once, each with a known category."""
    files = {
        path.name.removesuffix(".txt.j2")
        for locale in ("en", "ko")
        for path in (TEMPLATES_PATH / locale).glob("*.txt.j2")
    }
    assert set(TEMPLATES) == files
    assert set(TEMPLATE_CATEGORIES) == set(TEMPLATES)
    assert len(TEMPLATE_CATEGORIES) == len(TEMPLATES)
    assert set(TEMPLATE_CATEGORIES.values()) <= set(CATEGORIES)


def test_what_asks_the_customer_to_decide_or_pay_is_transactional() -> None:
    for template in (
        "order_confirmed",
        "order_cancelled",  # the win-back answer sits inside the cancellation
        "order_balance_reminder",
        "order_balance_charge_failed",
        "preorder_date_changed",  # offers to cancel with a refund, asks consent past the promise
        "order_payment_overdue",
        "draft_invoice",
        "return_refunded",
    ):
        assert category_of(template) == TRANSACTIONAL, template
    assert category_of("waitlist_back_in_stock") == WAITLIST
    assert category_of("waitlist_preorder_open") == PREORDER_UPDATES
    assert category_of("a_template_nobody_classified") == TRANSACTIONAL


@pytest.mark.parametrize(
    ("category", "subscribed", "reason"),
    [
        (TRANSACTIONAL, False, None),
        (TRANSACTIONAL, None, None),
        (WAITLIST, None, None),
        (WAITLIST, True, None),
        (WAITLIST, False, "unsubscribed from waitlist"),
        (PREORDER_UPDATES, None, None),
        (PREORDER_UPDATES, False, "unsubscribed from preorder_updates"),
        (MARKETING, None, "no consent to marketing"),
        (MARKETING, True, None),
        (MARKETING, False, "unsubscribed from marketing"),
    ],
)
def test_a_recorded_choice_decides_whether_an_email_is_sent(
    category: Category, subscribed: bool | None, reason: str | None
) -> None:
    assert suppression_reason(category, subscribed) == reason


def test_guests_and_account_holders_share_preferences_whatever_the_case() -> None:
    assert normalise_email("  Minji.Kim@Example.COM ") == "minji.kim@example.com"


def _verify(
    token: str, kind: str = UNSUBSCRIBE, *, now: int = NOW, secrets: tuple[str, ...] = (SECRET,)
) -> LinkToken:
    return verify_token(token, kind=kind, secrets=secrets, now=now, valid_seconds=30 * DAY)  # type: ignore[arg-type]


def _refused(token: str, kind: str = UNSUBSCRIBE, **options: object) -> TokenRefused:
    with pytest.raises(TokenRefused) as refused:
        _verify(token, kind, **options)  # type: ignore[arg-type]
    return refused.value


def test_an_unsubscribe_token_names_the_normalised_address_and_the_category() -> None:
    token = unsubscribe_token("Ann@Example.com", WAITLIST, secret=SECRET, issued_at=NOW)
    assert _verify(token, now=NOW + 29 * DAY) == LinkToken(UNSUBSCRIBE, "ann@example.com", WAITLIST)


def test_a_preferences_token_names_the_address_only() -> None:
    token = preferences_token("ann@example.com", secret=SECRET, issued_at=NOW)
    assert _verify(token, PREFERENCES) == LinkToken(PREFERENCES, "ann@example.com")


def test_transactional_email_has_no_unsubscribe_token() -> None:
    with pytest.raises(ValueError, match="transactional"):
        unsubscribe_token("ann@example.com", TRANSACTIONAL, secret=SECRET, issued_at=NOW)
    forged_kind = sign_token(
        LinkToken(UNSUBSCRIBE, "ann@example.com", TRANSACTIONAL), secret=SECRET, issued_at=NOW
    )
    assert _refused(forged_kind).code == "malformed_token"


def test_a_token_signed_with_an_older_secret_verifies_during_a_rotation() -> None:
    token = unsubscribe_token("ann@example.com", MARKETING, secret=OLD_SECRET, issued_at=NOW)
    assert _verify(token, secrets=(SECRET, OLD_SECRET)).category == MARKETING
    assert _refused(token, secrets=(SECRET,)).code == "invalid_token"


def test_a_changed_token_is_refused_as_invalid() -> None:
    token = unsubscribe_token("ann@example.com", WAITLIST, secret=SECRET, issued_at=NOW)
    payload, issued, digest = token.split(".")
    other = unsubscribe_token("bob@example.com", WAITLIST, secret=SECRET, issued_at=NOW).split(".")[0]
    for changed in (
        f"{other}.{issued}.{digest}",  # someone else's address under this signature
        f"{payload}.{int(issued) + 1}.{digest}",  # a later time
        f"{payload}.{issued}.{digest[:-1]}",  # cut short
    ):
        refused = _refused(changed)
        assert (refused.code, refused.status) == ("invalid_token", 401), changed
        assert "signature" in str(refused)


def test_an_expired_token_says_so() -> None:
    token = unsubscribe_token("ann@example.com", WAITLIST, secret=SECRET, issued_at=NOW)
    refused = _refused(token, now=NOW + 31 * DAY)
    assert (refused.code, refused.status) == ("expired_token", 401)
    assert "expired" in str(refused)
    assert "30 days" in str(refused)


@pytest.mark.parametrize("token", ["", "nonsense", "a.b.c", "!!!.1800000000.abcd", "e30.1800000000."])
def test_a_token_that_is_not_one_is_malformed(token: str) -> None:
    refused = _refused(token)
    assert (refused.code, refused.status) == ("malformed_token", 400)


def test_each_token_opens_only_its_own_route() -> None:
    unsubscribe = unsubscribe_token("ann@example.com", WAITLIST, secret=SECRET, issued_at=NOW)
    preferences = preferences_token("ann@example.com", secret=SECRET, issued_at=NOW)
    assert _refused(unsubscribe, PREFERENCES).code == "wrong_token"
    assert _refused(preferences, UNSUBSCRIBE).code == "wrong_token"


def _waitlist_email(locale: str = "en") -> OutgoingEmail:
    return OutgoingEmail(
        notification_id="6f0f1d8e-1b7c-4f5e-9d55-2a4c1e0b9a10",
        order_id="waitlist:entry-1",
        template="waitlist_back_in_stock",
        recipient="ann@example.com",
        locale=locale,  # type: ignore[arg-type]
        subject="[Shop] Back in stock",
        text="Hello,\n\nIt is back.\n",
        html="<p>It is back.</p>",
    )


def _on_the_wire(outgoing: OutgoingEmail) -> EmailMessage:
    raw = compose(outgoing, sender=from_header("Shop <orders@shop.test>"), eight_bit=True).content
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_non_transactional_email_carries_the_one_click_headers_and_its_links() -> None:
    links = preference_links("https://shop.test", "Ann@example.com", WAITLIST, secret=SECRET, issued_at=NOW)
    sent = with_preference_links(_waitlist_email(), WAITLIST, links)
    message = _on_the_wire(sent)
    assert message["List-Unsubscribe"] == f"<{links.one_click_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    one_click = urlsplit(links.one_click_url)
    assert (one_click.scheme, one_click.netloc, one_click.path) == ("https", "shop.test", "/v1/unsubscribe")
    [token] = parse_qs(one_click.query)["token"]
    assert _verify(token) == LinkToken(UNSUBSCRIBE, "ann@example.com", WAITLIST)
    [preferences] = parse_qs(urlsplit(links.preferences_url).query)["token"]
    assert _verify(preferences, PREFERENCES).email == "ann@example.com"

    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert links.unsubscribe_page_url in text.get_content()
    assert links.preferences_url in text.get_content()
    assert "waitlist and back-in-stock emails" in text.get_content()
    assert f'<a href="{links.preferences_url.replace("&", "&amp;")}">' in html.get_content()


def test_the_footer_is_written_in_the_email_s_language() -> None:
    links = preference_links("https://shop.test", "ann@example.com", WAITLIST, secret=SECRET, issued_at=NOW)
    sent = with_preference_links(_waitlist_email("ko"), WAITLIST, links)
    assert "재입고 알림" in sent.text
    assert "수신을 거부" in sent.text


def test_a_transactional_email_carries_no_unsubscribe_header() -> None:
    message = _on_the_wire(_waitlist_email())
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
