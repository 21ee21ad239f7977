"""Prometheus metrics, served at ``/metrics``: what an operator watches on a dashboard."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "CHANNEL_RATE",
    "CHANNEL_UP",
    "MESSAGES_ACCEPTED",
    "MESSAGES_REFUSED",
    "PUSHES",
    "PUSH_OLDEST_WAITING",
    "PUSH_RETRY_QUEUE",
    "REPLIES_RECEIVED",
    "REPORTS_RECEIVED",
    "SUBMITS",
    "SUBMITS_RETRIED",
    "SUBMITS_THROTTLED",
]

MESSAGES_ACCEPTED = Counter(
    "duanxin_messages_accepted", "Messages accepted by /smssend (one per number)"
)
MESSAGES_REFUSED = Counter(
    "duanxin_messages_refused", "Numbers refused at send time, by per-number result", ["result"]
)
SUBMITS = Counter(
    "duanxin_submits", "Messages handed to carrier channels, by outcome", ["channel", "outcome"]
)
REPORTS_RECEIVED = Counter(
    "duanxin_reports_received", "Status reports received from carriers", ["channel"]
)
REPLIES_RECEIVED = Counter("duanxin_replies_received", "Replies (MO) received from carriers")
CHANNEL_UP = Gauge("duanxin_channel_up", "1 when the channel is logged in", ["channel"])
SUBMITS_THROTTLED = Counter(
    "duanxin_submits_throttled",
    "Submits a carrier answered with its flow-control or busy result",
    ["channel"],
)
SUBMITS_RETRIED = Counter(
    "duanxin_submits_retried",
    "Messages sent again on a channel after a transient outcome (throttled, no answer, link lost)",
    ["channel"],
)
CHANNEL_RATE = Gauge(
    "duanxin_channel_rate",
    "Submits per second the channel may send now: its TPS, lowered while the carrier "
    "throttles (+Inf: no limit configured and no throttling seen)",
    ["channel"],
)
PUSHES = Counter(
    "duanxin_pushes",
    "Callback requests (batches of reports or replies), by kind and outcome: delivered, "
    "failed (to be retried), refused (address not allowed), gone (410: disabled), "
    "given_up (back to pull)",
    ["kind", "outcome"],
)
PUSH_RETRY_QUEUE = Gauge("duanxin_push_retry_queue", "Callback batches waiting for a retry")
PUSH_OLDEST_WAITING = Gauge(
    "duanxin_push_oldest_waiting_seconds",
    "Age of the oldest report or reply not yet handed out to an account with a callback",
)
