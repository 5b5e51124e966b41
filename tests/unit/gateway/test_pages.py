"""The customer pages' shared parts: CSRF tokens bound to a page, dates and locales as a customer reads them;
the feedback page's offer and what it shows before and after an answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from shop_gateway import pages
from shop_gateway.page_text import TEXT
from shop_gateway.routes_feedback_page import SCORES, offer_view


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


def test_the_feedback_page_offers_the_reasons_code_or_link_and_then_shows_what_was_kept() -> None:
    order = {"id": "0b7f2a4e-0000-4000-8000-000000000001", "lines": [{"sku": "TEE-M"}, {"sku": "TEE-L"}]}
    code = {"code": "BACK-7Q2", "kind": "fixed_amount", "amount_off": 5000, "currency": "KRW", "used": False}
    coded = {"reason": "found_cheaper", "discount_code": {**code, "expires_at": "2027-03-05T00:00:00+00:00"}}
    linked = {
        "reason": "delivery_time",
        "discount_code": None,
        "offer": {"kind": "link", "link": "similar_products"},
    }
    shop = "https://shop.example"
    assert offer_view(linked, order, shop) == {
        "code": None,
        "url": "https://shop.example/similar?sku=TEE-M&sku=TEE-L",
        "link": "similar_products",
    }
    assert offer_view({"reason": "other", "offer": None}, order, shop) is None

    values: dict[str, Any] = {
        "order": order,
        "scores": SCORES,
        "token": "1.ab",
        "action": "/pages/feedback",
        "csrf": "n.s",
    }
    asking = pages.render(
        "feedback.html",
        "ko",
        cancellation=coded,
        offer=offer_view(coded, order, shop),
        kept={"given": False},
        **values,
    )
    html = bytes(asking.body).decode()
    assert "더 저렴한 곳을 찾았어요" in html
    assert "BACK-7Q2" in html
    assert "다음 주문 5,000원 할인" in html
    assert "2027년 3월 5일" in html
    assert 'name="score" value="5"' in html
    assert 'name="csrf" value="n.s"' in html

    kept = {"given": True, "score": 2, "comment": "<b>slow</b>"}
    answered = pages.render(
        "feedback.html", "en", cancellation=linked, offer=offer_view(linked, order, shop), kept=kept, **values
    )
    html = bytes(answered.body).decode()
    assert 'id="feedback"' not in html  # no form once feedback is kept
    assert "2 / 5" in html
    assert "&lt;b&gt;slow&lt;/b&gt;" in html
    assert "Products like the ones you cancelled" in html
