"""Routing names: exchanges and the queue names derived from a consuming service's name."""

EVENTS_EXCHANGE = "shop.events"
"""Topic exchange for events; the routing key is the message type."""

COMMANDS_EXCHANGE = "shop.commands"
"""Topic exchange for commands; only the owning service binds a command's routing key."""

WAREHOUSE_EXCHANGE = "shop.warehouse"
"""Topic exchange that outside warehouse systems bind to; the routing key is ``pick.<location>``."""
SIGNATURE_HEADER = "Shop-Signature"
"""The AMQP header that signs each message on the warehouse exchange:
``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with the shop's warehouse signing secret."""

RETRY_EXCHANGE = ""
"""Retries and parking go through the default exchange straight to a named queue."""


def service_queue(service: str) -> str:
    """The durable quorum queue a service consumes from."""
    return f"{service}.messages"


def retry_queue(service: str, delay_ms: int) -> str:
    """A delay queue: messages wait ``delay_ms`` and then dead-letter back to the service queue."""
    return f"{service}.messages.retry.{delay_ms}ms"


def parking_queue(service: str) -> str:
    """Where a message goes, with its error, once its retry budget is spent."""
    return f"{service}.messages.parked"


def warehouse_routing_key(location: str) -> str:
    return f"pick.{location}"
