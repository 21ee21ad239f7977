"""Delivery in a process of its own, next to the HTTP API, over one SQLite file.

With the ``delivery_process`` setting, ``duanxin serve`` (and ``duanxin demo``) in the
embedded mode serve the HTTP API and the customer CMPP/SMPP servers in their own process
and start ``python -m duanxin.delivery.process``: the carrier connections, the delivery
worker, report and reply matching, push callbacks and the sweeper (``role worker``).
The two hand work over through the database and a local socket (:mod:`duanxin.bus.local`).

:class:`DeliveryChild` is the parent's side: it starts the child with the parent's
settings (written to its stdin: they hold the encryption key, which stays out of the
environment), waits for it to say ``ready``, and restarts it when it dies; a child that
keeps dying (``RESTARTS`` times within ``RESTART_WINDOW_SECONDS``) is given up on, and the
parent exits with a one-line reason. :meth:`DeliveryChild.stop` passes the drain on
(SIGTERM) and waits for it. On Linux the child is sent SIGTERM if the parent dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from duanxin.config import Settings

__all__ = [
    "CHILD_MODULE",
    "DeliveryChild",
    "DeliveryGaveUp",
    "child_settings",
    "main",
    "with_delivery_default",
]

log = logging.getLogger(__name__)

CHILD_MODULE = "duanxin.delivery.process"
READY = "ready"
FAILED = "failed: "
START_TIMEOUT_SECONDS = 60.0  # imports, migrations and opening the channels
STOP_MARGIN_SECONDS = 15.0  # beyond the shutdown grace, before the child is killed
RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
RESTART_PAUSE_SECONDS = (0.0, 0.5, 1.0, 2.0, 5.0)  # after the 1st, 2nd ... death in a row


class DeliveryGaveUp(Exception):
    """The delivery process could not be kept running; the message is one line."""


def with_delivery_default(settings: Settings) -> Settings:
    """``settings`` with ``delivery_process`` decided when it is unset: on when the machine
    has more than one core (what ``duanxin serve`` and ``duanxin demo`` run)."""
    if settings.delivery_process is not None:
        return settings
    return settings.model_copy(update={"delivery_process": (os.cpu_count() or 1) > 1})


def child_settings(settings: Settings) -> Settings:
    """What the child runs: the same settings, delivery only, no child of its own (and no
    metrics listener: ``metrics_listen`` is the API process's)."""
    return settings.model_copy(
        update={"role": "worker", "delivery_process": False, "metrics_listen": None}
    )


class DeliveryChild:
    """The parent's handle on the delivery process: start, watch and restart, stop."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self._deaths: list[float] = []
        self.gave_up: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        """Start the child and wait until it delivers; :class:`DeliveryGaveUp` (its reason)
        if it cannot start."""
        await self._spawn()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _spawn(self) -> None:
        from duanxin.cluster.processes import die_with_parent

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            CHILD_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent(),
            start_new_session=True,  # Ctrl-C reaches the parent only; it passes the stop on
        )
        self._process = process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(child_settings(self.settings).model_dump_json().encode())
        process.stdin.close()
        # It may first wait for its predecessor's drain (see _run_child).
        limit = START_TIMEOUT_SECONDS + self.settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
        try:
            async with asyncio.timeout(limit):
                line = (await process.stdout.readline()).decode(errors="replace").strip()
        except TimeoutError:
            line = f"{FAILED}not ready within {limit:g} s"
        if line != READY:
            if process.returncode is None:
                process.kill()
            await process.wait()
            reason = line.removeprefix(FAILED) or f"exited with status {process.returncode}"
            raise DeliveryGaveUp(f"the delivery process did not start: {reason}")

    async def _watch(self) -> None:
        """Restart the child whenever it exits, until it keeps dying or stop() is called."""
        while True:
            process = self._process
            assert process is not None
            code = await process.wait()
            if self._stopping:
                return
            now = self._clock()
            self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW_SECONDS]
            self._deaths.append(now)
            if len(self._deaths) > RESTARTS:
                self._give_up(
                    f"the delivery process exited {len(self._deaths)} times within "
                    f"{RESTART_WINDOW_SECONDS:g} s (last status {code})"
                )
                return
            pause = RESTART_PAUSE_SECONDS[min(len(self._deaths), len(RESTART_PAUSE_SECONDS)) - 1]
            log.warning("the delivery process exited (status %s); restarting it", code)
            await asyncio.sleep(pause)
            try:
                await self._spawn()
            except DeliveryGaveUp as error:
                if self._stopping:
                    return
                log.warning("%s", error)
                continue  # counted as another death on the next round
            except OSError as error:
                self._give_up(f"cannot start the delivery process again: {error}")
                return
            self.restarts += 1
            log.warning("the delivery process runs again (pid %d)", self.pid)

    def _give_up(self, reason: str) -> None:
        log.error("%s", reason)
        if not self.gave_up.done():
            self.gave_up.set_result(reason)

    async def stop(self) -> None:
        """Ask the child to drain (SIGTERM) and wait for it; killed if it takes longer than
        the shutdown grace and a margin."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(
                    self.settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
                ):
                    await process.wait()
            except TimeoutError:
                log.error("the delivery process did not stop in time; killed")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)


async def _run_child(settings: Settings) -> int:
    from duanxin.runtime import StartupError, running_platform, stop_signals

    with stop_signals() as stop:
        try:
            # The delivery process of a parent that was killed may still be draining.
            wait = settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
            async with running_platform(settings, lock_wait=wait):
                sys.stdout.write(READY + "\n")
                sys.stdout.flush()
                sys.stdout = sys.stderr  # nobody reads the pipe any more
                await stop.wait()
        except StartupError as error:
            sys.stdout.write(f"{FAILED}{error}\n")
            sys.stdout.flush()
            return 1
    return 0


def main() -> None:
    """``python -m duanxin.delivery.process``: the settings as JSON on stdin."""
    from duanxin.cli.common import _run
    from duanxin.logs import configure_logging

    settings = child_settings(Settings(**json.loads(sys.stdin.read())))
    configure_logging(settings)
    codes: list[int] = []

    async def run() -> None:
        codes.append(await _run_child(settings))

    _run(run())
    raise SystemExit(codes[0] if codes else 0)


if __name__ == "__main__":
    main()
