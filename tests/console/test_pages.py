"""The console's forms over plain HTTP against the demo platform: each change lands (and
is audited), bad input comes back as a message on the page, never as a 500."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from duanxin.config import Settings
from duanxin.demo import DEMO_PUSH_NETWORKS, demo_stack
from duanxin.service import (
    admin,
    callbacks,
    console_auth,
    customers,
    lists,
    message_search,
    review,
    stats,
)
from duanxin.service.platform import Platform
from duanxin.service.send import send_signed_in
from duanxin.store.tables import reports
from tests.conftest import TEST_REPORT_DELAY, Stack, wait_until
from tests.delivery.receivers import Received, receiver

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Web:
    """A cookie-keeping client that signs in and posts forms with their CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, path: str, name: str, password: str) -> None:
        form = await self.client.get(path)
        found = CSRF.search(form.text)
        assert found is not None
        answer = await self.client.post(
            path, data={"csrf": found.group(1), "name": name, "password": password}
        )
        assert answer.status_code == 303, answer.text
        page = await self.client.get(answer.headers["location"])
        found = CSRF.search(page.text)
        assert found is not None
        self.csrf = found.group(1)

    async def post(
        self, path: str, files: dict[str, tuple[str, bytes]] | None = None, **fields: str
    ) -> httpx.Response:
        """Post a form; follow its redirect; the page answered (its flash message in it)."""
        answer = await self.client.post(path, data={"csrf": self.csrf, **fields}, files=files)
        assert answer.status_code != 500, answer.text
        if answer.status_code == 303:
            answer = await self.client.get(answer.headers["location"])
        return answer


@pytest.fixture
async def operator(stack: Stack) -> AsyncIterator[Web]:
    platform = stack.running.platform
    await console_auth.add_operator(platform, "olga", "olga-pass-1")
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        web = Web(client)
        await web.sign_in("/console/login", "olga", "olga-pass-1")
        yield web


def flash(page: httpx.Response) -> str:
    found = re.search(r'<p class="flash (\w*)"[^>]*>([^<]*)</p>', page.text)
    assert found is not None, page.text[:2000]
    return f"{found.group(1)}: {found.group(2)}"


async def test_review_rejects_with_a_reason_the_customer_reads(stack: Stack, operator: Web) -> None:
    platform = stack.running.platform
    row = await review.register_signature(platform, "demo", "【小店】")
    refused = await operator.post(f"/console/review/signature/{row['id']}/reject", reason="")
    assert flash(refused).startswith("error: ") and "reason" in flash(refused)
    done = await operator.post(
        f"/console/review/signature/{row['id']}/reject", reason="营业执照不符"
    )
    assert flash(done) == f"ok: signature #{row['id']} rejected."
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        customer = Web(client)
        await customer.sign_in("/console/my/login", stack.facts.account, stack.facts.password)
        page = await client.get("/console/my/signatures")
    assert "【小店】" in page.text and "营业执照不符" in page.text
    missing = await operator.post("/console/review/template/999/approve")
    assert flash(missing).startswith("error: ")
    audit = await lists.audit_list(platform, actor="olga", action="signature.reject")
    assert [a["detail"]["reason"] for a in audit] == ["营业执照不符"]


