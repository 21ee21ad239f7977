"""Screenshots of the web console's main pages in Chinese and English, for the docs.

    scripts/console-screenshots [OUTPUT_DIR]      (default: docs/console)

Starts the demo (simulated carriers) in this process, sends some traffic, queues a
signature and a template for review, pushes reports to a local callback receiver (one that
answers 200, then one that fails), then drives the system Chromium with Playwright.
Chinese text needs a CJK font (Debian: fonts-noto-cjk or fonts-wqy-microhei).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from duanxin.demo import DemoFacts, demo_stack
from duanxin.service import admin, callbacks, console_auth, lists, review
from duanxin.service.platform import Platform
from duanxin.service.send import send_signed_in

CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
MOBILES = ["13800138000", "13912345678", "18600000000", "18912345678", "15012345678"]


async def traffic(platform: Platform, facts: DemoFacts) -> str:
    """Some sends, a blacklisted number, and things waiting for review; returns one mid."""
    await lists.blacklist_add(platform, ["13700000000"], "demo", "complaint")
    first = ""
    for round_ in range(6):
        for mobile in MOBILES:
            body = f"【duanxin】您的订单{round_}{mobile[-4:]}已发货，请注意查收。"
            outcome = await send_signed_in(platform, facts.account, [mobile], body)
            if outcome.entries and not first:
                first = outcome.entries[0].mid
    await send_signed_in(platform, facts.account, ["13700000000"], "【duanxin】测试黑名单")
    await review.register_signature(platform, facts.account, "【示例商城】")
    await review.register_template(
        platform, facts.account, "verification", "您的验证码是${code}，5分钟内有效。"
    )
    await asyncio.sleep(1.5)  # the simulators' reports arrive
    return first


async def receiver(status: int) -> asyncio.Server:
    """A callback receiver on loopback answering every request with ``status``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n")
             if line.lower().startswith(b"content-length:")),
            0,
        )  # fmt: skip
        await reader.readexactly(length)
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


def url_of(server: asyncio.Server, path: str) -> str:
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}{path}"


async def pushes(platform: Platform, facts: DemoFacts, working: str, failing: str) -> None:
    """The demo's reports pushed to a working receiver, then a test callback that fails."""
    account = await admin.find_account(platform, facts.account)
    await callbacks.set_callbacks(platform, account.id, reports_url=working, actor="demo")
    for _ in range(50):  # the waiting reports go out in a batch or two
        if any(
            o.outcome == "delivered" for o in await callbacks.push_history(platform, account.id)
        ):
            break
        await asyncio.sleep(0.2)
    await callbacks.set_callbacks(platform, account.id, replies_url=failing, actor="demo")
    await callbacks.test_callback(platform, account.id)
    await console_auth.add_operator(platform, "li.na", "screenshot-1", "demo")


async def sign_in(page: Any, url: str, name: str, password: str) -> None:
    await page.goto(url)
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("#sign-in")


async def shoot(browser: Any, facts: DemoFacts, mid: str, lang: str, out: Path) -> None:
    locale = "zh-CN" if lang == "zh" else "en-US"
    context = await browser.new_context(viewport=DESKTOP, locale=locale)
    page = await context.new_page()
    await sign_in(page, facts.console_url, facts.operator_user, facts.operator_password)
    await page.wait_for_selector("#tps-chart canvas")
    operator = {
        "dashboard": "/console/",
        "customers": "/console/customers",
        "account": "/console/accounts/demo",
        "channels": "/console/channels",
        "review": "/console/review",
        "messages": "/console/messages?account=demo",
        "message": f"/console/messages/{mid}",
        "lists": "/console/lists?account=demo",
        "audit": "/console/audit",
        "operators": "/console/operators",
    }
    for name, path in operator.items():
        if name != "dashboard":
            await page.goto(facts.url + path)
        await page.screenshot(path=str(out / f"operator-{name}-{lang}.png"), full_page=True)
    customer = await (await browser.new_context(viewport=DESKTOP, locale=locale)).new_page()
    await customer.goto(facts.customer_console_url)
    await customer.screenshot(path=str(out / f"customer-signin-{lang}.png"))
    await sign_in(customer, facts.customer_console_url, facts.account, facts.password)
    await customer.click("#issue-key")  # a key shown once
    await customer.screenshot(path=str(out / f"customer-overview-{lang}.png"), full_page=True)
    pages = {
        "send": "/console/my/send",
        "messages": "/console/my/messages",
        "stats": "/console/my/stats",
        "ledger": "/console/my/ledger",
        "callbacks": "/console/my/callbacks",
        "signatures": "/console/my/signatures",
    }
    for name, path in pages.items():
        await customer.goto(facts.url + path)
        await customer.screenshot(path=str(out / f"customer-{name}-{lang}.png"), full_page=True)
    phone = await (await browser.new_context(viewport=PHONE, locale=locale)).new_page()
    await sign_in(phone, facts.console_url, facts.operator_user, facts.operator_password)
    await phone.wait_for_selector("#tps-chart canvas")
    await phone.screenshot(path=str(out / f"phone-dashboard-{lang}.png"), full_page=True)
    await sign_in(phone, facts.customer_console_url, facts.account, facts.password)
    await phone.screenshot(path=str(out / f"phone-customer-overview-{lang}.png"), full_page=True)


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        async with demo_stack("127.0.0.1", 0, Path(data), report_delay=0.2) as (
            facts,
            running,
            _simulators,
        ):
            mid = await traffic(running.platform, facts)
            working, failing = await receiver(200), await receiver(503)
            await pushes(running.platform, facts, url_of(working, "/dlr"), url_of(failing, "/mo"))
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM)
                try:
                    for lang in ("zh", "en"):
                        await shoot(browser, facts, mid, lang, out)
                finally:
                    await browser.close()
                    for server in (working, failing):
                        server.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console")))
