"""Message contracts of the shop: the envelope every message travels in, every message, routing names."""

from shop_contracts.envelope import Envelope, Message, MessageKind
from shop_contracts.registry import MESSAGE_TYPES, UnknownMessageType, message_class

__all__ = ["MESSAGE_TYPES", "Envelope", "Message", "MessageKind", "UnknownMessageType", "message_class"]