async def test_channels_are_added_edited_switched_and_removed(stack: Stack, operator: Web) -> None:
    platform = stack.running.platform
    fields = {
        "name": "spare",
        "protocol": "smpp",
        "host": "127.0.0.1",
        "port": "2775",
        "account": "sp",
        "password": "pw",
        "access_code": "1069",
        "alphabet": "gsm7",
    }
    added = await operator.post("/console/channels", **fields)
    assert flash(added) == "ok: Channel added."
    again = await operator.post("/console/channels", **fields)
    assert "already exists" in flash(again)
    bad_port = await operator.post("/console/channels", **{**fields, "name": "x", "port": "p"})
    assert flash(bad_port) == "error: Port must be a whole number."
    edited = await operator.post(
        "/console/channels/spare/edit",
        host="10.0.0.2",
        port="2776",
        account="sp2",
        password="",
        access_code="1069",
        tps="50",
        window="8",
        max_connections="2",
        alphabet="latin1",
    )
    assert flash(edited) == "ok: Saved."
    row = next(c for c in await admin.list_channels(platform) if c["name"] == "spare")
    assert (row["host"], row["port"], row["tps"], row["window"]) == ("10.0.0.2", 2776, 50, 8)
    assert row["settings"] == {"alphabet": "latin1"}
    wrong = await operator.post(
        "/console/channels/demo-cmpp/edit",
        host="h",
        port="1",
        account="a",
        access_code="1",
        alphabet="gsm7",
    )
    assert "SMPP" in flash(wrong)  # CMPP sends ASCII
    assert "Channel spare disabled" in flash(await operator.post("/console/channels/spare/disable"))
    assert "Channel spare enabled" in flash(await operator.post("/console/channels/spare/enable"))
    sent = await send_signed_in(platform, "demo", ["13800138000"], "【duanxin】您好")
    assert sent.entries is not None
    mid = sent.entries[0].mid

    async def submitted() -> bool:
        history = await message_search.message_history(platform, mid)
        return history is not None and history.message.channel == "demo-cmpp"

    await stack.wait_for(submitted)
    used = await operator.post("/console/channels/demo-cmpp/remove")
    assert "disable it instead" in flash(used)
    removed = await operator.post("/console/channels/spare/remove")
    assert flash(removed) == "ok: Channel spare removed."
    assert (await operator.client.get("/console/channels/spare")).status_code == 404
    actions = {a["action"] for a in await lists.audit_list(platform, actor="olga")}
    assert {"channel.add", "channel.edit", "channel.disable", "channel.remove"} <= actions


async def test_lists_are_searched_added_imported_and_removed(stack: Stack, operator: Web) -> None:
    added = await operator.post(
        "/console/lists/blacklist/add", mobiles="13700000001, 13700000002\nnope", reason="投诉"
    )
    assert flash(added) == "ok: 2 added, 0 already listed, 1 invalid."
    found = await operator.client.get("/console/lists", params={"mobile": "13700000001"})
    assert "13700000001 is on the blacklist." in found.text
    imported = await operator.post(
        "/console/lists/blacklist/import",
        files={"file": ("numbers.txt", b"13700000002\n13700000003\n")},
    )
    assert flash(imported) == "ok: 1 added, 1 already listed, 0 invalid."
    latin = await operator.post(
        "/console/lists/blacklist/import", files={"file": ("n.txt", b"\xff\xfe")}
    )
    assert flash(latin) == "error: The file must be UTF-8 text."
    removed = await operator.post("/console/lists/blacklist/remove", mobiles="13700000001")
    assert flash(removed) == "ok: 1 removed."
    words = await operator.post(
        "/console/lists/words/import",
        files={"file": ("w.tsv", "博彩\tgambling\n代开发票\tfraud\n".encode())},
    )
    assert flash(words) == "ok: 2 new words."
    search = await operator.client.get("/console/lists", params={"word": "博"})
    assert "博彩" in search.text and "代开发票" not in search.text
    assert "1 removed" in flash(await operator.post("/console/lists/words/remove", word="博彩"))
    optout = await operator.post(
        "/console/lists/optouts/add", account="demo", mobiles="13800138009"
    )
    assert flash(optout) == "ok: 1 added, 0 already listed, 0 invalid."
    shown = await operator.client.get("/console/lists", params={"account": "demo"})
    assert "13800138009" in shown.text
    nobody = await operator.post("/console/lists/optouts/add", account="nobody", mobiles="1")
    assert flash(nobody).startswith("error: no account")


