"""The registry's naming rules, the envelope on the wire, and the contracts' own dependencies."""

from __future__ import annotations

import ast
import re
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

import shop_contracts
from shop_contracts import catalog, orders
from shop_contracts.envelope import Envelope, Message, MessageKind
from shop_contracts.registry import ALL_MESSAGES, MESSAGE_TYPES
from shop_contracts.values import Customer, PricedLineV1

TYPE_NAME = re.compile(r"^[a-z_]+\.[a-z_]+\.[a-z_]+\.v[0-9]+$")


def owning_service(message: type[Message]) -> str:
    """The service a contract module belongs to: ``shop_contracts.catalog`` is catalog's."""
    return message.__module__.rsplit(".", 1)[-1]


def test_type_names_are_unique() -> None:
    assert len(MESSAGE_TYPES) == len(ALL_MESSAGES)


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda message: message.TYPE)
def test_type_name_is_versioned_and_starts_with_its_owner(message: type[Message]) -> None:
    assert TYPE_NAME.match(message.TYPE), f"{message.TYPE} is not <owner>.<aggregate>.<name>.v<N>"
    owner = message.TYPE.split(".", 1)[0]
    if message.KIND is MessageKind.EVENT:
        # An event is a fact of the service that publishes it.
        assert owner == message.SOURCE
    else:
        # A command is sent by another service to the one that owns it.
        assert owner == owning_service(message)
        assert owner != message.SOURCE


def test_envelope_round_trips_through_json() -> None:
    message = orders.OrderPlacedV1(
        order_id="order-1",
        customer=Customer(email="buyer@example.com", locale="ko"),
        currency="KRW",
        lines=[PricedLineV1(sku="TEE-M", title="T-shirt M", quantity=2, unit_price=15000, line_total=30000)],
        total=30000,
    )
    envelope = Envelope.wrap(
        message, subject="order-1", correlation_id="order-1", causation_id=str(uuid.uuid4())
    )

    received = Envelope.model_validate_json(envelope.model_dump_json())

    assert received == envelope
    assert received.type == "orders.order.placed.v1"
    assert received.source == "orders"
    assert received.time.tzinfo is not None
    assert orders.OrderPlacedV1.model_validate(received.data) == message


def test_envelope_keeps_an_explicit_time_and_id() -> None:
    envelope = Envelope(
        id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        type=catalog.StockReleased.TYPE,
        source=catalog.StockReleased.SOURCE,
        time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        subject="order-1",
        correlation_id="order-1",
        data=catalog.StockReleased(order_id="order-1").model_dump(mode="json"),
    )
    assert Envelope.model_validate_json(envelope.model_dump_json()) == envelope


def test_contracts_import_only_pydantic_and_the_standard_library() -> None:
    package = Path(shop_contracts.__file__).parent
    allowed = {"pydantic", "shop_contracts", *sys.stdlib_module_names}
    outside = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            outside |= {f"{source.name}: {name}" for name in names if name.split(".")[0] not in allowed}
    assert not outside, sorted(outside)
