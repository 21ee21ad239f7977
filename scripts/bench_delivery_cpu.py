"""CPU per message of each platform process, one process against delivery in its own
(a benchmark, not a test; BENCHMARKS.md, "Delivery in its own process").

    PYTHONPATH=src python scripts/bench_delivery_cpu.py --rounds 2

Each round starts the benchmark platform (``python -m duanxin.bench.server``) without and
then with ``--delivery-process``, runs 10 s of one-number sends (32 workers, the raw
client), and reads each process's CPU time from ``/proc`` before, right after the phase,
and 5 s later (what one process delivers after the phase, from its backlog, counts too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from duanxin.bench.http import _children, single_sends
from duanxin.bench.server import DELIVERY_FLAG, NO_DELIVERY_FLAG, Target

SECONDS, WORKERS, TAIL = 10.0, 32, 5.0


def cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(flag: str) -> str:
    with tempfile.TemporaryDirectory(prefix="duanxin-cpu-") as tmp:
        facts = Path(tmp) / "demo.json"
        server = subprocess.Popen(
            [sys.executable, "-m", "duanxin.bench.server", flag, tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not facts.exists() or not facts.read_text():
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # channels logged in
            pids = [server.pid, *_children(server.pid)]
            before = [cpu(p) for p in pids]
            figures = await single_sends(Target.from_demo_json(facts, flag), SECONDS, WORKERS)
            after = [cpu(p) for p in pids]
            await asyncio.sleep(TAIL)
            tail = [cpu(p) for p in pids]
        finally:
            server.terminate()
            server.wait()
    n = max(figures.requests, 1)
    per = [
        f"{(a - b) / n * 1000:.2f}/{(t - b) / n * 1000:.2f}"
        for b, a, t in zip(before, after, tail, strict=True)
    ]
    return (
        f"{flag}: {figures.requests / SECONDS:.0f} req/s; ms per request, in the phase/with "
        f"the tail, per process (parent first): {', '.join(per)}; load {os.getloadavg()[0]:.1f}"
    )


async def main(rounds: int) -> None:
    for _ in range(rounds):
        for flag in (NO_DELIVERY_FLAG, DELIVERY_FLAG):
            print(await measure(flag), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    asyncio.run(main(parser.parse_args().rounds))
