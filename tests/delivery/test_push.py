"""Push callbacks end to end: real receivers on loopback ports, the platform's own pushes.

Signatures are checked with ``standardwebhooks`` (the Standard Webhooks project's own
Python package), not with the platform's signer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from duanxin.config import Settings
from duanxin.demo import DEMO_PUSH_NETWORKS, demo_stack
from duanxin.metrics import PUSHES
from duanxin.runtime import running_platform
from duanxin.service import callbacks
from duanxin.store.tables import push_batches, reports
from tests.conftest import TEST_REPORT_DELAY, Stack, wait_until
from tests.delivery.receivers import Received, receiver
from tests.e2e.helpers import (
    add_account,
    answer,
    assert_report_shape,
    credentials,
    post,
    pull_reports,
    send_form,
)

CONTENT = "您的验证码是 1234"


def mobiles(count: int, start: int = 0) -> list[str]:
    return [f"13800{start + i:06d}" for i in range(count)]


async def send(
    stack: Stack, numbers: list[str], account: dict[str, str] | None = None
) -> list[str]:
    fields = {"mobile": ",".join(numbers), "content": CONTENT}
    if account is not None:
        fields.update(account)
    result = await send_form(stack, fields)
    assert result["status"] == "0", result
    return [item["mid"] for item in result["list"]]


async def reports_stored(stack: Stack, mids: list[str]) -> bool:
    async with stack.running.platform.engine.connect() as conn:
        query = select(func.count()).select_from(reports).where(reports.c.mid.in_(mids))
        return int((await conn.execute(query)).scalar_one()) == len(mids)


async def batches(stack: Stack) -> list[tuple[str, int]]:
    async with stack.running.platform.engine.connect() as conn:
        query = select(push_batches.c.webhook_id, push_batches.c.attempts)
        return [(w, a) for w, a in await conn.execute(query)]


async def set_reports_url(stack: Stack, url: str, account: dict[str, str] | None = None) -> str:
    """POST /customer/callbacks as the customer; the secret of the answer."""
    data = {**(account or credentials(stack)), "reports_url": url}
    result = answer(await post(stack, "/customer/callbacks", data=data))
    assert result["status"] == 0, result
    return str(result["secret"])


class FakeClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return (datetime.now() + self.offset).replace(microsecond=0)


@pytest.fixture
async def fast_retry_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The demo platform retrying failed pushes after 50 ms (then 100, 200 ...)."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'push.db'}",
        port=0,
        push_allowed_networks=list(DEMO_PUSH_NETWORKS),
        push_first_retry_seconds=0.05,
        push_timeout_seconds=0.5,
    )
    async with demo_stack(
        "127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, settings=settings
    ) as (facts, running, simulators):
        yield Stack(facts, running, simulators)


async def test_batches_of_100_signed_per_standard_webhooks(stack: Stack) -> None:
    mids = await send(stack, mobiles(150))
    await wait_until(lambda: reports_stored(stack, mids))
    async with receiver() as hook:
        secret = await set_reports_url(stack, hook.url)
        assert secret.startswith("whsec_")
        await wait_until(lambda: _async(len(hook.delivered_mids()) >= 150), timeout=20)
        sizes = [len(r.items) for r in hook.requests]
        assert sizes == [100, 50]
        for request in hook.requests:
            Webhook(secret).verify(request.body, request.headers)  # raises if not signed
            assert request.headers["content-type"] == "application/json"
            for item in request.items:
                assert_report_shape(item)
        assert sorted(hook.delivered_mids()) == sorted(mids)
        # Oldest first, as a pull lists them.
        assert hook.delivered_mids() == sorted(hook.delivered_mids(), key=mids.index)
        # Pushed items are not pulled.
        assert (await pull_reports(stack))["list"] == []
        assert len({r.webhook_id for r in hook.requests}) == 2


async def test_secret_is_shown_once_and_rotation_signs_with_both(stack: Stack) -> None:
    async with receiver() as hook:
        first = await set_reports_url(stack, hook.url)
        again = answer(
            await post(
                stack,
                "/customer/callbacks",
                data={**credentials(stack), "replies_url": hook.url + "/mo"},
            )
        )
        assert again["status"] == 0 and "secret" not in again
        assert again["reports_url"] == hook.url and again["replies_url"] == hook.url + "/mo"
        rotated = answer(
            await post(stack, "/customer/callbacks", data={**credentials(stack), "rotate": "1"})
        )
        second = rotated["secret"]
        assert second.startswith("whsec_") and second != first
        assert rotated["previous_secret_until"]
        mids = await send(stack, mobiles(1))
        await wait_until(lambda: _async(hook.delivered_mids() == mids))
        request = hook.requests[0]
        Webhook(first).verify(request.body, request.headers)
        Webhook(second).verify(request.body, request.headers)
        assert len(request.headers["webhook-signature"].split(" ")) == 2


async def test_receiver_failing_twice_gets_every_item_once_same_id(
    fast_retry_stack: Stack,
) -> None:
    stack = fast_retry_stack
    tries: Counter[str] = Counter()

    async def flaky(request: Received) -> int:
        tries[request.webhook_id] += 1
        return 500 if tries[request.webhook_id] <= 2 else 200

    mids = await send(stack, mobiles(5))
    await wait_until(lambda: reports_stored(stack, mids))
    async with receiver(flaky) as hook:
        await set_reports_url(stack, hook.url)
        await wait_until(lambda: _async(len(hook.delivered()) == 1))
        assert [r.status for r in hook.requests] == [500, 500, 200]
        assert len({r.webhook_id for r in hook.requests}) == 1
        assert len({r.body for r in hook.requests}) == 1
        assert sorted(hook.delivered_mids()) == sorted(mids)

        async def settled() -> bool:
            return await batches(stack) == []

        await wait_until(settled)
        assert (await pull_reports(stack))["list"] == []


async def test_no_answer_within_the_timeout_is_retried_with_the_same_id(
    fast_retry_stack: Stack,
) -> None:
    stack = fast_retry_stack
    release = asyncio.Event()
    seen: list[str] = []

    async def silent_once(request: Received) -> int:
        seen.append(request.webhook_id)
        if len(seen) == 1:
            await release.wait()  # answers only once the test is over
        return 200

    mids = await send(stack, mobiles(3))
    await wait_until(lambda: reports_stored(stack, mids))
    async with receiver(silent_once) as hook:
        await set_reports_url(stack, hook.url)
        await wait_until(lambda: _async(len(hook.delivered()) == 1))
        assert len(seen) == 2 and seen[0] == seen[1]
        assert sorted(hook.delivered_mids()) == sorted(mids)
        release.set()


async def test_receiver_down_past_the_retry_window_leaves_items_for_pull(stack: Stack) -> None:
    clock = FakeClock()
    stack.running.platform.clock = clock
    given_up = PUSHES.labels("reports", "given_up")._value.get()
    failed = PUSHES.labels("reports", "failed")._value.get()

    async def down(_: Received) -> int:
        return 503

    mids = await send(stack, mobiles(3))
    await wait_until(lambda: reports_stored(stack, mids))
    async with receiver(down) as hook:
        await set_reports_url(stack, hook.url)

        for tries, hours in enumerate((1, 3, 8, 16), 1):  # the back-off's retries
            # Once the try has been answered and recorded, move the clock past its back-off.
            await wait_until(lambda n=tries: _attempts(stack, n))  # type: ignore[misc]
            if tries == 1:
                assert (await pull_reports(stack))["list"] == []  # held by the batch meanwhile
            clock.offset = timedelta(hours=hours)
            assert stack.running.push is not None
            stack.running.push.wake()
        await wait_until(lambda: _attempts(stack, 5))
        clock.offset = timedelta(hours=25)  # past the retry window: the last try, then pull

        async def gone() -> bool:
            return await batches(stack) == []

        await wait_until(gone)
        assert len({r.webhook_id for r in hook.requests}) == 1
        assert PUSHES.labels("reports", "given_up")._value.get() == given_up + 1
        # each request counted once: the retried ones as failed, the last as given up
        retried = PUSHES.labels("reports", "failed")._value.get() - failed
        assert retried + 1 == len(hook.requests) == 6
    pulled = (await pull_reports(stack))["list"]
    assert sorted(item["mid"] for item in pulled) == sorted(mids)


async def test_restart_in_the_middle_of_retries_loses_nothing(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'push.db'}",
        port=0,
        push_allowed_networks=list(DEMO_PUSH_NETWORKS),
        push_first_retry_seconds=0.05,
    )
    up = asyncio.Event()

    async def down_then_up(_: Received) -> int:
        return 200 if up.is_set() else 500

    async with receiver(down_then_up) as hook:
        async with demo_stack(
            "127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, settings=settings
        ) as (facts, running, simulators):
            stack = Stack(facts, running, simulators)
            mids = await send(stack, mobiles(120))
            await wait_until(lambda: reports_stored(stack, mids))
            await set_reports_url(stack, hook.url)

            async def retrying() -> bool:
                found = await batches(stack)
                return len(found) == 2 and all(a >= 2 for _, a in found)

            await wait_until(retrying)
            before = {w for w, _ in await batches(stack)}
        assert hook.delivered() == []
        up.set()
        async with running_platform(settings):
            await wait_until(lambda: _async(len(hook.delivered_mids()) >= 120))
        assert sorted(hook.delivered_mids()) == sorted(mids)
        assert {r.webhook_id for r in hook.delivered()} == before


async def test_url_resolving_to_loopback_is_refused_unless_allowed(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'push.db'}", port=0)
    async with (
        receiver() as hook,
        demo_stack("127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, settings=settings) as (
            facts,
            running,
            simulators,
        ),
    ):
        stack = Stack(facts, running, simulators)
        for url in (hook.url.replace("127.0.0.1", "localhost"), hook.url, "http://[::1]:9/x"):
            data = {**credentials(stack), "reports_url": url}
            refused = answer(await post(stack, "/customer/callbacks", data=data))
            assert refused["status"] == 1, refused
            assert "not an address callbacks may use" in refused["msg"]
        for url in ("ftp://example.com/x", "http:///nohost", "javascript:alert(1)"):
            data = {**credentials(stack), "reports_url": url}
            assert answer(await post(stack, "/customer/callbacks", data=data))["status"] == 1
        # Allowed when registered, refused when connecting: checked on every connection.
        platform = running.platform
        platform.settings.push_allowed_networks = ["127.0.0.0/8"]
        await set_reports_url(stack, hook.url.replace("127.0.0.1", "localhost"))
        platform.settings.push_allowed_networks = []
        refused_before = PUSHES.labels("reports", "refused")._value.get()
        mids = await send(stack, mobiles(2))
        await wait_until(lambda: reports_stored(stack, mids))

        async def refused_once() -> bool:
            return PUSHES.labels("reports", "refused")._value.get() > refused_before

        await wait_until(refused_once)
        assert hook.requests == []


async def test_slow_receiver_does_not_delay_other_accounts_or_delivery(stack: Stack) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def stuck(_: Received) -> int:
        entered.set()
        await release.wait()
        return 200

    other = await add_account(stack, "pushb")
    async with receiver(stuck) as slow, receiver() as fast:
        await set_reports_url(stack, slow.url)
        await set_reports_url(stack, fast.url, other)
        first = await send(stack, mobiles(1))
        await asyncio.wait_for(entered.wait(), 10)
        # While the demo account's receiver hangs: the other account's pushes, and
        # delivery itself, go on.
        later = await send(stack, mobiles(4, 100))
        theirs = await send(stack, mobiles(3, 200), other)
        await wait_until(lambda: _async(sorted(fast.delivered_mids()) == sorted(theirs)))
        await wait_until(lambda: reports_stored(stack, later))
        assert not release.is_set() and slow.requests == []
        release.set()  # (a try the platform gave up on after 5 s comes again: at least once)
        await wait_until(lambda: _async(set(slow.delivered_mids()) == set(first + later)))


async def test_gone_disables_the_callback_and_gives_items_back(stack: Stack) -> None:
    async def gone(_: Received) -> int:
        return 410

    async with receiver(gone) as hook:
        await set_reports_url(stack, hook.url)
        mids = await send(stack, mobiles(2))
        await wait_until(lambda: _async(len(hook.requests) == 1))

        async def settled() -> bool:
            return await batches(stack) == []

        await wait_until(settled)
        shown = await callbacks.show_callbacks(stack.running.platform, 1)
        assert shown is not None and shown.reports_disabled
        await wait_until(lambda: reports_stored(stack, mids))
        pulled = (await pull_reports(stack))["list"]
        assert sorted(i["mid"] for i in pulled) == sorted(mids)
        assert len(hook.requests) == 1


async def _attempts(stack: Stack, count: int) -> bool:
    return [a for _, a in await batches(stack)] == [count]


async def _async(value: bool) -> bool:
    return value
