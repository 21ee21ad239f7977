"""Shared helpers of the contract tests: raw signed requests, shape checks, store counts.

The signature is computed here by hand (hmac + base64), not with the platform's own
signing code, so that the tests check the wire format rather than the implementation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from duanxin.domain.accounts import AccessType
from duanxin.domain.billing import ChargeType
from duanxin.service import admin, policy
from duanxin.store import accounts as account_store
from duanxin.store.tables import ledger, messages, replies, reports
from tests.conftest import Stack

ENDPOINTS = ("smssend", "smsoverage", "smsreport", "smsmo")
PREFIXES = ("", "/release")
MID = re.compile(r"[0-9A-F]{16}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
MOBILE, UNICOM, TELECOM = "13800138000", "18600000000", "18900000000"


def http_date(when: datetime | None = None) -> str:
    """RFC 1123 GMT, as the published samples format it."""
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def signed_headers(
    secret_id: str,
    secret_key: str,
    *,
    algorithm: str = "hmac-sha1",
    names: tuple[str, str] = ("x-date", "x-source"),
    when: datetime | None = None,
    source: str = "market",
) -> dict[str, str]:
    """The headers a published sample sends: date, source and Authorization."""
    date = http_date(when)
    values = {names[0]: date, names[1]: source}
    signed = "\n".join(f"{name}: {values[name]}" for name in names)
    digest = hashlib.sha1 if algorithm == "hmac-sha1" else hashlib.sha256
    mac = hmac.new(secret_key.encode(), signed.encode(), digest).digest()
    signature = base64.b64encode(mac).decode()
    headers = {"-".join(p.capitalize() for p in n.split("-")): values[n] for n in names}
    headers["Authorization"] = (
        f'hmac id="{secret_id}", algorithm="{algorithm}", '
        f'headers="{" ".join(names)}", signature="{signature}"'
    )
    return headers


def stack_headers(stack: Stack, **kwargs: Any) -> dict[str, str]:
    return signed_headers(stack.facts.secret_id, stack.facts.secret_key, **kwargs)


def credentials(stack: Stack) -> dict[str, str]:
    return {"account": stack.facts.account, "password": stack.facts.password}


async def post(
    stack: Stack,
    path: str,
    *,
    data: Mapping[str, str] | None = None,
    content: bytes | str | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    sign: bool = True,
) -> httpx.Response:
    """POST to the running platform, signed with the demo key unless told otherwise."""
    all_headers = dict(stack_headers(stack)) if sign else {}
    all_headers.update(headers or {})
    async with httpx.AsyncClient(base_url=stack.facts.url, timeout=30) as client:
        return await client.post(
            path, data=data, content=content, params=params, headers=all_headers
        )


def answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a 200 answer, checking the content type on the way."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    data = json.loads(response.content.decode("utf-8"))
    assert isinstance(data, dict)
    return data


def assert_list_failure(data: Mapping[str, Any], status: int) -> None:
    """The failure shape of /smssend, /smsreport and /smsmo."""
    assert data["status"] == str(status), data
    assert data["balance"] == 0
    assert data["list"] is None
    assert isinstance(data["msg"], str) and data["msg"]


def assert_overage_failure(data: Mapping[str, Any], status: int) -> None:
    """The failure shape of /smsoverage (integer status)."""
    assert data["status"] == status, data
    assert type(data["status"]) is int
    assert data["balance"] == 0
    assert data["chargeType"] == "PRECHARGE"
    assert isinstance(data["msg"], str) and data["msg"]


def assert_failure(endpoint: str, data: Mapping[str, Any], status: int) -> None:
    if endpoint == "smsoverage":
        assert_overage_failure(data, status)
    else:
        assert_list_failure(data, status)


def assert_send_ok(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    assert data["status"] == "0", data
    assert type(data["balance"]) is int
    assert data["msg"] == "ok"
    assert isinstance(data["list"], list)
    for item in data["list"]:
        assert set(item) == {"mid", "mobile", "result"}
        assert MID.fullmatch(item["mid"])
        assert isinstance(item["mobile"], str)
        assert type(item["result"]) is int
    return list(data["list"])


def assert_report_shape(item: Mapping[str, Any]) -> None:
    assert set(item) == {"flag", "mid", "spid", "accessCode", "mobile", "stat", "time"}
    assert item["flag"] == 1 and type(item["flag"]) is int
    assert MID.fullmatch(item["mid"])
    for key in ("spid", "accessCode", "mobile", "stat", "time"):
        assert isinstance(item[key], str), key
    assert len(item["stat"]) <= 7
    assert TIME.fullmatch(item["time"])
    datetime.strptime(item["time"], "%Y-%m-%d %H:%M:%S")


def assert_reply_shape(item: Mapping[str, Any]) -> None:
    assert set(item) == {"flag", "mid", "spid", "accessCode", "mobile", "content", "time"}
    assert item["flag"] == 0 and type(item["flag"]) is int
    assert MID.fullmatch(item["mid"])
    for key in ("spid", "accessCode", "mobile", "content", "time"):
        assert isinstance(item[key], str), key
    assert TIME.fullmatch(item["time"])


async def send_form(stack: Stack, fields: Mapping[str, str], **kwargs: Any) -> dict[str, Any]:
    data = {**credentials(stack), **fields}
    return answer(await post(stack, "/smssend", data=data, **kwargs))


async def pull_reports(stack: Stack, **fields: str) -> dict[str, Any]:
    data = {**credentials(stack), **fields}
    return answer(await post(stack, "/smsreport", data=data))


async def pull_replies(stack: Stack, **fields: str) -> dict[str, Any]:
    data = {**credentials(stack), "action": "mo", **fields}
    return answer(await post(stack, "/smsmo", data=data))


async def balance(stack: Stack, **fields: str) -> int:
    data = {**credentials(stack), "action": "balance", **fields}
    result = answer(await post(stack, "/smsoverage", data=data))
    assert result["status"] == 0, result
    return int(result["balance"])


async def collect_reports(
    stack: Stack, mids: Iterable[str], *, account: Mapping[str, str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Pull until every mid has a report; return every report pulled, by mid."""
    wanted = set(mids)
    seen: dict[str, list[dict[str, Any]]] = {}

    async def done() -> bool:
        data = {**(account or credentials(stack)), "size": "10000"}
        result = answer(await post(stack, "/smsreport", data=data))
        assert result["status"] == "0", result
        for item in result["list"]:
            seen.setdefault(item["mid"], []).append(item)
        return wanted <= set(seen)

    await stack.wait_for(done, timeout=20)
    return seen


