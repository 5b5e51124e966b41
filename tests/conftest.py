"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_runtime.broker import connect
from tests.support import infra
from tests.support.messages import MessageProbe


@pytest.fixture(scope="session")
def test_vhost() -> Iterator[str]:
    infra.reset_vhost()
    yield infra.TEST_VHOST
    infra.delete_vhost()


@pytest.fixture(scope="session")
async def broker(test_vhost: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(infra.amqp_url(test_vhost))
    yield connection
    await connection.close()


@pytest.fixture
async def probe(broker: AbstractRobustConnection) -> AsyncIterator[MessageProbe]:
    probe = await MessageProbe(broker).start()
    yield probe
    await probe.stop()
