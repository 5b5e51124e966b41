"""Reading parked messages' headers and preparing a replay, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime

from shop_runtime.dead_letters import HEADERS_REMOVED_ON_REPLAY, parked_message, replay_headers


def test_a_parked_message_is_read_from_its_headers() -> None:
    parked = parked_message(
        "orders",
        message_id="m-1",
        message_type="orders.order.placed.v1",
        headers={
            "x-shop-attempts": 4,
            "x-shop-error": b"KeyError: 'sku'",
            "x-shop-traceback": "tb",
            "x-shop-parked-at": "2025-03-01T11:00:00+00:00",
            "x-shop-original-exchange": "shop.events",
            "x-shop-original-routing-key": "orders.order.placed.v1",
        },
        body=b"not json",
    )
    assert (parked.attempts, parked.error, parked.error_first_line) == (
        4,
        "KeyError: 'sku'",
        "KeyError: 'sku'",
    )
    assert (parked.original_exchange, parked.original_routing_key) == (
        "shop.events",
        "orders.order.placed.v1",
    )
    assert parked.body_text() == "not json"


def test_a_message_without_the_id_property_takes_the_envelopes_id() -> None:
    parked = parked_message("orders", message_id=None, message_type=None, headers={}, body=b'{"id": "env-1"}')
    assert (parked.message_id, parked.attempts, parked.error_first_line) == ("env-1", 0, "")
    assert parked.body_text() == '{\n  "id": "env-1"\n}'


def test_a_replay_drops_attempts_and_errors_and_keeps_the_trace() -> None:
    headers = {name: "x" for name in HEADERS_REMOVED_ON_REPLAY} | {
        "traceparent": "00-abc-def-01",
        "correlation_id": "o-1",
    }
    now = datetime(2025, 3, 1, tzinfo=UTC)
    assert replay_headers(headers, now=now) == {
        "traceparent": "00-abc-def-01",
        "correlation_id": "o-1",
        "x-shop-replayed-at": "2025-03-01T00:00:00+00:00",
    }
    assert "x-shop-attempts" in HEADERS_REMOVED_ON_REPLAY
