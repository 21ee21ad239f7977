"""The platform a benchmark measures, and where it runs (its ``arrangement``).

* ``process``: ``python -m duanxin.bench.server DATA_DIR`` in a child process (the demo
  stack on a fresh SQLite file, simulators answering reports after 50 ms), the load
  generator in the calling process: on two cores each gets one;
* ``inprocess``: the same demo stack on the caller's event loop, sharing its core;
* ``url``: an already running platform (``duanxin demo``), keys from its ``demo.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from duanxin.client import AsyncClient

__all__ = ["ARRANGEMENTS", "REPORT_DELAY", "Target", "platform_for"]

ARRANGEMENTS = ("process", "inprocess")
REPORT_DELAY = 0.05
START_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Target:
    """Where the platform answers, the demo customer's keys, and how it was arranged."""

    url: str
    secret_id: str
    secret_key: str
    account: str
    password: str
    arrangement: str
    server_pid: int | None = None  # for CPU accounting, when we started the server

    @classmethod
    def from_demo_json(cls, path: Path, arrangement: str, url: str | None = None) -> Target:
        facts = json.loads(path.read_text())
        return cls(
            url or facts["url"], facts["secret_id"], facts["secret_key"],
            facts["account"], facts["password"], arrangement,
        )  # fmt: skip

    def client(self, timeout: float = 60.0) -> AsyncClient:
        return AsyncClient(
            self.url, self.secret_id, self.secret_key, self.account, self.password,
            timeout=timeout,
        )  # fmt: skip


@contextlib.asynccontextmanager
async def _in_process(data_dir: Path) -> AsyncIterator[Target]:
    from duanxin.demo import demo_stack
    from duanxin.runtime import free_port

    async with demo_stack("127.0.0.1", free_port(), data_dir, report_delay=REPORT_DELAY) as (
        facts,
        _running,
        _simulators,
    ):
        yield Target(
            facts.url, facts.secret_id, facts.secret_key, facts.account, facts.password,
            "inprocess: platform and load generator share one process (one core)",
        )  # fmt: skip


@contextlib.contextmanager
def _child_process(data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    with (data_dir / "server.log").open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "duanxin.bench.server", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield child
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


async def _wait_for_facts(data_dir: Path, child: subprocess.Popen[bytes]) -> Path:
    facts = data_dir / "demo.json"
    deadline = time.perf_counter() + START_TIMEOUT
    while True:
        if child.poll() is not None:
            log = (data_dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the benchmark server exited:\n{log}")
        with contextlib.suppress(OSError, ValueError):
            json.loads(facts.read_text())
            return facts
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the benchmark server did not start within {START_TIMEOUT} s")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def platform_for(
    arrangement: str, url: str | None = None, demo_json: Path | None = None
) -> AsyncIterator[Target]:
    """A platform to measure: started here (``process``/``inprocess``) or at ``url``."""
    if url is not None or demo_json is not None:
        if demo_json is None:
            raise ValueError("--url needs --demo-json (the demo customer's keys)")
        where = url or "the url in demo.json"
        yield Target.from_demo_json(demo_json, f"url: a platform already running at {where}", url)
        return
    if arrangement not in ARRANGEMENTS:
        raise ValueError(f"unknown arrangement {arrangement!r}; choose {' or '.join(ARRANGEMENTS)}")
    with tempfile.TemporaryDirectory(prefix="duanxin-bench-") as tmp:
        data_dir = Path(tmp)
        if arrangement == "inprocess":
            # Stopping with a delivery backlog makes the simulators warn once per report
            # they can no longer send; that is expected here, so keep the console readable.
            logging.getLogger("duanxin.simulator").setLevel(logging.ERROR)
            async with _in_process(data_dir) as target:
                yield target
            return
        with _child_process(data_dir) as child:
            facts = await _wait_for_facts(data_dir, child)
            arranged = "process: platform in a child process, load generator in this one"
            target = Target.from_demo_json(facts, arranged)
            yield dataclasses.replace(target, server_pid=child.pid)


async def _serve(data_dir: Path) -> None:
    from duanxin.demo import demo_stack
    from duanxin.runtime import free_port

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with demo_stack("127.0.0.1", free_port(), data_dir, report_delay=REPORT_DELAY):
        await stop.wait()


def main(argv: Sequence[str]) -> None:
    """``python -m duanxin.bench.server DATA_DIR``: the demo stack until SIGTERM."""
    if len(argv) != 1:
        raise SystemExit("usage: python -m duanxin.bench.server DATA_DIR")
    from duanxin.bench import run

    logging.basicConfig(level=logging.WARNING)
    run(_serve(Path(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
