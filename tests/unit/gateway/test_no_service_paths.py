"""The gateway's routes call the typed clients of ``shop_api``; no module but the clients' wiring names a service
or a service path in a call."""

from __future__ import annotations

import re
from pathlib import Path

import shop_gateway

PACKAGE = Path(shop_gateway.__file__).parent
WIRING = {"services.py"}
"""Where the clients are wired to their services: the one module that names them."""
SERVICE_CALL = re.compile(
    r"""\b(?:forward|call)\(\s*(?:["'](?:catalog|orders|payments|fulfillment|notifications)["']|\w+\s*,\s*["'](?:GET|POST|PUT|PATCH|DELETE)["'])"""
)
PATH_CALL = re.compile(r"""\b(?:forward|call)\(\s*["']""")


def test_no_gateway_module_calls_a_service_by_name_or_path() -> None:
    found = [
        f"{source.name}:{number}: {line.strip()}"
        for source in sorted(PACKAGE.glob("*.py"))
        if source.name not in WIRING
        for number, line in enumerate(source.read_text().splitlines(), start=1)
        if SERVICE_CALL.search(line) or PATH_CALL.search(line)
    ]
    assert found == [], "call the service's client in shop_api instead:\n" + "\n".join(found)


def test_the_check_finds_what_it_looks_for() -> None:
    for line in (
        'await services.forward("orders", "POST", "/orders", json=sent)',
        'await services.call("catalog", "GET", f"/inventory/{sku}")',
        'await services.forward(service, "GET", "/dead-letters")',
    ):
        assert SERVICE_CALL.search(line) or PATH_CALL.search(line), line
    assert not SERVICE_CALL.search("await services.orders.place_order(body, idempotency_key=key)")
