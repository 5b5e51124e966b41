"""Page links: a token opens one page of one order in one locale until it expires, and nothing else."""

from __future__ import annotations

import pytest

from shop_notifications.links import TokenRefused, unsubscribe_token, verify_token
from shop_notifications.page_links import (
    LinkTarget,
    PageLink,
    PageTokenRefused,
    page_url,
    sign_page_token,
    verify_page_token,
)

SECRET = "a-signing-key-for-page-link-tests"
NOW = 1_800_000_000
DAY = 86_400


def test_a_token_opens_its_page_order_and_locale_with_its_action_token() -> None:
    token = sign_page_token(
        PageLink("decision", "ord-1", "ko", "decide-me"), secret=SECRET, issued_at=NOW, valid_seconds=DAY
    )
    page = verify_page_token(token, secrets=[SECRET], now=NOW + 10)
    assert (page.kind, page.subject, page.locale, page.action_token) == (
        "decision",
        "ord-1",
        "ko",
        "decide-me",
    )
    assert page.expires_at == NOW + DAY


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda token: token[:-2] + ("00" if not token.endswith("00") else "11"), "invalid_token"),
        (lambda token: token.split(".")[0], "malformed_token"),
        (lambda token: "x" + token, "invalid_token"),
    ],
)
def test_a_changed_or_cut_token_is_refused(change, code) -> None:
    token = sign_page_token(PageLink("order", "ord-1", "en"), secret=SECRET, issued_at=NOW, valid_seconds=DAY)
    with pytest.raises(PageTokenRefused) as refused:
        verify_page_token(change(token), secrets=[SECRET], now=NOW)
    assert refused.value.code in (code, "malformed_token")


def test_an_expired_token_says_so() -> None:
    token = sign_page_token(PageLink("order", "ord-1", "en"), secret=SECRET, issued_at=NOW, valid_seconds=DAY)
    with pytest.raises(PageTokenRefused) as refused:
        verify_page_token(token, secrets=[SECRET], now=NOW + DAY)
    assert (refused.value.code, refused.value.status) == ("expired_token", 401)


def test_page_tokens_and_unsubscribe_tokens_never_stand_in_for_each_other() -> None:
    unsubscribe = unsubscribe_token("a@example.com", "waitlist", secret=SECRET, issued_at=NOW)
    with pytest.raises(PageTokenRefused) as refused:
        verify_page_token(unsubscribe, secrets=[SECRET], now=NOW)
    assert refused.value.code == "wrong_token"
    page = sign_page_token(PageLink("order", "ord-1", "en"), secret=SECRET, issued_at=NOW, valid_seconds=DAY)
    with pytest.raises(TokenRefused):
        verify_token(page, kind="unsubscribe", secrets=[SECRET], now=NOW, valid_seconds=DAY)


def test_links_point_at_the_hosted_pages_or_the_storefront_with_the_same_path_and_token() -> None:
    link = PageLink("invoice", "draft-1", "en", "draft-token")
    hosted = LinkTarget("hosted", "https://api.shop.test", "https://shop.test", DAY)
    storefront = LinkTarget("storefront", "https://api.shop.test", "https://shop.test", DAY)
    on_gateway = page_url(hosted, link, secret=SECRET, issued_at=NOW)
    on_storefront = page_url(storefront, link, secret=SECRET, issued_at=NOW)
    assert on_gateway.startswith("https://api.shop.test/pages/draft-orders/draft-1/invoice?token=")
    assert on_storefront.startswith("https://shop.test/draft-orders/draft-1/invoice?token=")
    assert on_gateway.split("?")[1] == on_storefront.split("?")[1]
