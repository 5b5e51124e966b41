"""The AsyncAPI 3.0 document of every channel, generated from the contracts so it cannot drift from them.

python -m shop_contracts.asyncapi > docs/asyncapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shop_contracts.envelope import Envelope, Message, MessageKind
from shop_contracts.fulfillment import PickRequested
from shop_contracts.registry import ALL_MESSAGES
from shop_contracts.routing import warehouse_routing_key

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
AMQP_BINDING_VERSION = "0.3.0"
SERVER = "rabbitmq"

Document = dict[str, Any]

_TRACE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "AMQP headers set by the outbox when the message is written.",
    "properties": {
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the span that wrote the message.",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
        },
        "tracestate": {
            "type": "string",
            "description": "W3C trace state, vendor-specific, passed on unchanged.",
        },
        "correlation_id": {
            "type": "string",
            "description": "The same as the envelope's correlation_id (the order), for tools that read headers only.",
        },
    },
}

# Messages whose routing key is not their type: the channel address and its parameters.
_ADDRESSES: dict[type[Message], tuple[str, dict[str, Any]]] = {
    PickRequested: (
        warehouse_routing_key("{location}"),
        {
            "location": {
                "description": "The stock location the pick is for; a warehouse system binds pick.<its location>.",
                "location": "$message.payload#/data/location",
            }
        },
    ),
}


def channel_id(message: type[Message]) -> str:
    """An id safe for AsyncAPI keys (letters, digits, ``_``, ``-``), derived from the type, not the class."""
    return message.TYPE.replace(".", "-")


def _address(message: type[Message]) -> tuple[str, dict[str, Any]]:
    return _ADDRESSES.get(message, (message.TYPE, {}))


def _summary(message: type[Message]) -> str:
    own_docstring = message.__dict__.get("__doc__")
    if own_docstring:
        return str(own_docstring).strip().splitlines()[0]
    kind = "Event" if message.KIND is MessageKind.EVENT else "Command"
    return f"{kind} {message.TYPE}, published by {message.SOURCE}."


def _schemas() -> dict[str, Any]:
    """Components.schemas: the envelope, every message's payload, and the values they share."""
    models: list[type[BaseModel]] = [Envelope, *ALL_MESSAGES]
    _, definitions = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = definitions["$defs"]
    envelope = schemas["Envelope"]
    # On the wire every attribute is present (ids and times are filled in when wrapping).
    envelope["required"] = list(envelope["properties"])
    schemas["AmqpHeaders"] = _TRACE_HEADERS
    return schemas


def _payload_name(message: type[Message], schemas: dict[str, Any]) -> str:
    name = message.__name__
    if schemas.get(name, {}).get("title") != name:
        raise RuntimeError(f"no payload schema named {name} for {message.TYPE}")
    return name


def build_document() -> Document:
    """The whole AsyncAPI 3.0 document: one channel, message and send operation per registered type."""
    schemas = _schemas()
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for message in ALL_MESSAGES:
        identifier = channel_id(message)
        if identifier in channels:
            raise RuntimeError(f"two message types map to the channel id {identifier}")
        address, parameters = _address(message)
        messages[identifier] = {
            "name": message.TYPE,
            "title": message.__name__,
            "summary": _summary(message),
            "contentType": "application/json",
            "tags": [{"name": message.KIND.value}, {"name": message.SOURCE}],
            "headers": {"$ref": "#/components/schemas/AmqpHeaders"},
            "correlationId": {
                "description": "The order the message belongs to.",
                "location": "$message.payload#/correlation_id",
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": message.TYPE},
                            "source": {"const": message.SOURCE},
                            "data": {"$ref": f"#/components/schemas/{_payload_name(message, schemas)}"},
                        },
                    },
                ]
            },
            "bindings": {"amqp": {"messageType": message.TYPE, "bindingVersion": AMQP_BINDING_VERSION}},
        }
        channel: dict[str, Any] = {
            "address": address,
            "title": message.TYPE,
            "description": f"{message.KIND.value.capitalize()} {message.TYPE} on exchange {message.EXCHANGE}.",
            "servers": [{"$ref": f"#/servers/{SERVER}"}],
            "messages": {identifier: {"$ref": f"#/components/messages/{identifier}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": message.EXCHANGE,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
        if parameters:
            channel["parameters"] = parameters
        channels[identifier] = channel
        operations[f"send-{identifier}"] = {
            "action": "send",
            "title": f"{message.SOURCE} sends {message.TYPE}",
            "summary": f"Published by {message.SOURCE} through its transactional outbox.",
            "channel": {"$ref": f"#/channels/{identifier}"},
            "messages": [{"$ref": f"#/channels/{identifier}/messages/{identifier}"}],
            "tags": [{"name": message.SOURCE}],
            "bindings": {
                "amqp": {"deliveryMode": 2, "mandatory": False, "bindingVersion": AMQP_BINDING_VERSION}
            },
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Shop messages",
            "version": DOCUMENT_VERSION,
            "description": (
                "Every event and command the shop services exchange over RabbitMQ. Generated from "
                "libs/contracts by `python -m shop_contracts.asyncapi`; do not edit by hand. Each message "
                "is a JSON envelope (CloudEvents-style attributes) whose `data` is the message itself; "
                "W3C trace context travels in the AMQP headers."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            SERVER: {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "description": "RabbitMQ for local development; events, commands and pick work use topic exchanges.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render(document: Document) -> str:
    """The document as it is kept in docs/asyncapi.json: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render(build_document()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
