"""Benchmarks (not tests): ``duanxin bench protocols`` and ``duanxin bench http``.

- :mod:`.protocols`  PDU encodes/decodes per second per protocol, and submits per second
                     over loopback from a carrier client to a simulator
- :mod:`.http`       the HTTP API: single-number sends, 500-number sends, end to end
- :mod:`.rawhttp`    the lean HTTP/1.1 load generator of the send phases (not a client)

Each module keeps the measuring functions (plain coroutines returning dataclasses, used
by the smoke test) apart from the Rich reporting the CLI calls.
"""

from __future__ import annotations

import asyncio
import platform
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["event_loop_name", "machine_summary", "run"]

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on uvloop when it is installed, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def event_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop :func:`run` uses."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_summary() -> str:
    """One line: CPU model and count, architecture, Python version, event loop."""
    import os

    return (
        f"{_cpu_model()} x{os.cpu_count()}, {platform.machine()}, "
        f"Python {sys.version.split()[0]}, {event_loop_name()}"
    )
