"""Gateway logging: the request id on every line, and secrets (API keys, bearer and payment tokens) never written.

``install_log_redaction`` puts ``RedactSecrets`` on every handler of the root logger, so records of every logger
(the gateway's, uvicorn's, httpx's) are cleaned before they are formatted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from contextvars import ContextVar

from shop_runtime.telemetry import JsonFormatter

REDACTED = "[REDACTED]"

request_id_var: ContextVar[str | None] = ContextVar("shop_gateway_request_id", default=None)
"""The id of the request being served (set by the request-context middleware)."""
request_path_var: ContextVar[str | None] = ContextVar("shop_gateway_request_path", default=None)
"""The public path of the request being served (problems name it, never a service's internal path)."""

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Authorization: Bearer <token> (and Basic, Token ...), in headers, reprs or messages
    re.compile(r"(?i)\b(bearer|basic|token)(\s+)(?!(?:bearer|basic|token)\b)[A-Za-z0-9._~+/=-]{4,}"),
    # key=value, key: value, "key": "value" for names that carry secrets
    re.compile(
        r"(?i)([\"']?\b(?:x-api-key|api[_-]?key|authorization|access[_-]?token|x-order-access-token|"
        r"payment[_-]?token|token|secret|\w*password|passwd|cvv|cvc|card[_-]?number)\b[\"']?\s*[:=]\s*)"
        r"(\"[^\"]*\"|'[^']*'|[^\s,;&}\]]+)"
    ),
    # PSP payment tokens as they travel (tok_..., pm_..., card_...)
    re.compile(r"\b(?:tok|pm|card|src)_[A-Za-z0-9_]{3,}\b"),
    # customers' bearer tokens (shop_gateway.customer_tokens), wherever they appear
    re.compile(r"\bcus1\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?"),
)


class Redactor:
    """Replaces known secrets (the configured keys) and anything shaped like a credential with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(s) for s in known)) if known else None

    def __call__(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        text = _PATTERNS[1].sub(lambda m: _keep_quotes(m.group(1), m.group(2)), text)
        text = _PATTERNS[2].sub(REDACTED, text)
        return _PATTERNS[3].sub(REDACTED, text)


def _keep_quotes(prefix: str, value: str) -> str:
    if value.startswith(("'", '"')):
        return f"{prefix}{value[0]}{REDACTED}{value[0]}"
    return f"{prefix}{REDACTED}" if value != REDACTED else prefix + value


class RedactSecrets(logging.Filter):
    """A handler filter: the message (with its arguments) and any traceback are redacted; the record gets
    ``request_id``. Always lets the record through."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what we have, still redacted
            message = f"{record.msg} {record.args}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # formatters print the redacted exc_text instead
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class GatewayJsonFormatter(JsonFormatter):
    """The shared JSON log line, with the request id when there is one."""

    def fields(self, record: logging.LogRecord) -> dict[str, object]:
        entry = super().fields(record)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_text and "exception" not in entry:
            entry["exception"] = record.exc_text
        return entry


def install_log_redaction(secrets: Iterable[str]) -> RedactSecrets:
    """Put the redaction filter and the request-id formatter on every root handler (call after set-up)."""
    redact = RedactSecrets(Redactor(secrets))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
        if isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(GatewayJsonFormatter(handler.formatter._service, handler.formatter._process))
    return redact
