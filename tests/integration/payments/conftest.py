"""Payments under test: its worker and HTTP app share one sandbox PSP that the tests can watch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_payments.bootstrap import service_definition
from shop_payments.psp import SandboxPsp
from tests.integration.payments.harness import Payments
from tests.support import infra
from tests.support.services import running_service


@pytest.fixture
async def payments(broker: AbstractRobustConnection) -> AsyncIterator[Payments]:
    sandbox = SandboxPsp()
    definition = service_definition(lambda settings: sandbox)
    async with running_service(definition, infra.service_settings(definition), broker) as service:
        yield Payments(service.client, sandbox)