async def test_account_settings_are_checked_and_saved(stack: Stack, operator: Web) -> None:
    platform = stack.running.platform
    base = {
        "state": "active",
        "charge_type": "POSTCHARGE",
        "access_type": "http",
        "spid": "922011",
        "extno": "",
        "max_concurrency": "4",
        "default_signature": "【duanxin】",
        "default_kind": "",
    }
    bad = await operator.post("/console/accounts/demo/edit", **base, ip_whitelist="10.0.0.0/33")
    assert "not an address or network" in flash(bad)
    saved = await operator.post(
        "/console/accounts/demo/edit",
        **base,
        ip_whitelist="10.0.0.0/8, 127.0.0.1",
        template_required="1",
    )
    assert flash(saved) == "ok: Saved."
    account = await admin.find_account(platform, "demo")
    assert account.ip_whitelist == "10.0.0.0/8,127.0.0.1" and account.max_concurrency == 4
    assert account.template_required and account.password == stack.facts.password
    unapproved = await operator.post(
        "/console/accounts/demo/edit", **{**base, "default_signature": "【别的】"}
    )
    assert "not approved" in flash(unapproved)
    not_a_number = await operator.post("/console/accounts/demo/recharge", amount="ten")
    assert flash(not_a_number) == "error: Amount must be a whole number."
    assert (await operator.client.get("/console/accounts/nobody")).status_code == 404
    bad_mid = await operator.client.get("/console/messages", params={"mid": "xyz"})
    assert bad_mid.status_code == 400 and "16 hex digits" in bad_mid.text
    bad_time = await operator.client.get("/console/messages", params={"since": "yesterday"})
    assert bad_time.status_code == 400
    created = await operator.post(
        "/console/customers",
        customer="Beta",
        account="beta",
        password="pw-123456",
        default_signature="x",
    )
    assert "2 to 12 characters" in flash(created)
    with pytest.raises(LookupError):
        await admin.find_account(platform, "beta")
    assert "Beta" not in (await customers.customer_names(platform)).values()  # nothing half-made


async def test_frequency_limits_are_set_and_reset(stack: Stack, operator: Web) -> None:
    platform = stack.running.platform
    saved = await operator.post(
        "/console/accounts/demo/frequency", scope="verification", limits="1/min, 3/hour"
    )
    assert flash(saved) == "ok: Saved."
    shown = await lists.frequency_show(platform, "demo")
    assert shown["verification"]["overridden"] and shown["verification"]["pairs"] == [
        [1, 60],
        [3, 3600],
    ]
    assert "1/min" in (await operator.client.get("/console/accounts/demo")).text
    bad = await operator.post("/console/accounts/demo/frequency", scope="verification", limits="x")
    assert flash(bad).startswith("error: ")
    reset = await operator.post(
        "/console/accounts/demo/frequency", scope="verification", limits="", default="1"
    )
    assert flash(reset) == "ok: Saved."
    assert not (await lists.frequency_show(platform, "demo"))["verification"]["overridden"]


