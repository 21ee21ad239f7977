"""Readiness: can this process do its work now? (Liveness is only "the process answers".)

Not ready, with a reason each, when the database does not answer, the bus does not answer,
or — in a process that runs delivery — a route of some account for a carrier has no
channel logged in. A load balancer or orchestrator sends traffic only to a ready process.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from sqlalchemy import text

from duanxin.bus import BusError
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store

__all__ = ["CHECK_TIMEOUT_SECONDS", "not_ready_reasons"]

CHECK_TIMEOUT_SECONDS = 2.0  # a dependency slower than this to answer counts as unreachable


async def not_ready_reasons(platform: Platform) -> list[str]:
    """Why the process is not ready; empty when it is."""
    reasons: list[str] = []
    routes: list[tuple[str, str, str]] | None = None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), platform.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))
            routes = await account_store.routed_channels(conn)
    except Exception as error:  # whatever the driver raises: the answer is "unreachable"
        reasons.append(f"database unreachable: {type(error).__name__}: {error}")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await platform.bus.ping()
    except (BusError, TimeoutError) as error:
        reasons.append(f"bus unreachable: {type(error).__name__}: {error}")
    states = platform.channel_states()
    if routes is not None and states:  # only a process that runs delivery holds channels
        reasons.extend(_carriers_without_channel(routes, states))
    return reasons


def _carriers_without_channel(
    routes: list[tuple[str, str, str]], states: dict[str, bool]
) -> list[str]:
    """One reason per carrier and channel list that some account routes to, all down
    (account names are not given away on an unauthenticated endpoint)."""
    by_route: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account, carrier, channel in routes:
        by_route[(account, carrier)].append(channel)
    down = {
        (carrier, tuple(names))
        for (_account, carrier), names in by_route.items()
        if not any(states.get(name, False) for name in names)
    }
    return [
        f"no channel up for carrier {carrier} ({', '.join(names)})"
        for carrier, names in sorted(down)
    ]
