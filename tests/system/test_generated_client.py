"""A storefront's typed client, generated from the committed docs/openapi.json with openapi-python-client, places
an order on the running shop and reads it back: the document is one a client generator accepts, and the shop
answers as it says.

The client is generated into a temporary folder for this run only (nothing generated is kept), offline.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator

from scripts.stack import Stack
from shop_storefront import new_sku
from tests.support.messages import eventually
from tests.system.shop import ADDRESS, product_in_stock

pytestmark = pytest.mark.system

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
PACKAGE = "shop_storefront_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def storefront_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, importable as ``shop_storefront_client`` while this module's tests run."""
    folder = tmp_path_factory.mktemp("generated")
    config = folder / "generator.json"
    # no post hooks: the generator would otherwise look for ruff on PATH to tidy code nobody reads
    config.write_text(json.dumps({"post_hooks": [], "package_name_override": PACKAGE}))
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(DOCUMENT),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, f"openapi-python-client refused docs/openapi.json:\n{generated.stdout}"
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def generated(module: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{module}")


async def test_a_storefront_places_and_reads_an_order_with_the_generated_client(
    stack: Stack, gateway: httpx.AsyncClient, storefront_client: ModuleType
) -> None:
    sku = new_sku("GEN")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    models = generated("models")
    place_order = generated("api.storefront.place_order")
    get_order = generated("api.storefront.get_order")
    checkout = models.CheckoutIn(
        email=f"buyer-{uuid.uuid4().hex[:8]}@example.com",
        locale=models.CheckoutInLocaleType0.KO,
        currency="KRW",
        lines=[models.LineIn(sku=sku, quantity=2)],
        shipping_address=models.AddressIn.from_dict(ADDRESS),
        shipping_method="standard",
        payment=models.PaymentIn(token="tok_visa"),
    )
    key = str(uuid.uuid4())
    base_url = stack.config.gateway_url
    placed: Any = None

    async with storefront_client.Client(base_url=base_url) as anonymous:

        async def accepted() -> None:
            nonlocal placed
            # orders may not have heard of the just-created SKU yet (catalog's event is on its way): the same
            # checkout with the same key is retried until it is
            placed = await place_order.asyncio(client=anonymous, body=checkout, idempotency_key=key)
            assert isinstance(placed, models.PlacedOrderOut), placed

        await eventually(accepted, timeout=15)

    assert placed.status in ("reserved", "pending")  # pending only if catalog's hold was not answered in time
    async with storefront_client.AuthenticatedClient(
        base_url=base_url, token=placed.access_token
    ) as customer:
        order: Any = None
        answer: Any = None

        async def confirmed() -> None:
            nonlocal answer, order
            answer = await get_order.asyncio_detailed(uuid.UUID(placed.id), client=customer)
            order = answer.parsed
            assert isinstance(order, models.OrderOut), order
            assert order.status == "confirmed", order.status

        await eventually(confirmed, timeout=20)

    assert order.id == placed.id
    assert order.currency == "KRW"
    assert [(line.sku, line.quantity, line.unit_price, line.line_total) for line in order.lines] == [
        (sku, 2, 39000, 78000)
    ]
    assert order.totals.subtotal == 78000
    assert order.totals.total >= order.totals.subtotal
    assert order.timeline, "the order's timeline is empty"
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    as_documented = OAS31Validator(
        {"$ref": "#/components/schemas/OrderOut", "components": document["components"]},
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )
    wrong = [
        f"{list(error.path)}: {error.message}"
        for error in as_documented.iter_errors(json.loads(answer.content))
    ]
    assert not wrong, wrong

    async with storefront_client.AuthenticatedClient(
        base_url=base_url, token="not-this-orders-token"
    ) as other:
        refused = await get_order.asyncio(uuid.UUID(placed.id), client=other)
    assert isinstance(refused, models.Problem)
    assert refused.status == 404
    assert refused.instance == f"/v1/orders/{placed.id}"
