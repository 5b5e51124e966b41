"""The win-back side of a cancellation through orders' real handlers, with the order in a ``FakeOrders`` and its
cancellation in a ``FakeCancellations``: the code of the reason's offer issued once to the customer who cancelled
(or on staff's cancellation), none when the shop cancelled, a link instead of a code, and the feedback given
through the cancellation email's link, kept once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop_contracts import orders as contracts
from shop_contracts.money import Money
from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation.domain import FeedbackTokenRefused, WinBackOffer, feedback_token
from shop_orders.cancellation.repository import Feedback
from tests.unit.orders.fakes import FakeOrders, held, placed
from tests.unit.orders.test_cancellation_handlers import (
    LATER,
    SECRET,
    TEN_PERCENT,
    Shop,
    cancel,
    paid_shop,
    stopped,
)

FEEDBACK_VALID = timedelta(days=14)


async def reserved_shop() -> Shop:
    """An order whose stock is held, not yet paid: cancelling it completes at once."""
    shop = Shop(FakeOrders(placed(customer_id="c-7")))
    await held(shop.orders)
    return shop


async def test_a_customer_who_cancels_for_a_reason_with_an_offer_gets_its_code_once() -> None:
    shop = await reserved_shop()

    await cancel("shipping_cost", offer=TEN_PERCENT)(shop)
    await cancel("shipping_cost", offer=TEN_PERCENT)(shop)  # asked again: answered, nothing issued again

    [told] = shop.of_type(contracts.OrderCancelled)
    issued = shop.cancellations.codes["o-1"]
    assert issued.code.startswith("BACK-")
    assert (told.discount_code, told.discount_percent, told.discount_expires_at) == (
        issued.code,
        10,
        LATER + timedelta(days=30),
    )
    assert told.offer is not None
    assert (told.offer.kind, told.offer.code, told.offer.marketing) == ("percent", issued.code, True)
    assert told.feedback_token is not None
    assert shop.cancellations.code_owners["o-1"] == ("minsu@example.com", "c-7")
    assert shop.orders.timeline[-1] == (
        "o-1",
        "cancelled",
        {"reason": "shipping_cost", "refund": 0, "kept": 0, "discount_code": issued.code},
    )


async def test_the_offer_asked_with_a_cancellation_the_warehouse_had_to_stop_is_given_when_it_completes() -> (
    None
):
    shop, groups = await paid_shop()

    await cancel("delivery_time", offer=TEN_PERCENT)(shop)
    assert shop.cancellations.codes == {}  # nothing is given until the cancellation is done
    for group_id in groups.values():
        await stopped(group_id)(shop)

    [told] = shop.of_type(contracts.OrderCancelled)
    assert told.discount_code == shop.cancellations.codes["o-1"].code
    assert (told.refund, told.cancelled_by) == (Money(41000, "KRW"), "customer")


async def test_staffs_cancellation_for_a_customers_reason_gives_the_offer_with_staffs_note() -> None:
    shop = await reserved_shop()

    await cancel("other", by="staff", offer=TEN_PERCENT, note="asked by phone")(shop)

    [told] = shop.of_type(contracts.OrderCancelled)
    assert (told.cancelled_by, told.note, told.reason) == ("staff", "asked by phone", "other")
    assert told.discount_code == shop.cancellations.codes["o-1"].code
    assert shop.cancellations.by_order["o-1"].cancelled_by == "staff"
    requested = [detail for _, event, detail in shop.orders.timeline if event == "cancel_requested"]
    assert requested == [{"reason": "other", "by": "staff", "note": "asked by phone"}]


async def test_the_shops_own_cancellation_gives_no_code_and_no_feedback_link() -> None:
    shop = await reserved_shop()

    await cancel("balance_unpaid", by="shop", offer=TEN_PERCENT)(shop)

    [told] = shop.of_type(contracts.OrderCancelled)
    assert (told.discount_code, told.offer, told.feedback_token) == (None, None, None)
    assert shop.cancellations.codes == {}


@pytest.mark.parametrize(
    ("offer", "told_kind"),
    [
        (WinBackOffer(kind="fixed_amount", amount_off={"USD": 500}), None),  # no figure in won: nothing
        (WinBackOffer(kind="link", link="similar_products"), "link"),
    ],
)
async def test_an_offer_with_no_code_for_this_order_issues_none(
    offer: WinBackOffer, told_kind: str | None
) -> None:
    shop = await reserved_shop()

    await cancel("found_cheaper", offer=offer)(shop)

    [told] = shop.of_type(contracts.OrderCancelled)
    assert told.discount_code is None
    assert shop.cancellations.codes == {}
    assert (told.offer.kind if told.offer else None) == told_kind
    if told.offer is not None:
        assert told.offer.skus == ["TEE-M", "CAP"]


async def test_feedback_through_the_cancellation_emails_link_is_kept_once() -> None:
    shop = await reserved_shop()
    await cancel("changed_mind")(shop)
    [told] = shop.of_type(contracts.OrderCancelled)
    assert told.feedback_token is not None
    token = told.feedback_token

    async def give(score: int, comment: str | None) -> Feedback:
        feedback: Feedback = await shop.run(
            lambda uow: cancellation.give_feedback(
                uow,
                order_id="o-1",
                token=token,
                score=score,
                comment=comment,
                secret=SECRET,
                valid=FEEDBACK_VALID,
                now=LATER + timedelta(days=1),
                cancellations=shop.cancellations,
            )
        )
        return feedback

    first = await give(4, "found it cheaper nearby")
    again = await give(1, None)  # a second click: the first answer stays

    assert (first.score, first.comment, first.recorded) == (4, "found it cheaper nearby", True)
    assert (again.score, again.comment, again.recorded) == (4, "found it cheaper nearby", False)
    assert shop.cancellations.feedback["o-1"].score == 4


async def test_feedback_on_a_cancellation_still_waiting_for_the_warehouse_is_refused_like_a_wrong_link() -> (
    None
):
    shop, _ = await paid_shop()
    await cancel("changed_mind")(shop)
    token = feedback_token(SECRET, "o-1", issued_at=int(LATER.timestamp()))

    with pytest.raises(FeedbackTokenRefused) as refused:
        await shop.run(
            lambda uow: cancellation.give_feedback(
                uow,
                order_id="o-1",
                token=token,
                score=5,
                comment=None,
                secret=SECRET,
                valid=FEEDBACK_VALID,
                now=LATER,
                cancellations=shop.cancellations,
            )
        )

    assert (refused.value.code, refused.value.status) == ("invalid_token", 401)
    assert shop.cancellations.feedback == {}
