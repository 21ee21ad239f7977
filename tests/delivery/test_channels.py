"""A channel's token gate: senders waiting for its rate are served in turn, one timer."""

from __future__ import annotations

import asyncio

from duanxin.delivery.channels import Channel, RetryPolicy, cancel_until_done
from duanxin.domain.reports import LongReport
from duanxin.domain.throttle import AdaptiveRate
from tests.conftest import until


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


async def test_a_reconnect_loop_that_swallowed_its_cancellation_is_still_stopped() -> None:
    """A carrier client's reconnect loop waits for its login answer with ``wait_for``; on
    Python 3.11 a cancellation that arrives with the answer is swallowed and the loop goes
    on (to wait for the link to close, for ever). Stopping the channels still ends it."""
    answers: list[asyncio.Future[str]] = []

    async def reconnect_loop() -> None:
        while True:
            answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            answers.append(answer)
            await asyncio.wait_for(answer, 30)  # the login
            await asyncio.get_running_loop().create_future()  # until the link closes

    loop_task = asyncio.ensure_future(reconnect_loop())
    await until(lambda: bool(answers))
    answers[0].set_result("logged in")
    loop_task.cancel()  # at the moment the answer came
    await asyncio.wait_for(cancel_until_done(loop_task), 10)
    assert loop_task.done()
