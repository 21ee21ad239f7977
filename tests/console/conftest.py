"""Fixtures of the console's browser tests: one live platform with simulators and one
headless Chromium for the browser test module (the only one that uses them: Playwright's
synchronous API holds an event loop in the main thread while its browser is open, so it
must be closed before the suite's async tests run); a fresh browser context (no cookies)
per use.

The platform runs in a thread with its own event loop, so that the tests drive the
browser with Playwright's synchronous API; :meth:`Live.call` runs a service call in the
platform's loop (to set up what a test needs, or check what a page did).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from duanxin.demo import DemoFacts, demo_stack
from duanxin.runtime import RunningPlatform
from tests.conftest import REQUIRE_SERVICES, TEST_REPORT_DELAY

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
START_SECONDS = 60
CALL_SECONDS = 30
PAGE_TIMEOUT_MS = 15_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Live:
    facts: DemoFacts
    running: RunningPlatform
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return self.facts.url

    def call(self, action: Callable[[], Awaitable[T]]) -> T:
        """Run ``action()`` in the platform's loop and wait for its result."""

        async def run() -> T:
            return await action()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return future.result(CALL_SECONDS)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The demo platform (SQLite, CMPP/SGIP/SMGP simulators), served for the module."""
    data_dir = tmp_path_factory.mktemp("console")
    started: Future[Live] = Future()

    async def serve() -> None:
        try:
            async with demo_stack("127.0.0.1", 0, data_dir, report_delay=TEST_REPORT_DELAY) as (
                facts,
                running,
                _simulators,
            ):
                stack = Live(facts, running, asyncio.get_running_loop())
                started.set_result(stack)
                await stack.stop.wait()
        except BaseException as error:
            if not started.done():
                started.set_exception(error)
            raise

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    stack = started.result(START_SECONDS)
    yield stack
    stack.loop.call_soon_threadsafe(stack.stop.set)
    thread.join(START_SECONDS)
    # Sockets the browser's keep-alive connections left to the server's closed loop are
    # collected here, not during some later test (where their ResourceWarning would land).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (its own browser download is not used)."""
    if not CHROMIUM.exists():
        message = "Chromium is not installed (apt-get install -y chromium chromium-driver)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts (each its own cookies), closed after the test."""
    contexts: list[Any] = []

    def open_page(viewport: dict[str, int] | None = None, locale: str = "en-US") -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        return page

    yield open_page
    for context in contexts:
        context.close()
