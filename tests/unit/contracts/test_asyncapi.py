"""docs/asyncapi.json is what the generator produces from today's contracts, and is well formed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shop_contracts.asyncapi import build_document, channel_id, render
from shop_contracts.fulfillment import PickRequested
from shop_contracts.registry import ALL_MESSAGES

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
REGENERATE = "cd /work/main && .venv/bin/python -m shop_contracts.asyncapi > docs/asyncapi.json"


def test_the_committed_document_is_current() -> None:
    assert DOCUMENT.exists(), f"docs/asyncapi.json is missing; generate it: {REGENERATE}"
    assert DOCUMENT.read_text(encoding="utf-8") == render(build_document()), (
        f"docs/asyncapi.json is out of date with the contracts; regenerate it: {REGENERATE}"
    )


def test_the_document_has_the_asyncapi_3_structure() -> None:
    document = build_document()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert {server["protocol"] for server in document["servers"].values()} == {"amqp"}
    for operation in document["operations"].values():
        assert operation["action"] in {"send", "receive"}


def test_every_registered_type_has_a_channel_message_and_send_operation() -> None:
    document = build_document()
    for message in ALL_MESSAGES:
        identifier = channel_id(message)
        channel = document["channels"][identifier]
        assert channel["bindings"]["amqp"]["exchange"] == {
            "name": message.EXCHANGE,
            "type": "topic",
            "durable": True,
            "autoDelete": False,
            "vhost": "/",
        }
        assert document["components"]["messages"][identifier]["name"] == message.TYPE
        operation = document["operations"][f"send-{identifier}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{identifier}"}
        assert message.SOURCE in operation["title"]
        if message is not PickRequested:
            assert channel["address"] == message.TYPE
    assert len(document["channels"]) == len(ALL_MESSAGES)


def test_pick_requests_are_addressed_by_location() -> None:
    channel = build_document()["channels"][channel_id(PickRequested)]
    assert channel["address"] == "pick.{location}"
    assert set(channel["parameters"]) == {"location"}
    assert channel["bindings"]["amqp"]["exchange"]["name"] == "shop.warehouse"


def test_messages_carry_the_envelope_and_trace_headers() -> None:
    document = build_document()
    schemas = document["components"]["schemas"]
    assert "traceparent" in schemas["AmqpHeaders"]["properties"]
    assert set(schemas["Envelope"]["required"]) >= {"id", "type", "source", "time", "correlation_id", "data"}
    for message in ALL_MESSAGES:
        described = document["components"]["messages"][channel_id(message)]
        assert described["headers"] == {"$ref": "#/components/schemas/AmqpHeaders"}
        envelope, specific = described["payload"]["allOf"]
        assert envelope == {"$ref": "#/components/schemas/Envelope"}
        assert specific["properties"]["type"] == {"const": message.TYPE}
        data_ref = specific["properties"]["data"]["$ref"]
        assert schemas[data_ref.rsplit("/", 1)[-1]]["title"] == message.__name__


def test_every_reference_resolves() -> None:
    document = build_document()

    def references(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [ref for value in node.values() for ref in references(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in references(value)]
        return []

    for reference in references(document):
        assert reference.startswith("#/"), reference
        target: Any = document
        for part in reference[2:].split("/"):
            assert isinstance(target, dict), reference
            assert part in target, f"{reference} points at nothing"
            target = target[part]
