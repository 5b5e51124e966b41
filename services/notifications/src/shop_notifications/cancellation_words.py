"""What a cancellation email says about the reason, free of I/O, in Korean and English: the shop's own reasons in
words, and the answer to each reason a customer gives."""

from __future__ import annotations

from shop_notifications.domain import Locale

CANCELLATION_REASONS: dict[str, dict[Locale, str]] = {
    "preorder_date_changed": {
        "en": "you chose to cancel after the expected ship date of your pre-order changed",
        "ko": "예약 상품의 출고 예정일 변경 후 주문 취소를 선택하셨습니다",
    },
    "preorder_promise_broken": {
        "en": "we could not ship your pre-order by the date we promised, and you had not agreed to a later date",
        "ko": "약속드린 날짜까지 예약 상품을 출고하지 못했고, 변경된 날짜에 동의하지 않으셨습니다",
    },
    "balance_unpaid": {
        "en": "the balance of your pre-order could not be charged before the payment deadline",
        "ko": "결제 기한까지 예약 주문 잔금을 결제하지 못했습니다",
    },
    "stock_unavailable": {
        "en": "the item could not be kept for you after all, as our stock system was briefly unavailable",
        "ko": "일시적인 시스템 장애로 주문하신 상품의 재고를 확보하지 못했습니다",
    },
    "short_pick": {
        "en": "our warehouse could not find the items in stock",
        "ko": "물류센터에 상품 재고가 부족했습니다",
    },
}
"""Reasons the shop cancels on its own, in words; a customer's own reason is not repeated back."""


WIN_BACK_ANSWERS: dict[str, dict[Locale, str]] = {
    "shipping_cost": {
        "en": "Shipping is charged once per order however many items it holds, so one order with everything you need ships for the price of one.",
        "ko": "배송비는 상품 수와 관계없이 주문당 한 번만 청구되니, 필요한 상품을 한 번에 주문하시면 배송비를 아끼실 수 있습니다.",
    },
    "delivery_time": {
        "en": "Choose express shipping at checkout for faster delivery; in-stock items go to our warehouse as soon as your payment is confirmed.",
        "ko": "결제 시 특급 배송을 선택하시면 더 빨리 받아보실 수 있으며, 재고 상품은 결제가 확인되는 즉시 물류센터로 전달됩니다.",
    },
    "changed_mind": {
        "en": "Not sure about the fit? Our size guide compares each size with garments you already own.",
        "ko": "사이즈가 고민되신다면 사이즈 가이드에서 가지고 계신 옷과 치수를 비교해 보세요.",
    },
    "return_policy": {
        "en": "Our size guide helps you choose the right size the first time, and our team answers any question about returns before you order.",
        "ko": "사이즈 가이드로 처음부터 꼭 맞는 사이즈를 고르실 수 있으며, 주문 전 반품에 관한 궁금한 점은 언제든 답변해 드립니다.",
    },
    "payment_method": {
        "en": "We take all major credit and debit cards; tell us which other payment method you would like to use and we will look into it.",
        "ko": "주요 신용카드와 체크카드로 결제하실 수 있습니다. 원하시는 다른 결제 수단을 알려 주시면 검토하겠습니다.",
    },
    "account_required": {
        "en": "You do not need an account to order: guest checkout only asks for your email address.",
        "ko": "회원 가입 없이도 주문하실 수 있습니다. 비회원 주문은 이메일 주소만 있으면 됩니다.",
    },
    "found_cheaper": {
        "en": "Tell us where you saw it for less: we review our prices with every answer we get.",
        "ko": "더 저렴하게 보신 곳을 알려 주세요. 보내주신 의견을 바탕으로 가격을 검토하겠습니다.",
    },
    "other": {
        "en": "We would be glad to know what we could have done better.",
        "ko": "저희가 무엇을 더 잘할 수 있었는지 알려 주시면 감사하겠습니다.",
    },
}
"""What the shop answers to each reason a customer gives for cancelling, to win them back."""
