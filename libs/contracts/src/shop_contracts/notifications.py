"""Events owned by notifications: what was sent to a customer."""

from __future__ import annotations

from typing import ClassVar

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.routing import EVENTS_EXCHANGE


class NotificationSent(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "notifications"
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE
    TYPE: ClassVar[str] = "notifications.message.sent.v1"
    notification_id: str
    order_id: str
    template: str
    channel: str
    recipient: str
