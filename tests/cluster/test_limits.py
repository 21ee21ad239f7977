"""Cluster-wide limits: two API processes (separate ``duanxin serve`` subprocesses on one
PostgreSQL and one Redis) behave as one platform, with 500-number requests.

* The account's TPS is one bucket for both processes (not one per process).
* The account's concurrency limit (status 21) counts the requests in flight in both.
* A request refused for balance in one process records no frequency hits: the same numbers
  are accepted through the other process at once.

A channel's TPS shared by the workers (one bucket, whichever worker holds the work) is
tested on channels of this process sharing the real Redis, and across worker processes in
``test_processes.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from duanxin.bus.limits import RedisBuckets
from duanxin.client import AsyncClient, SendResult
from duanxin.delivery.channels import Channel
from duanxin.domain.billing import ChargeType
from duanxin.domain.reports import LongReport
from duanxin.domain.throttle import AdaptiveRate
from duanxin.store.engine import create_engine
from duanxin.store.tables import accounts
from tests.cluster.cluster import Cluster, drop_keys, local_cluster
from tests.conftest import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]

VERIFY = "您的验证码是1234"  # verification codes: once a minute per number
NUMBERS = [f"1380{i:07d}" for i in range(500)]


async def set_account(cluster: Cluster, **values: object) -> None:
    """Change the demo account in the store (before the processes start: they cache it)."""
    engine = create_engine(cluster.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(accounts).where(accounts.c.account == cluster.account).values(**values)
            )
    finally:
        await engine.dispose()


async def clients_of(cluster: Cluster, per_process: int) -> list[AsyncClient]:
    """``per_process`` clients (connections) to each of two API processes, alternating."""
    apis = [await cluster.serve("api"), await cluster.serve("api")]
    return [cluster.client(apis[i % 2]) for i in range(2 * per_process)]


async def close_all(clients: list[AsyncClient]) -> None:
    for client in clients:
        await client.aclose()


async def test_account_tps_is_one_bucket_for_both_api_processes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Eight connections keep sending the same 500 numbers through two processes for a few
    seconds. Past the account's TPS a request is answered 21; within it, the first request
    is accepted and the rest find every number at its frequency limit (status 5), which
    costs nothing. Requests let through: at most the TPS over the time, plus one burst."""
    tps, seconds = 2, 3.0
    async with local_cluster(postgres_url, redis_url, tmp_path) as cluster:
        await set_account(cluster, tps=tps)
        clients = await clients_of(cluster, 4)
        statuses: Counter[int] = Counter()
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + seconds

        async def keep_sending(client: AsyncClient) -> None:
            while loop.time() < deadline:
                statuses[(await client.send(NUMBERS, VERIFY)).status] += 1

        try:
            await asyncio.gather(*(keep_sending(c) for c in clients))
        finally:
            await close_all(clients)
        elapsed = loop.time() - started
    assert statuses[0] == 1, statuses  # one accepted; every later one at the numbers' limit
    assert set(statuses) <= {0, 5, 21}, statuses
    let_through = statuses[0] + statuses[5]
    # One bucket: TPS x elapsed + the burst (+1 for the second the test's clock and Redis's
    # disagree on). A bucket per process lets twice that through.
    assert let_through <= tps * elapsed + tps + 1, (statuses, elapsed)
    assert statuses[21] > let_through, statuses  # the connections sent well over it


async def test_account_concurrency_counts_requests_in_flight_in_both_processes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The test holds the account's row locked, so the requests that got a slot wait at their
    charge, in flight: with a limit of 2, of six 500-number requests through two processes
    exactly four are answered 21 while two wait; released, those two are accepted."""
    limit = 2
    async with local_cluster(postgres_url, redis_url, tmp_path) as cluster:
        await set_account(cluster, max_concurrency=limit)
        clients = await clients_of(cluster, 3)
        engine = create_engine(cluster.database_url)
        try:
            async with engine.connect() as lock:
                transaction = await lock.begin()
                await lock.execute(
                    select(accounts.c.id)
                    .where(accounts.c.account == cluster.account)
                    .with_for_update()
                )
                sends = [
                    asyncio.ensure_future(c.send([*NUMBERS[:499], f"1390000{i:04d}"], VERIFY))
                    for i, c in enumerate(clients)
                ]

                async def refused_but_two() -> bool:
                    return sum(s.done() for s in sends) >= len(sends) - limit

                await wait_until(refused_but_two, 30)
                answered: list[SendResult] = [s.result() for s in sends if s.done()]
                assert [r.status for r in answered] == [21] * (len(sends) - limit), answered
                await transaction.commit()  # the two in flight go on
            results = await asyncio.gather(*sends)
        finally:
            await engine.dispose()
            await close_all(clients)
    assert sorted(r.status for r in results) == [0] * limit + [21] * (len(sends) - limit)
    accepted = [r for r in results if r.status == 0]
    # Each in-flight request got its own number and the 499 shared ones went to the first.
    assert sum(1 for r in accepted for i in r.items if i.result == 0) == 499 + limit


async def test_a_request_refused_for_balance_records_no_frequency_hits(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with local_cluster(postgres_url, redis_url, tmp_path) as cluster:
        await set_account(cluster, charge_type=ChargeType.PRECHARGE.value, balance=100)
        first, second = await clients_of(cluster, 1)
        try:
            refused = await first.send(NUMBERS, VERIFY)
            assert refused.status == 5 and "balance" in refused.msg, refused
            await set_account(cluster, balance=10_000)  # charged in SQL: no cache to wait for
            accepted = await second.send(NUMBERS, VERIFY)
            again = await first.send(NUMBERS, VERIFY)
        finally:
            await close_all([first, second])
    # The refused request counted none of its 500 numbers: all are accepted a moment later
    # through the other process, and then (counted now) refused by both.
    assert accepted.status == 0 and [i.result for i in accepted.items] == [0] * 500, accepted
    assert again.status == 5 and "balance" not in again.msg, again


# ---------------------------------------------------------------- a channel's TPS


@pytest.fixture
async def buckets(redis_url: str) -> AsyncIterator[list[RedisBuckets]]:
    """Two workers' handles on one Redis (a test key prefix each run)."""
    prefix = f"duanxin-test:{uuid.uuid4().hex}:"
    made = [RedisBuckets(redis_url, prefix=prefix), RedisBuckets(redis_url, prefix=prefix)]
    try:
        yield made
    finally:
        for handle in made:
            await handle.close()
        await drop_keys(redis_url, prefix)


