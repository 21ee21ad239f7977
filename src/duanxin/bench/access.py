"""``duanxin bench access``: a CMPP customer -> the access server -> platform -> simulator.

One process: the demo stack (SQLite, simulated carriers answering reports after 50 ms),
the customer CMPP server, and a customer CMPP 3.0 client with a window of 16 that submits
``messages`` one-number messages and answers every report DELIVER. Measured: submits/s
(first SUBMIT sent to last SUBMIT_RESP), reports/s (first SUBMIT to the last report
DELIVER received), the process's CPU time over the same span per message (client and
platform both: one process), the load average before and after, and whether every id
given got exactly one report.

With ``delivery_process``, delivery (carrier links, the worker, report matching) runs in
the demo's delivery child process instead (the ``delivery_process`` setting): the child's
CPU time is counted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import pstats
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console

from duanxin.bench import run
from duanxin.protocols.cmpp.auth import connect_request
from duanxin.protocols.cmpp.dialect import CmppDialect
from duanxin.protocols.cmpp.pdu import (
    CmppConnectResp,
    CmppDeliver,
    CmppDeliverResp,
    CmppMsgFmt,
    CmppSubmit,
    CmppSubmitResp,
    CmppVersion,
    Pdu,
)
from duanxin.protocols.cmpp.report import CmppStatusReport
from duanxin.protocols.core.aio import SessionProtocol, connect
from duanxin.protocols.core.session import SessionConfig

__all__ = ["AccessRun", "drive", "run_access"]

REPORT_DELAY = 0.05
FIRST_MOBILE = 13_800_000_000
CONTENT = "您的订单已发货，请注意查收".encode("utf-16-be")


@dataclass
class AccessRun:
    messages: int
    accepted: int
    refused: int
    submit_seconds: float
    report_seconds: float
    reports: int
    duplicates: int
    missing: int
    cpu_seconds: float = 0.0  # process CPU time, first SUBMIT to the last report
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    child_cpu_seconds: float = 0.0  # the delivery child's, over the same span (if any)

    @property
    def cpu_per_message(self) -> float:
        """Seconds of CPU (this process and its delivery child) per message submitted."""
        total = self.cpu_seconds + self.child_cpu_seconds
        return total / self.messages if self.messages else 0.0

    @property
    def submits_per_second(self) -> float:
        return self.accepted / self.submit_seconds if self.submit_seconds else 0.0

    @property
    def reports_per_second(self) -> float:
        return self.reports / self.report_seconds if self.report_seconds else 0.0


async def _measure(
    messages: int, window: int, timeout: float, delivery_process: bool = False
) -> AccessRun:
    from duanxin.demo import demo_stack
    from duanxin.runtime import free_port
    from duanxin.service import admin

    with tempfile.TemporaryDirectory() as data:
        async with demo_stack(
            "127.0.0.1",
            free_port(),
            Path(data),
            report_delay=REPORT_DELAY,
            delivery_process=delivery_process,
        ) as (facts, running, _):
            await admin.set_account(running.platform, facts.account, {"max_concurrency": 0})
            where = facts.access["cmpp"]
            return await drive(where["host"], where["port"], facts.account, facts.password,
                                messages, window, timeout, children_cpu)  # fmt: skip


def children_cpu(pid: int | None = None) -> float:
    """CPU seconds of the live child processes of ``pid`` (this process), theirs included."""
    pid = os.getpid() if pid is None else pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    total = 0.0
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        total += children_cpu(int(child))
    return total


async def drive(
    host: str,
    port: int,
    account: str,
    password: str,
    messages: int,
    window: int,
    timeout: float,
    other_cpu: Callable[[], float] | None = None,
) -> AccessRun:
    """Log in to the CMPP server at ``host:port``, submit ``messages`` one-number messages
    with ``window`` outstanding, and wait (up to ``timeout``) for every report DELIVER;
    ``other_cpu`` reads the CPU seconds of other processes to count (the delivery child)."""
    reports: Counter[int] = Counter()
    all_in = asyncio.Event()
    wanted: set[int] = set()

    def handle(session: SessionProtocol[Pdu], pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, CmppDeliver) and pdu.registered_delivery:
            reports[CmppStatusReport.decode(pdu.msg_content).msg_id] += 1
            if wanted and len(reports) >= len(wanted):
                all_in.set()
        if isinstance(pdu, CmppDeliver):
            return CmppDeliverResp(sequence_id=pdu.sequence_id, msg_id=pdu.msg_id)
        return None

    config = SessionConfig(window=window, heartbeat_interval=None, response_timeout=timeout)
    session = await connect(host, port, CmppDialect(CmppVersion.V30), handle, config)
    login = await session.request(connect_request(account, password, datetime.now()))
    if not isinstance(login, CmppConnectResp) or login.status != 0:
        raise RuntimeError(f"login refused: {login}")
    load_before = os.getloadavg()[0]
    other_start = other_cpu() if other_cpu is not None else 0.0
    cpu_start = time.process_time()
    start = time.perf_counter()
    futures = [
        session.send_request(
            CmppSubmit(
                dest_terminal_ids=(str(FIRST_MOBILE + n),),
                msg_fmt=CmppMsgFmt.UCS2,
                registered_delivery=1,
                msg_content=CONTENT,
            )
        )
        for n in range(messages)
    ]
    answers = await asyncio.gather(*futures)
    submitted = time.perf_counter() - start
    ids = [a.msg_id for a in answers if isinstance(a, CmppSubmitResp) and a.result == 0]
    wanted.update(ids)
    if len(reports) >= len(wanted):
        all_in.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_in.wait(), timeout)
    reported = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    other = other_cpu() - other_start if other_cpu is not None else 0.0
    await session.unbind(2.0)
    return AccessRun(
        messages=messages,
        accepted=len(ids),
        refused=messages - len(ids),
        submit_seconds=submitted,
        report_seconds=reported,
        reports=sum(1 for i in wanted if reports[i]),
        duplicates=sum(c - 1 for c in reports.values() if c > 1),
        missing=sum(1 for i in wanted if not reports[i]),
        cpu_seconds=cpu,
        load=(load_before, os.getloadavg()[0]),
        child_cpu_seconds=other,
    )


def run_access(
    messages: int,
    window: int,
    console: Console,
    *,
    timeout: float = 120.0,
    profile: bool = False,
    delivery_process: bool = False,
) -> AccessRun:
    """Run the benchmark and print its figures (and the top of a profile if asked)."""
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    result = run(_measure(messages, window, timeout, delivery_process))
    if profiler is not None:
        profiler.disable()
    console.print(
        f"access CMPP, window {window}: {result.accepted:,} of {result.messages:,} accepted "
        f"({result.refused} refused) in {result.submit_seconds:.2f} s = "
        f"[bold]{result.submits_per_second:,.0f} submits/s[/bold]; "
        f"{result.reports:,} reports in {result.report_seconds:.2f} s = "
        f"[bold]{result.reports_per_second:,.0f} reports/s[/bold]; "
        f"{result.missing} missing, {result.duplicates} duplicates; "
        f"CPU {result.cpu_seconds + result.child_cpu_seconds:.2f} s = "
        f"{result.cpu_per_message * 1e6:,.0f} µs per message ({_where(result)}); "
        f"load average {result.load[0]:.2f} → "
        f"{result.load[1]:.2f}",
        highlight=False,
    )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(30)
    return result


def _where(result: AccessRun) -> str:
    if not result.child_cpu_seconds:
        return "this process: client and platform"
    return (
        f"this process {result.cpu_seconds:.2f} s: client, API and access servers; "
        f"delivery process {result.child_cpu_seconds:.2f} s"
    )