async def test_a_customer_sees_where_its_cmpp_and_smpp_software_connects(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        customer = Web(client)
        await customer.sign_in("/console/my/login", stack.facts.account, stack.facts.password)
        page = await client.get("/console/my/")
    section = page.text.split('id="connections"', 1)[1].split("</section>", 1)[0]
    for protocol in ("cmpp", "smpp"):
        assert f"<code>{stack.facts.access[protocol]['port']}</code>" in section
    assert f"system_id = {stack.facts.account}" in section
    await admin.set_account(stack.running.platform, "demo", {"access_type": "http"})
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        customer = Web(client)
        await customer.sign_in("/console/my/login", stack.facts.account, stack.facts.password)
        assert 'id="connections"' not in (await client.get("/console/my/")).text


async def test_a_customer_reads_its_ledger_newest_first_with_the_balance_after_each(
    stack: Stack,
) -> None:
    platform = stack.running.platform
    before = (await admin.find_account(platform, "demo")).balance
    await admin.recharge(platform, "demo", 500, note="top-up")
    sent = await send_signed_in(platform, "demo", ["13600136000"], "【duanxin】您的订单已发货")
    assert sent.entries, sent
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        customer = Web(client)
        await customer.sign_in("/console/my/login", stack.facts.account, stack.facts.password)
        page = await client.get("/console/my/ledger", params={"lang": "en"})
    assert page.status_code == 200
    table = page.text.split('id="ledger"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td class=\"num\">([^<]*)</td>"
                      r"<td class=\"num\">([^<]*)</td><td><code>([^<]*)</code>", table)  # fmt: skip
    assert rows[0][0] == "Send" and rows[0][1] == "-1" and rows[0][3] == sent.entries[0].mid
    assert rows[1][:2] == ("Recharge", "+500") and int(rows[1][2]) == before + 500
    assert int(rows[0][2]) == before + 499
    assert f'<strong id="balance">{before + 499}</strong>' in page.text


async def test_a_customer_reads_its_daily_statistics(stack: Stack) -> None:
    platform = stack.running.platform
    account = await admin.find_account(platform, "demo")
    mobiles = ["13600136001", "13600136002", "18600186003"]
    sent = await send_signed_in(platform, "demo", mobiles, "【duanxin】您的订单已发货")
    assert len(sent.entries) == 3, sent

    async def all_reported() -> bool:
        lines = await stats.statistics(platform, account_id=account.id)
        return sum(line.delivered + line.failed for line in lines) == 3

    await wait_until(all_reported)
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        customer = Web(client)
        await customer.sign_in("/console/my/login", stack.facts.account, stack.facts.password)
        page = await client.get("/console/my/stats")
    table = page.text.split('id="stats"', 1)[1].split("</table>", 1)[0]
    today = platform.clock().strftime("%Y-%m-%d")
    cells = re.findall(r'<td class="num">([^<]*)</td>', table.split(f"<td>{today}</td>", 1)[1])
    assert cells[:4] == ["3", "3", "0", "0"]  # submitted, delivered, failed, pending
    assert 'id="stats-data"' in page.text  # the chart's figures, for the shipped uPlot


async def test_a_customer_sets_its_callbacks_reads_the_secret_once_and_tests_them(
    stack: Stack,
) -> None:
    bodies: list[bytes] = []

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))  # type: ignore[union-attr]
        bodies.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    receiver = await asyncio.start_server(receive, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{receiver.sockets[0].getsockname()[1]}/dlr"
    try:
        async with httpx.AsyncClient(base_url=stack.facts.url) as client:
            customer = Web(client)
            await customer.sign_in("/console/my/login", stack.facts.account, stack.facts.password)
            saved = await customer.post("/console/my/callbacks", reports_url=url, replies_url="")
            assert re.search(r"<code>whsec_[^<]+</code>", saved.text), saved.text[:3000]
            again = await client.get("/console/my/callbacks")
            assert "whsec_" not in again.text and f'value="{url}"' in again.text
            bad = await customer.post("/console/my/callbacks", reports_url="ftp://x/")
            assert (
                bad.status_code != 500
                and "ftp://x/" not in (await client.get("/console/my/callbacks")).text
            )
            tested = await customer.post("/console/my/callbacks/test")
    finally:
        receiver.close()
        await receiver.wait_closed()
    results = tested.text.split('id="callback-tests"', 1)[1].split("</table>", 1)[0]
    assert "delivered" in results and bodies == [b"[]"]


async def test_the_operator_sets_an_accounts_callbacks_and_sees_the_secret_once(
    stack: Stack, operator: Web
) -> None:
    url = "http://127.0.0.1:9/dlr"  # the demo allows loopback receivers
    saved = await operator.post("/console/accounts/demo/callbacks", reports_url=url)
    section = saved.text.split('id="callbacks"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"<code>whsec_[^<]+</code>", section), section
    again = (await operator.client.get("/console/accounts/demo")).text
    assert "whsec_" not in again and f'value="{url}"' in again
    account = await admin.find_account(stack.running.platform, "demo")
    shown = await callbacks.show_callbacks(stack.running.platform, account.id)
    assert shown is not None and shown.reports_url == url
    bad = await operator.post("/console/accounts/demo/callbacks", reports_url="gopher://x")
    assert "error" in flash(bad)


@pytest.fixture
async def retrying_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The demo platform retrying a failed push after 50 ms (then 100, 200 ...)."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'push.db'}",
        port=0,
        push_allowed_networks=list(DEMO_PUSH_NETWORKS),
        push_first_retry_seconds=0.05,
        push_fill_seconds=0,
    )
    async with demo_stack(
        "127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, settings=settings
    ) as (facts, running, simulators):
        yield Stack(facts, running, simulators)


def deliveries(page: httpx.Response) -> list[list[str]]:
    """The rows of a page's push history: when, kind, URL, outcome, answer, items, ms, try."""
    table = page.text.split('id="push-history"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"push-\w+\">(.*?)</tr>", table, re.S)
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in rows]  # fmt: skip


async def test_push_outcomes_are_listed_for_the_customer_and_the_operator(
    retrying_stack: Stack,
) -> None:
    stack, platform = retrying_stack, retrying_stack.running.platform

    async def refuse(_: Received) -> int:
        return 503

    async with (
        receiver(refuse) as failing,
        receiver() as working,
        httpx.AsyncClient(base_url=stack.facts.url) as client,
    ):
        customer = Web(client)
        await customer.sign_in("/console/my/login", stack.facts.account, stack.facts.password)
        empty = await client.get("/console/my/callbacks")
        assert deliveries(empty) == [] and "Nothing pushed yet" in empty.text
        sent = await send_signed_in(platform, "demo", ["13800138000", "13900139000"],
                                    "【duanxin】您好")  # fmt: skip
        assert sent.entries is not None
        mids = [entry.mid for entry in sent.entries]
        await wait_until(lambda: reports_stored(platform, mids))  # then one batch holds both
        await customer.post("/console/my/callbacks", reports_url=failing.url)
        await wait_until(lambda: _async(len(failing.requests) >= 2))
        # The receiver is fixed: the batch's next try goes to the URL set now, and lands.
        await customer.post("/console/my/callbacks", reports_url=working.url)
        await wait_until(lambda: _async(bool(working.delivered())))
        await customer.post("/console/my/callbacks/test")
        page = await client.get("/console/my/callbacks")
        async with httpx.AsyncClient(base_url=stack.facts.url) as other:
            operator = Web(other)
            await console_auth.add_operator(platform, "olga", "olga-pass-1")
            await operator.sign_in("/console/login", "olga", "olga-pass-1")
            account_page = await other.get("/console/accounts/demo")
    rows = deliveries(page)
    # Newest first: the test callback, the delivery, then the failed tries (the same batch).
    test, delivered, *failed = rows
    assert test[1:] == ["Reports", working.url, "delivered", "200", "0", test[6], "test"]
    assert delivered[1:4] == ["Reports", working.url, "delivered"] and delivered[4] == "200"
    assert delivered[5] == "2" and int(delivered[7]) == len(failing.requests) + 1
    assert len(failed) == len(failing.requests)
    for number, row in enumerate(reversed(failed), start=1):
        assert row[1:6] == ["Reports", failing.url, "failed", "503", "2"] and row[7] == str(number)
    assert all(int(row[6]) >= 0 for row in rows)
    assert deliveries(account_page) == rows  # the operator reads the same history


async def _async(value: bool) -> bool:
    return value


async def reports_stored(platform: Platform, mids: list[str]) -> bool:
    async with platform.engine.connect() as conn:
        query = select(func.count()).select_from(reports).where(reports.c.mid.in_(mids))
        return int((await conn.execute(query)).scalar_one()) == len(mids)


async def test_operators_are_added_disabled_and_enabled_on_their_page(
    stack: Stack, operator: Web
) -> None:
    added = await operator.post("/console/operators", name="bob", password="bob-pass-12")
    assert flash(added) == "ok: Operator bob added."
    short = await operator.post("/console/operators", name="carl", password="short")
    assert "at least 8" in flash(short)
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        bob = Web(client)
        await bob.sign_in("/console/login", "bob", "bob-pass-12")
        assert (await client.get("/console/operators")).status_code == 200
        page = (await operator.client.get("/console/operators")).text
        # olga cannot disable herself: her row has no button; bob's has.
        assert "/console/operators/olga/disable" not in page
        disabled = await operator.post("/console/operators/bob/disable")
        assert flash(disabled) == "ok: bob disabled; sessions ended: 1."
        signed_out = await client.get("/console/operators")
        assert signed_out.status_code == 303 and "/console/login" in signed_out.headers["location"]
        form = await client.get("/console/login")
        token = CSRF.search(form.text)
        assert token is not None
        refused = await client.post(
            "/console/login",
            data={"csrf": token.group(1), "name": "bob", "password": "bob-pass-12"},
        )
        assert refused.status_code == 401
        row = (await operator.client.get("/console/operators")).text.split('data-name="bob"')[1]
        assert "disabled" in row.split("</tr>", 1)[0]
        enabled = await operator.post("/console/operators/bob/enable")
        assert flash(enabled) == "ok: bob enabled."
        await bob.sign_in("/console/login", "bob", "bob-pass-12")
    self_off = await operator.post("/console/operators/olga/disable")
    assert "cannot disable itself" in flash(self_off)


def bad_lines(page: httpx.Response) -> list[tuple[str, str, str]]:
    table = page.text.split('id="bad-lines"', 1)[1].split("</table>", 1)[0]
    return re.findall(
        r'<tr><td class="num">(\d+)</td><td><code>([^<]*)</code></td><td>([^<]*)</td></tr>',
        table,
    )


async def test_list_files_report_their_bad_lines_by_number(stack: Stack, operator: Web) -> None:
    platform = stack.running.platform
    export = "mobile,note\n13700000011,投诉\n\n1370000001,typo\n# comment\n+8613700000012\n"
    partial = await operator.post(
        "/console/lists/blacklist/import", files={"file": ("export.csv", export.encode())}
    )
    assert partial.status_code == 200
    assert "2 added, 0 already listed, 1 invalid." in partial.text
    assert "The good lines were imported; bad lines (not imported): 1" in partial.text
    assert bad_lines(partial) == [("4", "1370000001,typo", "not a mainland mobile number")]
    assert await lists.blacklist_contains(platform, ["13700000011", "13700000012"]) == {
        "13700000011",
        "13700000012",
    }
    # Opt-outs take a file too, for the account the page shows.
    optouts = await operator.post(
        "/console/lists/optouts/import",
        account="demo",
        back="/console/lists?account=demo",
        files={"file": ("o.txt", b"13800138011\n13800138012\n")},
    )
    assert flash(optouts) == "ok: 2 added, 0 already listed, 0 invalid."
    assert [r["mobile"] for r in await lists.optout_list(platform, "demo")] == [
        "13800138011",
        "13800138012",
    ]

    def listed(page: httpx.Response) -> list[str]:
        table = page.text.split('id="optout-list"', 1)[1].split("</table>", 1)[0]
        return re.findall(r"<tr><td>(\d{11})</td>", table)

    query = {"account": "demo", "optout_mobile": "+8613800138012"}
    assert listed(await operator.client.get("/console/lists", params=query)) == ["13800138012"]
    query["optout_mobile"] = "1380013801"  # the first digits
    assert len(listed(await operator.client.get("/console/lists", params=query))) == 2
    two = await operator.post(
        "/console/lists/optouts/import",
        account="demo",
        files={"file": ("o.txt", b"13800138013 13800138014\n13800138015;13800138016\n")},
    )
    assert [line for line, _, _ in bad_lines(two)] == ["1", "2"]
    assert "more than one number" in bad_lines(two)[1][2]
    assert 'id="import-optouts"' in two.text  # still on demo's opt-outs
    # A word file is all or nothing: one bad line and no word of it is listed.
    words = "赌博\tgambling\n* *\n" + "长" * 70 + "\tfraud\n"
    refused = await operator.post(
        "/console/lists/words/import", files={"file": ("w.tsv", words.encode())}
    )
    assert "The file has 2 bad lines, so none of it was imported" in refused.text
    assert [line for line, _, _ in bad_lines(refused)] == ["2", "3"]
    assert await lists.words_list(platform) == []
    sheet = await operator.post(
        "/console/lists/words/import",
        files={"file": ("w.csv", '赌博,gambling\n"刷单",fraud\n'.encode())},
    )
    assert flash(sheet) == "ok: 2 new words."
    assert {w["word"]: w["category"] for w in await lists.words_list(platform)} == {
        "赌博": "gambling",
        "刷单": "fraud",
    }
    audited = [r["action"] for r in await lists.audit_list(platform, 10, actor="olga")]
    assert {"blacklist.import", "optout.import", "words.import"} <= set(audited)
