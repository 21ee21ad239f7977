"""A channel's adaptive send rate and the retry back-off, driven with a fake clock."""

from __future__ import annotations

import math

from duanxin.domain.throttle import AdaptiveRate, retry_delay


def sends(rate: AdaptiveRate, start: float, seconds: float, step: float = 0.001) -> int:
    """How many tokens a sender that asks every ``step`` seconds gets."""
    taken, now = 0, start
    while now < start + seconds:
        taken += rate.take(now)
        now += step
    return taken


def test_never_above_the_configured_tps() -> None:
    rate = AdaptiveRate(100, 0.0)
    sends(rate, 0.0, 1.0)  # the first second's burst
    assert sends(rate, 1.0, 2.0) <= 201
    for second in range(3, 30):  # accepting all the time does not lift it past 100
        rate.accepted(float(second))
    assert rate.rate == 100


def test_a_workers_share_of_the_ceiling_follows_its_connections() -> None:
    rate = AdaptiveRate(100, 0.0)
    rate.set_ceiling(50)  # one of the channel's two connections
    sends(rate, 0.0, 1.0)
    assert sends(rate, 1.0, 2.0) <= 101
    rate.set_ceiling(100)  # it took over the other one
    assert rate.rate == 100
    throttled = AdaptiveRate(100, 0.0)
    throttled.throttled(0.0, 0.5)
    assert throttled.rate == 70  # cut by 30 %
    throttled.set_ceiling(200)
    assert throttled.rate == 70  # a carrier's cut stays when the share grows
    throttled.set_ceiling(50)
    assert throttled.rate == 50  # and comes down to a smaller share


def test_a_throttle_cuts_to_what_the_carrier_accepted_and_spends_the_burst() -> None:
    rate = AdaptiveRate(2000, 0.0)
    for i in range(300):
        rate.accepted(i / 1000)
    assert rate.throttled(0.29, 0.3)
    assert rate.rate is not None and 0.9 * 300 <= rate.rate < 300  # a little below it
    assert not rate.take(0.3)  # the burst left over from 2,000 TPS is gone
    assert rate.wait_time(0.3) > 0


def test_throttles_while_the_carrier_keeps_accepting_do_not_sink_the_rate() -> None:
    rate = AdaptiveRate(2000, 0.0)
    now = 0.0

    def carrier_accepts(seconds: float) -> None:
        nonlocal now
        for _ in range(round(seconds * 300)):
            now += 1 / 300
            rate.accepted(now)

    carrier_accepts(2.0)  # it takes 300/s, and throttles what goes above its allowance
    for _ in range(10):
        assert rate.throttled(now, now)
        carrier_accepts(0.5)
    assert rate.rate is not None and 0.9 * 300 <= rate.rate < 300


def test_throttled_answers_to_submits_sent_before_a_cut_count_once() -> None:
    rate = AdaptiveRate(100, 0.0)
    assert rate.throttled(0.0, 0.01)
    first = rate.rate
    assert not rate.throttled(0.005, 0.011)  # from the same window of submits
    assert rate.rate == first
    assert rate.throttled(0.02, 0.03)  # sent after the cut: the carrier wants less still
    assert rate.rate is not None and first is not None and rate.rate < first


def test_the_rate_climbs_back_to_the_ceiling_while_the_carrier_accepts() -> None:
    rate = AdaptiveRate(100, 0.0, hold=5.0)
    rate.throttled(0.0, 0.0)
    cut = rate.rate
    assert cut is not None and cut <= 70
    rate.accepted(4.9)
    assert rate.rate == cut  # held at the measured rate for a while
    now, previous = 4.9, cut
    while rate.rate != 100:
        now += 0.1
        rate.accepted(now)
        assert rate.rate is not None and rate.rate >= previous
        previous = rate.rate
        assert now < 60, "never climbed back"
    assert rate.rate == 100


def test_repeated_throttling_settles_near_the_carriers_rate_and_stays_above_the_floor() -> None:
    rate = AdaptiveRate(1000, 0.0, floor=0.2)
    for step in range(50):
        rate.throttled(step, step + 0.5)  # nothing accepted at all
    assert rate.rate == 0.2
    assert rate.take(100.0)  # still sends now and then, to see when the carrier is back


def test_an_unlimited_channel_is_limited_by_throttling_and_unlimited_again_later() -> None:
    rate = AdaptiveRate(None, 0.0)
    assert rate.rate is None and rate.take(0.0) and rate.wait_time(0.0) == 0.0
    for i in range(50):
        rate.accepted(i / 100)
    rate.throttled(0.5, 0.5)
    assert rate.rate is not None and rate.rate <= 50
    now = 0.5
    while rate.rate is not None:
        now += 0.1
        rate.accepted(now)
        assert now < 60
    assert rate.take(now)


def test_an_unlimited_channel_throttled_at_its_first_submits_keeps_a_useful_rate() -> None:
    rate = AdaptiveRate(None, 0.0)
    for _ in range(6):
        assert rate.take(0.0)
    assert rate.throttled(0.0, 0.01)  # nothing accepted yet: start from what was sent
    assert rate.rate is not None and 6 * 0.5 <= rate.rate < 6


def test_retry_delay_doubles_up_to_its_cap() -> None:
    assert [retry_delay(n, 0.1, 1.0) for n in range(6)] == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert retry_delay(100, 0.1, 5.0) == 5.0
    assert not math.isinf(retry_delay(2000, 0.1, 5.0))


def test_a_lost_link_or_a_timeout_lowers_a_limit_but_sets_none() -> None:
    limited, unlimited = AdaptiveRate(100, 0.0), AdaptiveRate(None, 0.0)
    assert limited.throttled(0.0, 1.0, explicit=False)
    assert limited.rate is not None and limited.rate < 100
    assert not unlimited.throttled(0.0, 1.0, explicit=False)
    assert unlimited.rate is None
