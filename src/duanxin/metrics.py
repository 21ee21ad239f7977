"""Prometheus metrics, served at ``/metrics``: what an operator watches on a dashboard."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "CHANNEL_UP",
    "MESSAGES_ACCEPTED",
    "MESSAGES_REFUSED",
    "REPLIES_RECEIVED",
    "REPORTS_RECEIVED",
    "SUBMITS",
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
