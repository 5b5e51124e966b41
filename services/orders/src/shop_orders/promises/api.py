"""Orders' route for a customer's decision on a changed pre-order date."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from shop_api.orders.checkout import PreorderDecisionIn
from shop_orders.core.domain import decision_token_matches
from shop_orders.core.errors import OrderError
from shop_orders.http import authorised, order_problem
from shop_orders.promises import handlers as promises
from shop_orders.settings import OrdersSettings
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed

router = APIRouter()


@router.post("/orders/{order_id}/preorder-decision")
async def decide_on_changed_date(
    order_id: str,
    body: PreorderDecisionIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Accept a pre-order's changed ship date or cancel with a full refund: with the email link's token (it
    opens nothing else), the order's access token, or as staff."""
    settings: OrdersSettings = request.app.state.settings
    token = x_order_access_token
    if token is None or not decision_token_matches(settings.access_token_secret, order_id, token):
        await authorised(request, uow, order_id, token, x_caller_role, x_customer_id)
    try:
        outcome = await committed(
            uow,
            promises.decide_on_changed_date(uow, order_id=order_id, decision=body.decision, now=clock.now()),
        )
    except OrderError as error:
        raise order_problem(error) from error
    return {
        "id": order_id,
        "decision": outcome.decision,
        "status": outcome.status,
        "refund": outcome.refund,
        "promised_ship_dates": outcome.promised_ship_dates,
    }
