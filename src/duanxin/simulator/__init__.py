"""Carrier simulators: a gateway for each protocol, speaking the real protocol over TCP."""
