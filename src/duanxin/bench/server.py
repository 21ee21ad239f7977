"""The platform a benchmark measures, and where it runs (its ``arrangement``).

* ``process``: ``python -m duanxin.bench.server DATA_DIR`` in a child process (the demo
  stack on a fresh SQLite file, simulators answering reports after 50 ms), the load
  generator in the calling process: on two cores each gets one;
* ``split``: the carrier simulators in a child process of their own (``duanxin simulate
  all``), the platform in another, the load generator here: the platform's figures then
  leave out the carriers' share of the work, as in production;
* ``delivery``: as ``process``, with delivery (carrier connections, worker, report
  matching, sweeper) in a process of its own next to the platform's HTTP API (the
  ``delivery_process`` setting): the API, delivery and the load generator each have a
  process; the server's CPU time is both platform processes';
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
from typing import Any

from duanxin.client import AsyncClient

__all__ = ["ARRANGEMENTS", "REPORT_DELAY", "Target", "platform_for"]

ARRANGEMENTS = ("process", "delivery", "split", "inprocess")
SIMULATOR_ACCOUNT = "922011"  # the demo SP code; a valid login for all four protocols
SIMULATOR_PASSWORD = "bench123"  # SMPP passwords hold at most 8 characters
REPORT_DELAY = 0.05
START_TIMEOUT = 60.0
DELIVERY_FLAG, NO_DELIVERY_FLAG = "--delivery-process", "--no-delivery-process"


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
def _child_process(data_dir: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    with (data_dir / "server.log").open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "duanxin.bench.server", str(data_dir), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield child
        finally:
            _stop(child)


def _stop(child: subprocess.Popen[Any]) -> None:
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@contextlib.contextmanager
def _simulator_process() -> Iterator[dict[str, dict[str, Any]]]:
    """``duanxin simulate all`` in a child process; the carrier endpoints it serves."""
    from duanxin.runtime import free_port

    sp_port = free_port()
    child = subprocess.Popen(
        [
            sys.executable, "-m", "duanxin.cli", "simulate", "all",
            "--account", SIMULATOR_ACCOUNT, "--password", SIMULATOR_PASSWORD,
            "--report-delay", str(REPORT_DELAY), "--sp-port", str(sp_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        carriers: dict[str, dict[str, Any]] = {}
        while len(carriers) < len(("cmpp", "sgip", "smgp", "smpp")):
            line = child.stdout.readline()
            if not line:
                raise RuntimeError("the simulator process exited at start-up")
            name, _, address = line.strip().partition(" simulator listening on ")
            host, _, port = address.rpartition(":")
            carriers[name] = {
                "host": host,
                "port": int(port),
                "account": SIMULATOR_ACCOUNT,
                "password": SIMULATOR_PASSWORD,
                "sp_port": sp_port if name == "sgip" else None,
            }
        carriers.pop("smpp")  # the demo routes the three Chinese networks
        yield carriers
    finally:
        _stop(child)


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
        if arrangement == "split":
            with (
                _simulator_process() as carriers,
                _child_process(data_dir, NO_DELIVERY_FLAG, json.dumps(carriers)) as child,
            ):
                facts = await _wait_for_facts(data_dir, child)
                arranged = (
                    "split: simulators in one child process, platform in another, "
                    "load generator in this one"
                )
                target = Target.from_demo_json(facts, arranged)
                yield dataclasses.replace(target, server_pid=child.pid)
            return
        if arrangement == "delivery":
            with _child_process(data_dir, DELIVERY_FLAG) as child:
                facts = await _wait_for_facts(data_dir, child)
                arranged = (
                    "delivery: platform HTTP API in a child process, its delivery in another "
                    "(delivery_process), load generator in this one"
                )
                target = Target.from_demo_json(facts, arranged)
                yield dataclasses.replace(target, server_pid=child.pid)
            return
        with _child_process(data_dir, NO_DELIVERY_FLAG) as child:
            facts = await _wait_for_facts(data_dir, child)
            arranged = "process: platform in a child process, load generator in this one"
            target = Target.from_demo_json(facts, arranged)
            yield dataclasses.replace(target, server_pid=child.pid)


async def _serve(data_dir: Path, carriers_json: str | None, delivery_process: bool | None) -> None:
    from duanxin.demo import CarrierEndpoint, demo_stack
    from duanxin.runtime import free_port

    carriers = None
    if carriers_json is not None:
        carriers = {p: CarrierEndpoint(**e) for p, e in json.loads(carriers_json).items()}

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with demo_stack(
        "127.0.0.1",
        free_port(),
        data_dir,
        report_delay=REPORT_DELAY,
        carriers=carriers,
        delivery_process=delivery_process,
    ):
        await stop.wait()


def main(argv: Sequence[str]) -> None:
    """``python -m duanxin.bench.server [--delivery-process|--no-delivery-process] DATA_DIR
    [CARRIERS_JSON]``: the demo stack until SIGTERM, with its own simulators or with the
    gateways described in CARRIERS_JSON; delivery in a process of its own or not (without
    either flag: as the settings' default says)."""
    flags = [a for a in argv if a in (DELIVERY_FLAG, NO_DELIVERY_FLAG)]
    args = [a for a in argv if a not in flags]
    if len(args) not in (1, 2) or len(flags) > 1:
        raise SystemExit(
            "usage: python -m duanxin.bench.server [--delivery-process|--no-delivery-process] "
            "DATA_DIR [CARRIERS_JSON]"
        )
    from duanxin.bench import run

    logging.basicConfig(level=logging.WARNING)
    delivery = None if not flags else flags[0] == DELIVERY_FLAG
    run(_serve(Path(args[0]), args[1] if len(args) == 2 else None, delivery))


if __name__ == "__main__":
    main(sys.argv[1:])
