"""``duanxin access connections`` lists who is logged in on the customer servers."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from duanxin.cli import app
from duanxin.protocols.smpp import pdu as p
from tests.access.conftest import address
from tests.access.customers import cmpp_customer, smpp_customer
from tests.conftest import Stack


def connections(database_url: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(
        app, ["access", "connections", "--json", "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert isinstance(listing, list)
    return listing


async def test_connections_lists_each_bound_customer(stack: Stack) -> None:
    url = stack.running.platform.settings.database_url
    cmpp = await cmpp_customer(*address(stack, "cmpp"), stack.facts.account, stack.facts.password)
    smpp = await smpp_customer(
        *address(stack, "smpp"), stack.facts.account, stack.facts.password, p.BindReceiver
    )
    listing = await asyncio.to_thread(connections, url)
    assert sorted((c["account"], c["protocol"], c["bind_type"]) for c in listing) == [
        (stack.facts.account, "cmpp", "transceiver"),
        (stack.facts.account, "smpp", "receiver"),
    ]
    for entry in listing:
        assert str(entry["peer"]).startswith("127.0.0.1:") and entry["in_flight"] == 0
    await cmpp.close()
    await smpp.close()

    async def none_left() -> bool:
        return await asyncio.to_thread(connections, url) == []

    await stack.wait_for(none_left)
