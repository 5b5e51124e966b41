"""The gateway refuses card data: a value that looks like a card number, or a CVV or card-number field."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from shop_runtime.card_data import card_data_in, card_numbers_in, luhn_valid, mask_card_numbers
from shop_runtime.telemetry import JsonFormatter, JsonLinesSpanExporter
from tests.unit.gateway.test_app import build, checkout

VISA = "4242424242424242"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (VISA, [VISA]),
        ("4242 4242 4242 4242", [VISA]),
        ("4242-4242-4242-4242", [VISA]),
        ("card 378282246310005 for the order", ["378282246310005"]),  # Amex, 15 digits
        ("6011 1111 1111 1117 and 5555555555554444", ["6011111111111117", "5555555555554444"]),
        ("4242424242424241", []),  # one digit off: the checksum fails
        ("424242424242", []),  # 12 digits: too short
        ("42424242424242424242", []),  # 20 digits: too long
        ("order-4242424242424242x", []),  # part of a longer word
        ("tok_visa", []),
        ("+82-10-1234-5678", []),
    ],
)
def test_card_numbers_are_luhn_valid_runs_of_13_to_19_digits(text: str, found: list[str]) -> None:
    assert card_numbers_in(text) == found


def test_the_luhn_checksum() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


def test_card_data_is_found_by_field_name_or_by_value_anywhere_in_a_body() -> None:
    body = {
        "payment": {"token": "4242 4242 4242 4242", "CVC": "123"},
        "lines": [{"sku": "TEE-1", "note": {"card_number": "x"}}, {"sku": 4242424242424242}],
        "shipping_address": {"line1": "12 Road", "postal_code": "06236"},
        "quantity": 2,
        "gift": True,
    }
    assert card_data_in(body) == ["payment.token", "payment.CVC", "lines[0].note.card_number", "lines[1].sku"]
    assert card_data_in({"payment": {"token": "tok_visa"}}) == []


@pytest.mark.parametrize(
    ("payment", "field"),
    [
        ({"token": "4242 4242 4242 4242"}, "payment.token"),
        ({"token": "4242-4242-4242-4242"}, "payment.token"),
        ({"token": "tok_visa", "cvv": "123"}, "payment.cvv"),
        ({"token": "tok_visa", "cvc": "123"}, "payment.cvc"),
        ({"card_number": "5555555555554444"}, "payment.card_number"),
    ],
)
async def test_a_checkout_with_card_data_is_refused_with_422_and_told_to_send_a_token(
    payment: dict[str, str], field: str
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://gw") as client:
        response = await client.post(
            "/v1/orders", json=checkout(payment=payment), headers={"Idempotency-Key": str(uuid.uuid4())}
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "card_data_refused"
    assert field in [error["field"] for error in problem["errors"]]
    assert "PSP token" in problem["title"]
    for value in payment.values():
        if value != "tok_visa":
            assert value not in response.text  # the answer never repeats card data


def _checkout_written(payment: str) -> str:
    """A checkout body as JSON text with ``payment`` written as given (escapes kept as they are)."""
    return json.dumps(checkout(payment={"token": "PAYMENT"})).replace('{"token": "PAYMENT"}', payment)


ARABIC_INDIC_VISA = "".join(chr(0x0660 + int(digit)) for digit in VISA)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_checkout_written(r'{"token": "tok_visa", "\u0063vv": "123"}').encode(), "payment.cvv"),
        (_checkout_written(r'{"token": "\u0034242424242424242"}').encode(), "payment.token"),
        (_checkout_written(f'{{"token": "{ARABIC_INDIC_VISA}"}}').encode(), "payment.token"),
        (_checkout_written('{"token": "tok_visa", "PAN": "x"}').encode("utf-16"), "payment.PAN"),
    ],
    ids=["escaped-name", "escaped-digit", "other-script-digits", "utf-16"],
)
async def test_card_data_is_refused_however_the_json_writes_it(body: bytes, field: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://gw") as client:
        response = await client.post(
            "/v1/orders",
            content=body,
            headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
        )
    assert response.status_code == 422
    assert response.json()["code"] == "card_data_refused"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_a_token_that_is_not_a_card_number_goes_through() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://gw") as client:
        response = await client.post(
            "/v1/orders",
            json=checkout(payment={"token": "4242424242424241"}),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert response.status_code == 202


def test_card_numbers_are_masked_in_what_is_logged_or_traced_and_nothing_else_is() -> None:
    url = "http://gw/v1/admin/dead-letters/payments?confirm=4862809902141632&x=4242-4242-4242-4242"
    assert mask_card_numbers(url) == (
        "http://gw/v1/admin/dead-letters/payments?confirm=[card number removed]&x=[card number removed]"
    )
    plain = "order 8c1a4c52 for 39000 KRW at 1764086400123456789, sku TEE-1"
    assert mask_card_numbers(plain) == plain


def test_logs_and_span_files_carry_no_card_number(tmp_path: Path) -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "token %s refused", ("4242 4242 4242 4242",), None
    )
    assert "4242" not in JsonFormatter("gateway", "http").format(record)
    provider = TracerProvider()
    path = tmp_path / "spans.jsonl"
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(str(path))))
    with provider.get_tracer("t").start_as_current_span("GET", attributes={"http.url": f"/x?c={VISA}"}):
        pass
    provider.shutdown()
    assert VISA not in path.read_text()
    assert "[card number removed]" in path.read_text()
