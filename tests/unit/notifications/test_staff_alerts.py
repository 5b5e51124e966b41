"""Staff low-stock alerts without I/O: the email in both languages, its category, the fact it tells, the settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shop_notifications.domain import STAFF_LOW_STOCK, TRANSACTIONAL, Recipient, category_of, low_stock_fact
from shop_notifications.rendering import render_email
from shop_notifications.settings import NotificationsSettings
from shop_notifications.staff_emails import LowStockAlert, StockAtLocation, low_stock_email

ALERT = LowStockAlert(
    sku="SHIRT-LINEN-L",
    title="Linen shirt",
    available=3,
    threshold=5,
    alert_number=2,
    locations=(StockAtLocation(location="seoul-1", on_hand=6, reserved=2, safety_stock=1, available=3),),
)


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_the_low_stock_email_names_the_sku_its_count_threshold_and_locations(locale: str) -> None:
    draft = low_stock_email(alert=ALERT, recipient=Recipient(email="ops@shop.example", locale=locale))  # type: ignore[arg-type]
    rendered = render_email(draft)
    assert "SHIRT-LINEN-L" in rendered.subject
    assert "3" in rendered.subject
    for text in ("Linen shirt", "SHIRT-LINEN-L", "seoul-1", "5"):
        assert text in rendered.text
    assert draft.template == STAFF_LOW_STOCK


def test_a_staff_alert_is_transactional_so_no_preference_keeps_it_back() -> None:
    assert category_of(STAFF_LOW_STOCK) == TRANSACTIONAL


def test_each_alert_is_one_fact_per_staff_address_whatever_its_case() -> None:
    assert (
        low_stock_fact("A-1", 1, "Ops@Shop.example").key == low_stock_fact("A-1", 1, "ops@shop.example").key
    )
    assert (
        low_stock_fact("A-1", 1, "ops@shop.example").key != low_stock_fact("A-1", 2, "ops@shop.example").key
    )
    assert low_stock_fact("A-1", 1, "a@shop.example").key != low_stock_fact("A-1", 1, "b@shop.example").key


def test_staff_addresses_are_read_separated_by_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_NOTIFICATIONS_STAFF_ALERT_EMAILS", " ops@shop.example, buyer@shop.example ,")
    monkeypatch.setenv("SHOP_NOTIFICATIONS_STAFF_LOCALE", "en")
    settings = NotificationsSettings()
    assert settings.staff_alert_emails == ["ops@shop.example", "buyer@shop.example"]
    assert settings.staff_locale == "en"


def test_no_staff_address_is_the_default_and_a_bad_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_NOTIFICATIONS_STAFF_ALERT_EMAILS", raising=False)
    assert NotificationsSettings().staff_alert_emails == []
    monkeypatch.setenv("SHOP_NOTIFICATIONS_STAFF_ALERT_EMAILS", "not-an-address")
    with pytest.raises(ValidationError, match="staff_alert_emails"):
        NotificationsSettings()
