"""Notifications' internal HTTP API (called by the gateway and operators): the delivery log of an order."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shop_notifications import queries
from shop_runtime.http import UnitOfWorkDep

router = APIRouter()


@router.get("/notifications")
async def list_notifications(
    uow: UnitOfWorkDep, order_id: Annotated[str, Query(min_length=1, max_length=200)]
) -> dict[str, Any]:
    return {"items": await queries.notifications_of_order(uow.session, order_id)}
