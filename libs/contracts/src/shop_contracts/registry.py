"""Every message type by its wire name, so a consumer can decode what arrives."""

from __future__ import annotations

from shop_contracts import catalog, fulfillment, notifications, orders, payments
from shop_contracts.envelope import Message

ALL_MESSAGES: tuple[type[Message], ...] = (
    catalog.VariantUpdated,
    catalog.ReserveStock,
    catalog.ReleaseStock,
    catalog.CommitStock,
    catalog.StockReserved,
    catalog.StockRejected,
    catalog.StockReleased,
    catalog.StockCommitted,
    catalog.PreorderPolicyUpdated,
    catalog.PreorderAllocated,
    catalog.WaitlistNotification,
    catalog.PreorderEtaChanged,
    catalog.StockAvailabilityChanged,
    catalog.StockLow,
    orders.OrderPlacedV1,
    orders.OrderPlaced,
    orders.OrderConfirmedV1,
    orders.OrderConfirmed,
    orders.OrderRejected,
    orders.OrderShipped,
    orders.OrderDelivered,
    orders.OrderBalanceChargedV1,
    orders.OrderBalanceCharged,
    orders.OrderBalanceChargeFailedV1,
    orders.OrderBalanceChargeFailed,
    orders.OrderBalanceReminderV1,
    orders.OrderBalanceReminder,
    orders.OrderCancelledV1,
    orders.OrderCancelled,
    orders.OrderPreorderDateChanged,
    orders.ReturnApproved,
    orders.ReturnRejected,
    orders.ReturnRefundedV1,
    orders.ReturnRefunded,
    orders.DraftInvoiceSentV1,
    orders.DraftInvoiceSent,
    orders.OrderPaymentOverdueV1,
    orders.OrderPaymentOverdue,
    orders.CustomerMarketingConsentChanged,
    payments.CapturePaymentV1,
    payments.CapturePayment,
    payments.PaymentSucceededV1,
    payments.PaymentSucceeded,
    payments.PaymentFailedV1,
    payments.PaymentFailed,
    payments.ChargeBalanceV1,
    payments.ChargeBalance,
    payments.BalanceChargedV1,
    payments.BalanceCharged,
    payments.BalanceChargeFailedV1,
    payments.BalanceChargeFailed,
    payments.PaymentMethodUpdated,
    payments.HoldChargeFailedV1,
    payments.HoldChargeFailed,
    payments.IssueRefundV1,
    payments.IssueRefund,
    payments.RefundIssuedV1,
    payments.RefundIssued,
    payments.RefundRejectedV1,
    payments.RefundRejected,
    fulfillment.CreateFulfillmentOrder,
    fulfillment.FulfillmentOrderCreated,
    fulfillment.PickRequested,
    fulfillment.FulfillmentPicked,
    fulfillment.FulfillmentPacked,
    fulfillment.ShipmentShipped,
    fulfillment.ShipmentDelivered,
    fulfillment.CancelFulfillmentOrder,
    fulfillment.FulfillmentCancelled,
    fulfillment.FulfillmentCancelRefused,
    fulfillment.PickCancelled,
    fulfillment.ReturnLabelCreated,
    fulfillment.ReturnReceived,
    notifications.NotificationSent,
    payments.ChargeSubscriptionCycleV1,
    payments.ChargeSubscriptionCycle,
    payments.SubscriptionChargeSucceededV1,
    payments.SubscriptionChargeSucceeded,
    payments.SubscriptionChargeFailedV1,
    payments.SubscriptionChargeFailed,
    orders.SubscriptionChargeUpcomingV1,
    orders.SubscriptionChargeUpcoming,
    orders.SubscriptionCycleChargedV1,
    orders.SubscriptionCycleCharged,
    orders.SubscriptionCycleFailedV1,
    orders.SubscriptionCycleFailed,
    orders.SubscriptionPaused,
    orders.SubscriptionCancelled,
)

MESSAGE_TYPES: dict[str, type[Message]] = {message.TYPE: message for message in ALL_MESSAGES}


class UnknownMessageType(LookupError):
    pass


def message_class(type_name: str) -> type[Message]:
    try:
        return MESSAGE_TYPES[type_name]
    except KeyError:
        raise UnknownMessageType(f"unknown message type {type_name!r}") from None