def worker_channel(shared: RedisBuckets, tps: int, share: float, channel_id: int = 1) -> Channel:
    """A channel as one worker sees it: ``share`` of its connections held here."""
    loop = asyncio.get_running_loop()
    rate = AdaptiveRate(tps, loop.time())
    channel = Channel(channel_id, "cmpp", "cmpp", "1069", LongReport.FIRST, [], rate)
    channel.tps, channel.shared = tps, shared
    channel.set_share(share)
    return channel


async def tokens_over(channel: Channel, seconds: float, senders: int = 16) -> int:
    """Tokens ``channel`` hands out in ``seconds`` to ``senders`` waiting all the time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    got = 0

    async def send() -> None:
        nonlocal got
        while (left := deadline - loop.time()) > 0:
            taken = await channel.wait_token(left)
            got += taken

    await asyncio.gather(*(send() for _ in range(senders)))
    return got


async def test_a_channel_tps_is_one_bucket_whichever_worker_has_the_work(
    buckets: list[RedisBuckets],
) -> None:
    """A worker holding one of a channel's three connections sends at the channel's whole
    TPS when it alone has messages (a fixed share would hold it to a third), and two busy
    workers together keep to the TPS."""
    tps, seconds = 150, 2.0
    alone = worker_channel(buckets[0], tps, share=1 / 3)
    got = await tokens_over(alone, seconds)
    assert got >= tps * seconds * 0.6, got  # the burst and about the whole TPS
    assert got <= tps * seconds + tps + 1, got
    # Channel 2: one connection on the first worker, two on the second, both busy.
    first = worker_channel(buckets[0], tps, 1 / 3, channel_id=2)
    second = worker_channel(buckets[1], tps, 2 / 3, channel_id=2)
    together = await asyncio.gather(tokens_over(first, seconds), tokens_over(second, seconds))
    assert sum(together) <= tps * seconds + tps + 1, together  # one bucket for both
    assert min(together) > 0, together


async def test_a_worker_keeps_to_its_share_while_redis_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from duanxin.delivery import channels
    from duanxin.runtime import free_port

    # Alone for longer than the test runs, so the next ask of the bucket (and the ceiling
    # it restores) does not come before the assertions on a slow machine.
    monkeypatch.setattr(channels, "ALONE_SECONDS", 60.0)
    dead = RedisBuckets(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        channel = worker_channel(dead, 100, share=1 / 2)
        got = await tokens_over(channel, 1.0)
        assert channel.rate.ceiling == 50  # half the connections: half the TPS, alone
        assert 0 < got <= 50 + 50 + 1, got  # a second at 50/s, after its burst
    finally:
        await dead.close()


async def test_account_tps_bucket_is_shared_and_refills(buckets: list[RedisBuckets]) -> None:
    first, second = buckets
    grants = [await (first, second)[i % 2].take("tps:account:9", 0.001, 3) for i in range(6)]
    assert [g.granted for g in grants] == [1, 1, 1, 0, 0, 0]  # three saved, for both
    assert grants[-1].wait > 900  # about a thousand seconds to the next at 0.001/s
    many = await first.take("tps:account:10", 1000, 50, want=80)
    assert many.granted == 50  # at most the capacity at once
    with pytest.raises(ValueError, match="invalid"):
        await first.take("tps:account:11", 0, 1)


async def test_a_worker_throttled_by_its_carrier_sends_below_the_shared_tps(
    buckets: list[RedisBuckets],
) -> None:
    """The shared bucket caps the workers together; the carrier's flow control still lowers
    each worker's own rate: after a throttle, about what its carrier accepted lately."""
    channel = worker_channel(buckets[0], 200, share=1 / 2, channel_id=3)
    loop = asyncio.get_running_loop()
    now = loop.time()
    for _ in range(20):  # the carrier took 20 submits in the last second ...
        channel.rate.accepted(now)
    assert channel.rate.throttled(now, now)  # ... then pushed back
    cut = channel.rate.rate
    assert cut is not None and cut < 25, cut
    got = await tokens_over(channel, 1.0)
    assert got <= cut * 1.0 + 3, (got, cut)  # its own rate, not the bucket's 200/s
    assert got > 0
