"""``duanxin serve --workers N``: N processes of one role on one machine.

The parent starts N copies of ``duanxin serve`` (same settings, passed in the environment),
each its own event loop, node id and delivery worker. API processes share the HTTP port
through ``SO_REUSEPORT`` (the kernel spreads new connections over them); with
``metrics_listen`` ``host:P``, process *i* answers ``/metrics`` on ``host:P+i``. SIGTERM or
SIGINT to the parent is passed on to every child (each drains as a single process does);
a child that exits on its own stops the others, and the parent exits with its status.
On Linux a child also gets SIGTERM when the parent dies (killed itself), so none is left
running unsupervised.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable, Mapping

from duanxin.config import Settings, split_host_port
from duanxin.runtime import STOP_SIGNALS

__all__ = ["child_environments", "die_with_parent", "run_processes", "worker_count"]


def worker_count(text: str) -> int:
    """``auto`` (one per core) or a whole number of processes, at least 1."""
    if text == "auto":
        return max(1, os.cpu_count() or 1)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--workers must be a number of processes or auto, not {text!r}")
    return int(text)


def child_environments(
    settings: Settings, count: int, base: Mapping[str, str]
) -> list[dict[str, str]]:
    """The environment of each child: ``base`` with the settings as ``DUANXIN_*``."""
    shared = dict(base)
    for name in ("database_url", "bus_url", "redis_prefix", "host", "port", "role"):
        shared[f"DUANXIN_{name.upper()}"] = str(getattr(settings, name))
    shared["DUANXIN_REUSE_PORT"] = "1"
    if settings.node_id is not None:
        raise ValueError("--workers gives each process its own node id: unset DUANXIN_NODE_ID")
    out = []
    for index in range(count):
        env = dict(shared)
        if settings.metrics_listen:
            host, port = split_host_port(settings.metrics_listen)
            env["DUANXIN_METRICS_LISTEN"] = f"{host}:{port + index}"
        out.append(env)
    return out


PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook that has the child sent SIGTERM when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def hook() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


async def run_processes(environments: list[dict[str, str]]) -> int:
    """Run one ``duanxin serve`` per environment until a stop signal or a child's exit."""
    hook = die_with_parent()
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "duanxin.cli", "serve", env=env, preexec_fn=hook
        )
        for env in environments
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, stop.set)
    waits = [asyncio.ensure_future(child.wait()) for child in children]
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([*waits, stopping], return_when=asyncio.FIRST_COMPLETED)
    for child in children:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
    codes = await asyncio.gather(*waits)
    for number in STOP_SIGNALS:
        loop.remove_signal_handler(number)
    if stopping in done:
        return max((abs(c) for c in codes), default=0)
    first = next(c for w, c in zip(waits, codes, strict=True) if w in done)
    return first if first else 1
