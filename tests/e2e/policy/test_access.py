"""Access rules of SPEC 2.2 through HTTP: CIDR whitelists (IPv4, IPv6), trusted proxies,
and the concurrent-request limit (21)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from duanxin.bus.limits import Check, Hits, MemoryLimiter
from duanxin.service import admin
from tests.conftest import Stack, until
from tests.e2e.helpers import MOBILE, assert_list_failure, assert_send_ok, send_form


async def _whitelist(stack: Stack, entries: str) -> None:
    await admin.set_account(stack.running.platform, stack.facts.account, {"ip_whitelist": entries})


async def _send(stack: Stack, forwarded: str | None = None) -> dict[str, object]:
    headers = {"X-Forwarded-For": forwarded} if forwarded else None
    return await send_form(stack, {"mobile": MOBILE, "content": "通知"}, headers=headers)


async def test_ipv4_cidr_whitelist(stack: Stack) -> None:
    await _whitelist(stack, "10.0.0.0/8")
    data = await _send(stack)
    assert_list_failure(data, 2)
    assert "127.0.0.1" in str(data["msg"])
    await _whitelist(stack, "10.0.0.0/8, 127.0.0.0/30")
    assert_send_ok(await _send(stack))
    await _whitelist(stack, "127.0.0.1")  # a single address
    assert_send_ok(await _send(stack))


async def test_ipv6_through_a_trusted_proxy(stack: Stack) -> None:
    stack.running.platform.settings.trusted_proxies = ["127.0.0.1/32"]
    await _whitelist(stack, "192.0.2.0/24, 2001:db8:abcd::/48")
    assert_send_ok(await _send(stack, "2001:db8:abcd:12::7"))
    assert_list_failure(await _send(stack, "2001:db8:ffff::7"), 2)
    # Only the hops the trusted proxies added count: the client's own claim is ignored.
    assert_list_failure(await _send(stack, "2001:db8:abcd::1, 2001:db8:ffff::7"), 2)
    assert_send_ok(await _send(stack, "2001:db8:ffff::7, 2001:db8:abcd::1"))
    assert_send_ok(await _send(stack, "192.0.2.44"))


async def test_forwarded_for_is_ignored_from_untrusted_peers(stack: Stack) -> None:
    stack.running.platform.settings.trusted_proxies = ["10.9.9.9"]  # not our peer 127.0.0.1
    await _whitelist(stack, "2001:db8:abcd::/48")
    data = await _send(stack, "2001:db8:abcd::1")
    assert_list_failure(data, 2)
    assert "127.0.0.1" in str(data["msg"])
    stack.running.platform.settings.trusted_proxies = []
    assert_list_failure(await _send(stack, "2001:db8:abcd::1"), 2)


class _Gate(MemoryLimiter):
    """A limiter that holds every hit until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = 0
        self.gate = asyncio.Event()

    async def hit_many(self, batch: Sequence[Sequence[Check]], now: float) -> Hits:
        self.entered += 1
        await self.gate.wait()
        return await super().hit_many(batch, now)


async def test_concurrent_requests_over_the_limit_get_21(stack: Stack) -> None:
    platform = stack.running.platform
    await admin.set_account(platform, stack.facts.account, {"max_concurrency": 2})
    gate = _Gate()
    platform.limiter = gate  # sends in flight wait inside their slot, at the frequency check
    first = [asyncio.create_task(_send(stack)) for _ in range(2)]
    await until(lambda: gate.entered == 2)
    extra = await asyncio.gather(*(_send(stack) for _ in range(5)))
    for data in extra:
        assert_list_failure(data, 21)
    gate.gate.set()
    for data in await asyncio.gather(*first):
        assert_send_ok(data)
    assert_send_ok(await _send(stack))  # the slots are free again
