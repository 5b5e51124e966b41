"""Finds what must never be stored or logged: card numbers, card security-code fields and secrets.

Card numbers are the gateway's definition (Luhn-valid runs of 13-19 digits, grouped or not) narrowed to the
card networks' issuer prefixes, so that ids, trace ids and nanosecond timestamps in logs and spans are not
taken for cards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shop_runtime.card_data import card_numbers_in

ISSUER_PREFIX = re.compile(r"^(4|5[1-5]|2[2-7]|3[0478]|35|36|38|6)")
"""Visa, Mastercard (51-55, 2221-2720), Amex (34, 37), Diners (30, 36, 38), JCB (35), Discover/UnionPay (6)."""

CVV_FIELD = re.compile(r"""(?i)["']?\b(cvv2?|cvc2?|card_?number|security_code)\b["']?\s*[:=]""")
"""A security-code or card-number field with a value (JSON, key=value or a repr)."""

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")

NOT_CARD_DATA = (
    re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    re.compile(r"\b00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b"),
    re.compile(r'"(?:trace_id|span_id|parent_id)":\s*"[0-9a-f]+"'),
    re.compile(r'"links":\s*\[[^\]]*\]'),
)
"""UUIDs, traceparents, span ids and a span's links (the span ids it links to): hex that is now and then all
digits (and, 1 in 10, Luhn-valid)."""


@dataclass(frozen=True)
class Leak:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.what} in {self.where}"


def pans_in(text: str) -> list[str]:
    return [digits for digits in card_numbers_in(text) if ISSUER_PREFIX.match(digits)]


def leaks_in(text: str, *, where: str, secrets: Sequence[str] = ()) -> list[Leak]:
    """Card numbers (shown by their last four digits), CVV fields and any of ``secrets`` (named by position)."""
    without_ids = text
    for pattern in NOT_CARD_DATA:
        without_ids = pattern.sub("<id>", without_ids)
    found = [Leak(where, f"card number ending {pan[-4:]}") for pan in pans_in(without_ids)]
    found += [Leak(where, f"card data field {match.group(1)!r}") for match in CVV_FIELD.finditer(text)]
    found += [Leak(where, f"secret #{index}") for index, secret in enumerate(secrets) if secret in text]
    return found


def scan_files(paths: Iterable[Path], *, secrets: Sequence[str] = ()) -> list[Leak]:
    leaks = []
    for path in paths:
        leaks += leaks_in(path.read_text(errors="replace"), where=str(path), secrets=secrets)
    return leaks


async def scan_database(connection: AsyncConnection, *, name: str) -> tuple[list[Leak], int]:
    """Every text and JSON column of every table (outbox and inbox payloads too); returns the leaks and how
    many columns were read."""
    columns = (
        await connection.execute(
            sa.text(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "JOIN information_schema.tables USING (table_catalog, table_schema, table_name) "
                "WHERE table_type IN ('BASE TABLE', 'LOCAL TEMPORARY') "
                "AND table_schema NOT IN ('pg_catalog', 'information_schema') AND data_type = ANY(:types) "
                "ORDER BY 1, 2, 3"
            ),
            {"types": list(TEXT_TYPES)},
        )
    ).all()
    leaks: list[Leak] = []
    for schema, table, column in columns:
        quoted = f'"{schema}"."{table}"'
        values = await connection.scalars(
            sa.text(f'SELECT "{column}"::text FROM {quoted} WHERE "{column}" IS NOT NULL')
        )
        for value in values:
            leaks += leaks_in(value, where=f"{name}.{table}.{column}")
    return leaks, len(columns)
