"""The bodies shared by the public API and the services: one definition each, the internal ones derived from the
public ones, and the rules a service once kept to itself now checked wherever the body is read."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shop_api import catalog, fulfillment, payments
from shop_api.base import Strict
from shop_api.orders import checkout as order_bodies
from shop_api.orders import customers as customer_bodies
from shop_api.orders import drafts as draft_bodies
from shop_api.orders import returns as return_bodies

CHECKOUT: dict[str, Any] = {
    "email": "kim@example.com",
    "locale": "ko",
    "currency": "KRW",
    "lines": [{"sku": "SHIRT-LINEN-M", "quantity": 1}],
    "shipping_address": {
        "name": "Kim Minsu",
        "line1": "1 Teheran-ro",
        "city": "Seoul",
        "postal_code": "06236",
        "country": "KR",
    },
    "shipping_method": "same_day",
    "payment": {"token": "tok_visa"},
}


def request_bodies() -> list[type[BaseModel]]:
    return [
        value
        for module in (
            catalog,
            fulfillment,
            order_bodies,
            customer_bodies,
            draft_bodies,
            return_bodies,
            payments,
        )
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
        if value.__name__.endswith("In")
    ]


@pytest.mark.parametrize("body", request_bodies(), ids=lambda body: body.__name__)
def test_every_request_body_refuses_unknown_fields(body: type[BaseModel]) -> None:
    assert body.model_config.get("extra") == "forbid"


def test_there_is_one_strict_base() -> None:
    root = Path(__file__).resolve().parents[3]
    defined = [
        str(source.relative_to(root))
        for folder in ("libs", "services")
        for source in sorted((root / folder).glob("*/src/**/*.py"))
        if "class Strict(" in source.read_text()
    ]
    assert defined == ["libs/api/src/shop_api/base.py"]
    contract_values = {
        catalog.PreorderPolicyIn,
        catalog.EarlyBirdTierIn,
    }  # bounded contracts, strict on their own
    assert all(issubclass(body, Strict) for body in request_bodies() if body not in contract_values)


def test_every_example_is_accepted_by_its_body() -> None:
    for body in request_bodies():
        for example in (body.model_json_schema().get("examples") or [])[:1]:
            body.model_validate(example)


def test_a_saved_address_is_a_uuid_for_the_gateway_and_for_orders() -> None:
    address_id = uuid.uuid4()
    checkout = order_bodies.CheckoutIn.model_validate({**CHECKOUT, "shipping_address_id": str(address_id)})
    placed = order_bodies.PlaceOrderIn.of(checkout, stock_at_locations={"seoul-1": {"SHIRT-LINEN-M": 3}})
    assert placed.shipping_address_id == address_id
    assert placed.stock_at_locations == {"seoul-1": {"SHIRT-LINEN-M": 3}}
    with pytest.raises(ValidationError):
        order_bodies.PlaceOrderIn.model_validate({**CHECKOUT, "shipping_address_id": "address-1"})


def test_the_internal_bodies_derive_from_the_public_ones() -> None:
    assert issubclass(order_bodies.PlaceOrderIn, order_bodies.CheckoutIn)
    assert issubclass(order_bodies.QuoteShippingIn, order_bodies.ShippingRatesIn)
    assert issubclass(customer_bodies.CustomerIn, customer_bodies.StaffCustomerIn)
    assert issubclass(customer_bodies.CredentialsIn, customer_bodies.LoginIn)
    assert set(order_bodies.PlaceOrderIn.model_fields) - set(order_bodies.CheckoutIn.model_fields) == {
        "stock_at_locations"
    }
    with pytest.raises(ValidationError):
        order_bodies.CheckoutIn.model_validate({**CHECKOUT, "stock_at_locations": {}})


def test_ids_of_accounts_are_uuids() -> None:
    with pytest.raises(ValidationError):
        customer_bodies.OrderCustomerIn.model_validate({"customer_id": "kim"})
    with pytest.raises(ValidationError):
        draft_bodies.DraftIn.model_validate(
            {"customer_id": "kim", "currency": "KRW", "lines": [{"sku": "A-1", "quantity": 1}]}
        )


def test_a_new_account_given_an_order_has_no_password() -> None:
    with pytest.raises(ValidationError):
        customer_bodies.OrderCustomerIn.model_validate(
            {"customer": {"email": "kim@example.com", "name": "Kim", "locale": "ko", "password": "x" * 12}}
        )


def test_exactly_one_customer_is_named_by_the_body_itself() -> None:
    assert customer_bodies.OrderCustomerIn(customer_id=uuid.uuid4()).not_exactly_one() == []
    assert [error["field"] for error in customer_bodies.OrderCustomerIn().not_exactly_one()] == [
        "customer_id",
        "customer",
    ]


@pytest.mark.parametrize(
    "draft",
    [
        {"currency": "KRW", "lines": [{"sku": "A-1", "quantity": 1}]},
        {"customer_id": str(uuid.uuid4()), "currency": "KRW", "lines": [{"title": "Logo", "quantity": 1}]},
        {
            "customer_id": str(uuid.uuid4()),
            "currency": "KRW",
            "lines": [{"sku": "A-1", "quantity": 1}],
            "order_discount": {"kind": "percent", "value": 101, "reason": "too much"},
        },
        {
            "customer_id": str(uuid.uuid4()),
            "currency": "KRW",
            "lines": [{"sku": "A-1", "quantity": 1}],
            "payment_terms": {"type": "net"},
        },
        {
            "customer_id": str(uuid.uuid4()),
            "currency": "KRW",
            "lines": [{"sku": "A-1", "quantity": 1}],
            "shipping": {"method": "standard", "price": 100},
        },
    ],
)
def test_a_draft_keeps_its_cross_field_rules_wherever_it_is_read(draft: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        draft_bodies.DraftIn.model_validate(draft)


def test_a_shipment_report_names_a_carrier_or_none() -> None:
    with pytest.raises(ValidationError):
        fulfillment.FulfillmentEventIn.model_validate(
            {"type": "shipped", "carrier": "", "tracking_number": "1"}
        )
    fulfillment.FulfillmentEventIn.model_validate({"type": "packed"})


def test_text_with_control_characters_is_refused_everywhere() -> None:
    with pytest.raises(ValidationError):
        catalog.ProductIn.model_validate(
            {"title": "Shirt\x00", "variants": [{"sku": "A-1", "prices": [{"currency": "KRW", "amount": 1}]}]}
        )
    with pytest.raises(ValidationError):
        catalog.PreorderPolicyIn.model_validate({"payment_mode": "full", "early_access_segment": "vip\x07"})


def test_orders_answers_every_failed_login_alike_even_an_empty_password() -> None:
    credentials = {"email": "kim@example.com", "password": ""}
    customer_bodies.CredentialsIn.model_validate(credentials)
    with pytest.raises(ValidationError):
        customer_bodies.LoginIn.model_validate(credentials)
