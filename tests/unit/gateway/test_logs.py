"""Secrets never reach the gateway's logs: API keys, bearer tokens and payment tokens are redacted."""

import json
import logging

import pytest

from shop_gateway.logs import (
    REDACTED,
    GatewayJsonFormatter,
    Redactor,
    RedactSecrets,
    request_id_var,
)

STAFF_KEY = "staff-key-0123456789"
redact = Redactor([STAFF_KEY, "warehouse-key-0123456789"])


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"X-Api-Key: {STAFF_KEY}", STAFF_KEY),
        (f"calling with key {STAFF_KEY} now", STAFF_KEY),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi.abc.def"),
        ("headers={'authorization': 'Bearer s3cr3t-token'}", "s3cr3t-token"),
        ('{"payment": {"token": "tok_visa_4242"}}', "tok_visa_4242"),
        ("payment token tok_mastercard charged", "tok_mastercard"),
        ("x-order-access-token=abcdef0123456789", "abcdef0123456789"),
        ('{"access_token": "v1.abcdef"}', "v1.abcdef"),
        ("api_key=unknown-but-secret", "unknown-but-secret"),
    ],
)
def test_secrets_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_ordinary_lines_are_left_alone() -> None:
    line = "order 5f0c placed: 2 lines, total 81000 KRW, status pending"
    assert redact(line) == line


def _record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("shop_gateway.test", logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]


def test_the_filter_redacts_arguments_and_tracebacks_and_adds_the_request_id() -> None:
    log_filter = RedactSecrets(redact)
    try:
        raise ValueError(f"bad key {STAFF_KEY}")
    except ValueError:
        import sys

        record = _record("key %s token %s", STAFF_KEY, "Bearer abc.def.ghi", exc_info=sys.exc_info())
    token = request_id_var.set("req-12345678")
    try:
        assert log_filter.filter(record)
    finally:
        request_id_var.reset(token)
    line = GatewayJsonFormatter("gateway", "http").format(record)
    assert STAFF_KEY not in line
    assert "abc.def.ghi" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-12345678"
    assert "ValueError" in entry["exception"]
    assert REDACTED in entry["message"]


def test_a_logger_with_the_filter_writes_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RedactSecrets(redact))
    try:
        logging.getLogger("shop_gateway.test").warning(
            "request headers %s body %s",
            {"X-Api-Key": STAFF_KEY, "Authorization": "Bearer abc.def"},
            '{"payment": {"token": "tok_visa"}}',
        )
    finally:
        caplog.handler.filters.clear()
    assert STAFF_KEY not in caplog.text
    assert "abc.def" not in caplog.text
    assert "tok_visa" not in caplog.text
    assert "request headers" in caplog.text