async def count_rows(stack: Stack, table: Any = messages) -> int:
    async with stack.running.platform.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def store_counts(stack: Stack) -> tuple[int, int, int, int]:
    """Rows of messages, reports, replies and ledger: a refused request changes none."""
    return (
        await count_rows(stack, messages),
        await count_rows(stack, reports),
        await count_rows(stack, replies),
        await count_rows(stack, ledger),
    )


async def add_account(
    stack: Stack,
    account: str,
    *,
    extno: str = "",
    customer: int | None = None,
    charge_type: ChargeType = ChargeType.POSTCHARGE,
    balance: int = 0,
    refund_on_failure: bool = False,
    access_type: AccessType = AccessType.HTTP,
    spid: str = "922012",
    default_signature: str = "【duanxin】",
) -> dict[str, str]:
    """A further account with routes to the three demo channels; returns its credentials.

    ``customer`` None: the demo customer (the one the demo key belongs to).
    """
    platform = stack.running.platform
    if customer is None:
        async with platform.engine.connect() as conn:
            demo = await account_store.find_account(conn, stack.facts.account)
        assert demo is not None
        customer = demo.customer_id
    password = admin.random_token(16)
    await admin.create_account(
        platform,
        customer,
        admin.AccountSpec(
            account=account,
            password=password,
            spid=spid,
            extno=extno,
            charge_type=charge_type,
            balance=balance,
            refund_on_failure=refund_on_failure,
            access_type=access_type,
            default_signature=default_signature,
        ),
    )
    for protocol, carrier in (("cmpp", "cmcc"), ("sgip", "cucc"), ("smgp", "ctcc")):
        await admin.add_route(platform, account, carrier, [f"demo-{protocol}"])
    assert stack.running.worker is not None
    await stack.running.worker.reload()
    return {"account": account, "password": password}


async def approve_signature(stack: Stack, signature: str, account: str | None = None) -> None:
    """Register ``signature`` for the account (the demo one by default) and approve it."""
    platform = stack.running.platform
    registered = await policy.register_signature(
        platform, account or stack.facts.account, signature
    )
    await policy.approve_signature(platform, registered["id"], "tests")


def in_future(seconds: float) -> str:
    return (datetime.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")
