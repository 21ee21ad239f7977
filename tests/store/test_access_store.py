"""The customer servers' store (given ids, logged-in connections) and the account fields
they added (TPS, access types as sets), on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from duanxin.domain.accounts import ACCESS_INTERFACES, AccessType, Interface
from duanxin.service import access, admin
from duanxin.service.platform import Platform
from duanxin.store import access as access_store
from duanxin.store import accounts as account_store
from duanxin.store import inbox
from duanxin.store import messages as message_store

NOW = datetime(2026, 12, 2, 9, 0, 0)
LATER = NOW + timedelta(seconds=1, microseconds=250)


async def test_report_details_carry_the_given_ids_in_order(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "acme")
    account_id = await admin.create_account(
        platform, customer, admin.AccountSpec("acme", "pw", "922011")
    )
    long, short, unknown = "AAAA000000000001", "AAAA000000000002", "AAAA000000000003"
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(
            conn, [_message(long, account_id, NOW), _message(short, account_id, LATER)]
        )
        await access_store.keep_given_ids(
            conn, {long: [long, "AAAA000000000009", "AAAA00000000000A"]}
        )
    async with platform.engine.connect() as conn:
        found = await access_store.report_details(conn, [long, short, unknown])
    assert found == {
        long: access_store.ReportDetails(NOW, (long, "AAAA000000000009", "AAAA00000000000A")),
        short: access_store.ReportDetails(LATER, (short,)),  # none stored: the mid itself
    }


def _message(mid: str, account_id: int, created_at: datetime) -> dict[str, object]:
    return {
        "mid": mid,
        "account_id": account_id,
        "mobile": "13800138000",
        "carrier": "cmcc",
        "content": "【x】hi",
        "segments": 1,
        "charged": 1,
        "state": "submitted",
        "created_at": created_at,
    }


async def test_account_with_tps_and_every_access_type(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "acme")
    spec = admin.AccountSpec("acme", "pw", "922011", access_type=AccessType.ALL, tps=30)
    await admin.create_account(platform, customer, spec)
    async with platform.engine.connect() as conn:
        account = await account_store.find_account(conn, "acme")
    assert account is not None and account.tps == 30
    assert account.access_type is AccessType.ALL
    assert all(account.allows_interface(i) for i in ACCESS_INTERFACES)
    await admin.set_account(platform, "acme", {"access_type": "smpp,http", "tps": 0})
    async with platform.engine.connect() as conn:
        account = await account_store.find_account(conn, "acme")
    assert account is not None and account.access_type is AccessType.HTTP_SMPP
    assert not account.allows_interface(Interface.CMPP) and account.tps == 0
    with pytest.raises(ValueError):
        await admin.set_account(platform, "acme", {"tps": -1})


async def test_connections_are_listed_with_what_they_hold(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "acme")
    account_id = await admin.create_account(
        platform, customer, admin.AccountSpec("acme", "pw", "922011", max_concurrency=1)
    )
    async with platform.engine.connect() as conn:
        account = await account_store.find_account(conn, "acme")
    assert account is not None
    connections = access.Connections(platform)
    held = await connections.open(account, Interface.SMPP, "receiver", "10.0.0.1:4000", True)
    async with platform.engine.begin() as conn:
        await inbox.finish(
            conn,
            [inbox.FinalReport(account_id, "BBBB000000000001", "13800138000", "DELIVRD", "", NOW)],
            mark_messages=False,
        )
        claimed = await inbox.claim(conn, inbox.Kind.REPORTS, account_id, held.consumer, 10,
                                    NOW, NOW + timedelta(minutes=2))  # fmt: skip
    assert len(claimed) == 1
    async with platform.engine.connect() as conn:
        (row,) = await access_store.list_connections(conn, NOW)
    assert (row.account, row.protocol, row.bind_type, row.peer) == (
        "acme", "smpp", "receiver", "10.0.0.1:4000"
    )  # fmt: skip
    assert row.in_flight == 1
    with pytest.raises(Exception, match="connections"):
        await connections.open(account, Interface.CMPP, "transceiver", "10.0.0.1:4001", True)
    await connections.close(held)  # its claim is given back
    async with platform.engine.connect() as conn:
        assert await access_store.list_connections(conn, NOW) == []
        assert await inbox.count_waiting(conn, inbox.Kind.REPORTS, account_id, NOW) == 1
