"""A channel's token gate: senders waiting for its rate are served in turn, one timer."""

from __future__ import annotations

import asyncio

from duanxin.delivery.channels import Channel, RetryPolicy
from duanxin.domain.reports import LongReport
from duanxin.domain.throttle import AdaptiveRate


def channel(rate: float) -> Channel:
    now = asyncio.get_running_loop().time()
    gate = AdaptiveRate(rate, now)
    while gate.take(now):  # start with the burst spent
        pass
    return Channel(1, "c", "cmpp", "1069", LongReport.ALL, [], rate=gate)


async def test_waiters_get_tokens_first_come_first_served() -> None:
    gated = channel(200)
    served: list[int] = []

    async def sender(number: int) -> None:
        assert await gated.wait_token()
        served.append(number)

    await asyncio.gather(*(sender(n) for n in range(5)))
    assert served == [0, 1, 2, 3, 4]


async def test_a_waiter_gives_up_after_its_timeout_and_leaves_the_queue() -> None:
    gated = channel(0.2)  # the next token in five seconds
    assert not await gated.wait_token(0.05)
    assert gated.expected_wait(asyncio.get_running_loop().time()) <= 5.0


def test_retry_policy_reads_the_channel_settings() -> None:
    policy = RetryPolicy.from_settings({"retry_attempts": 3, "retry_window": 1.5})
    assert (policy.attempts, policy.window, policy.backoff) == (3, 1.5, RetryPolicy().backoff)
    assert RetryPolicy.from_settings(None) == RetryPolicy()
    assert RetryPolicy.from_settings({"retry_attempts": 0}).attempts == 1
