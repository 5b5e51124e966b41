"""The customer pages' shared parts: CSRF tokens bound to a page, dates and locales as a customer reads them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from shop_gateway import pages
from shop_gateway.page_text import TEXT


def _request(cookies: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    auth = SimpleNamespace(keys=("a-customer-token-key-of-32-characters!",))
    return SimpleNamespace(
        cookies=cookies, headers=headers or {}, app=SimpleNamespace(state=SimpleNamespace(customer_auth=auth))
    )


def test_a_form_token_is_good_for_its_cookie_and_its_page_only() -> None:
    nonce, field = pages.issue_csrf(_request({}), "order:1")
    browser = _request({pages.CSRF_COOKIE: nonce})
    assert pages.csrf_valid(browser, field, "order:1")
    assert not pages.csrf_valid(browser, field, "order:2")  # another order's page
    assert not pages.csrf_valid(_request({pages.CSRF_COOKIE: "another"}), field, "order:1")
    assert not pages.csrf_valid(_request({}), field, "order:1")  # no cookie: a cross-site post
    assert not pages.csrf_valid(browser, f"{nonce}.forged", "order:1")
    assert not pages.csrf_valid(browser, None, "order:1")


def test_dates_and_locales_as_the_customer_reads_them() -> None:
    assert pages.format_day("2027-03-05", "ko") == "2027년 3월 5일"
    assert pages.format_day("2027-03-05T10:00:00+00:00", "en") == "5 March 2027"
    assert pages.locale_of("ko") == "ko"
    assert pages.locale_of(None, _request({}, {"accept-language": "ko-KR,ko;q=0.9"})) == "ko"
    assert pages.locale_of("fr", _request({})) == "en"


def test_both_locales_have_every_word() -> None:
    assert TEXT["ko"].keys() == TEXT["en"].keys()


def test_every_page_forbids_script_and_other_origins() -> None:
    response = pages.problem_page(410, "ko", "expired_token")
    assert response.status_code == 410
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "링크가 만료되었습니다" in bytes(response.body).decode()
