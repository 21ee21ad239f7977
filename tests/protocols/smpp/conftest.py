"""Fixtures for the SMPP tests that talk to :class:`~tests.protocols.smpp.peer.PeerSmsc`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from duanxin.protocols.carrier import ChannelSettings
from duanxin.protocols.core.sequence import Backoff
from duanxin.protocols.smpp import open_client
from tests.protocols.smpp.peer import WAIT, Client, Connect, Inbox, PeerSmsc


@pytest.fixture
async def peer() -> AsyncIterator[PeerSmsc]:
    smsc = PeerSmsc()
    await smsc.start()
    yield smsc
    await smsc.stop()


@pytest.fixture
async def connect_peer() -> AsyncIterator[Connect]:
    clients: list[Client] = []

    async def start(smsc: PeerSmsc, **kwargs: Any) -> tuple[Client, Inbox]:
        settings = ChannelSettings("127.0.0.1", smsc.port, "esme", "secret", **kwargs)
        inbox = Inbox()
        client = open_client(settings, inbox, backoff=Backoff(initial=0.01, maximum=0.05))
        clients.append(client)
        await client.start()
        assert await client.wait_up(WAIT), client.last_error
        return client, inbox

    yield start
    for client in clients:
        await client.close()
