"""The scanner the system tests trust to say "no card data, no secrets": it finds what is planted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.leaks import leaks_in, pans_in, scan_files

SECRET = "whsec-planted-secret-0001"


def test_a_planted_card_number_is_found_grouped_or_not_and_reported_by_its_last_four() -> None:
    payload = json.dumps({"data": {"order_id": "o-1", "note": "pay with 4242 4242 4242 4242 please"}})
    assert [str(leak) for leak in leaks_in(payload, where="orders.outbox.payload")] == [
        "card number ending 4242 in orders.outbox.payload"
    ]
    assert pans_in("amex 3782-822463-10005, mc 5555555555554444") == ["378282246310005", "5555555555554444"]


def test_ids_times_and_amounts_are_not_taken_for_card_numbers() -> None:
    line = json.dumps(
        {
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "1234567890123456",  # all digits, but no card network's prefix
            "start_time": 1764086400123456789,
            "ms": 1764086400000,
            "amount": 39000,
            "order_id": "8c1a4c52-5a3e-4e4b-9f0e-0d3b1f2a9e77",
            "unluhn": "4242424242424241",
        }
    )
    assert leaks_in(line, where="span") == []
    # hex ids that happen to be all digits, Luhn-valid and card-like: ids, not cards
    ids = json.dumps(
        {
            "span_id": "4242424242424242",
            "message_id": "42424242-4242-4242-4242-424242424242",
            "traceparent": "00-12345678901234567890123456789012-4242424242424242-01",
            "links": ["ba2033a45686076e", "4043852219090136"],  # a span's links: span ids, one all digits
        }
    )
    assert leaks_in(ids, where="log") == []


def test_cvv_fields_and_secrets_are_found(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    log.write_text(
        '{"msg": "body", "payment": {"cvv": "123"}}\n'
        f"checking key {SECRET}\n"
        "card_number=4111111111111111\n"
        "cvv is a word here, not a field\n"
    )
    found = [leak.what for leak in scan_files([log], secrets=[SECRET, "not-there-secret"])]
    assert sorted(found) == sorted(
        ["card data field 'cvv'", "card data field 'card_number'", "card number ending 1111", "secret #0"]
    )
