"""Submit-side fault profiles on all four simulators, through the project's carrier clients."""

from __future__ import annotations

import asyncio

import pytest

from duanxin.protocols.core.aio import SessionClosed
from duanxin.simulator.registry import PROTOCOLS
from tests.simulator.conftest import LONG_TEXT, GatewayFactory, until

# The protocol codes each fault answers with (shared/protocols/*.md).
FLOW_CONTROL = {"cmpp": 8, "sgip": 11, "smgp": 1, "smpp": 0x58}
BUSY = {"cmpp": 8, "sgip": 11, "smgp": 1, "smpp": 0x14}
INVALID_DESTINATION = {"cmpp": 13, "sgip": 6, "smgp": 47, "smpp": 0x0B}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_throttle_answers_with_the_flow_control_code(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "throttle:1")
    await gw.connect()
    result = await gw.submit()
    (outcome,) = result.outcomes
    assert outcome.status == FLOW_CONTROL[protocol]
    assert outcome.retryable
    assert gw.behaviour.throttled == 1
    assert gw.behaviour.received == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_busy_answers_with_the_system_busy_code(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "busy:1")
    await gw.connect()
    (outcome,) = (await gw.submit()).outcomes
    assert outcome.status == BUSY[protocol]
    assert outcome.retryable
    assert gw.behaviour.busy == 1
    assert gw.behaviour.received == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refuse_answers_with_the_invalid_destination_code(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "refuse:1")
    await gw.connect()
    (outcome,) = (await gw.submit()).outcomes
    assert outcome.status == INVALID_DESTINATION[protocol]
    assert not outcome.retryable
    assert gw.behaviour.refused == 1
    assert gw.behaviour.received == []


async def test_refuse_with_a_code_uses_that_code(gateway: GatewayFactory) -> None:
    gw = await gateway("smpp", "refuse:1:0x45")  # ESME_RSUBMITFAIL
    await gw.connect()
    (outcome,) = (await gw.submit()).outcomes
    assert outcome.status == 0x45


async def test_a_share_throttled_is_reproducible_with_a_seed(gateway: GatewayFactory) -> None:
    runs = []
    for _ in range(2):
        gw = await gateway("cmpp", "throttle:0.3,refuse:0.2", seed=42)
        await gw.connect()
        statuses = [(await gw.submit()).outcomes[0].status for _ in range(40)]
        runs.append(statuses)
        assert gw.behaviour.throttled == statuses.count(8)
        assert gw.behaviour.refused == statuses.count(13)
        assert len(gw.behaviour.received) == statuses.count(0)
    assert runs[0] == runs[1]
    assert {0, 8, 13} == set(runs[0])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refuse_segment_refuses_that_segment_once(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "refuse-segment:2")
    await gw.connect()
    first = await gw.submit(LONG_TEXT, reference=9)
    assert [o.status for o in first.outcomes] == [0, FLOW_CONTROL[protocol], 0]
    assert first.outcomes[1].retryable
    again = await gw.submit(LONG_TEXT, reference=9)  # the same message resent
    assert again.accepted
    assert gw.behaviour.segments_refused == 1
    other = await gw.submit(LONG_TEXT, reference=10)  # another long message: refused again
    assert [o.status for o in other.outcomes] == [0, FLOW_CONTROL[protocol], 0]
    assert gw.behaviour.segments_refused == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_slow_answers_after_the_message_was_received(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "slow:0.3")
    await gw.connect()
    loop = asyncio.get_running_loop()
    started = loop.time()
    pending = asyncio.ensure_future(gw.submit())
    await until(lambda: len(gw.behaviour.received) == 1)
    assert not pending.done()  # received, not yet answered
    result = await pending
    assert result.accepted
    assert loop.time() - started >= 0.3


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_silent_never_answers_and_does_not_receive(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "silent:1")
    await gw.connect()
    pending = asyncio.ensure_future(gw.submit())
    await until(lambda: gw.behaviour.silenced == 1)
    await gw.settle()  # a response written before the marker would be in by now
    assert not pending.done()
    assert gw.behaviour.received == []
    pending.cancel()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_drop_every_drops_the_link_at_the_nth_submit(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "drop-every:3")
    client = await gw.connect()
    assert (await gw.submit("one")).accepted
    assert (await gw.submit("two")).accepted
    with pytest.raises(SessionClosed):
        await gw.submit("three")
    # The carrier had the third one: it was received, only its answer was lost.
    assert [m.text for m in gw.behaviour.received] == ["one", "two", "three"]
    assert gw.behaviour.dropped == 1
    await until(lambda: client.is_up)
    assert (await gw.submit("four")).accepted


async def test_drop_every_leaves_the_window_unanswered(gateway: GatewayFactory) -> None:
    gw = await gateway("smpp", "drop-every:4,slow:5")
    await gw.connect()
    pending = [asyncio.ensure_future(gw.submit(f"m{n}")) for n in range(4)]
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, SessionClosed) for r in results)
    # All four were received (and will be reported): only the answers were lost.
    assert sorted(m.text for m in gw.behaviour.received) == ["m0", "m1", "m2", "m3"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_drop_links_kills_every_link(gateway: GatewayFactory, protocol: str) -> None:
    gw = await gateway(protocol, "slow:5")
    client = await gw.connect()
    pending = asyncio.ensure_future(gw.submit())
    await until(lambda: len(gw.behaviour.received) == 1)
    gw.simulator.drop_links()
    with pytest.raises(SessionClosed):
        await pending
    await until(lambda: client.is_up)
