"""The web console in headless Chromium against a live platform with simulated carriers.

What a person does: the operator creates and funds a customer, routes it, approves its
template; the customer reads its keys, sends a test message and sees it delivered; the
operator finds that message by its id with its history. And what must not work: a wrong
password (throttled after repeated tries), a customer opening operator pages or another
account's data by editing URLs or form fields, a form posted without its CSRF token.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from duanxin.client import Client
from duanxin.domain.billing import ChargeType
from duanxin.domain.signin import SignInLimits
from duanxin.service import admin, console_auth, keys
from duanxin.service.send import send_signed_in
from tests.console.conftest import PHONE, Live

pytestmark = pytest.mark.browser

REPORT_SECONDS = 20
TEMPLATE = "您的验证码是${code}，5分钟内有效。"


def sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("#sign-in")


def flash(page: Any) -> str:
    return str(page.inner_text(".flash"))


def reload_until(page: Any, selector: str, text: str) -> None:
    """Reload the page until ``selector`` shows ``text`` (a report arriving)."""
    deadline = time.monotonic() + REPORT_SECONDS
    while text not in page.inner_text(selector):
        shown = page.inner_text("main")  # the message's history, when it failed
        assert time.monotonic() < deadline, f"{text!r} never appeared in {selector}: {shown}"
        page.wait_for_timeout(200)
        page.reload()


@pytest.mark.timeout(180)
def test_operator_sets_up_a_customer_who_sends_and_the_operator_finds_the_message(
    live: Live, new_page: Callable[..., Any]
) -> None:
    facts = live.facts
    operator = new_page()
    sign_in(operator, facts.console_url, facts.operator_user, facts.operator_password)
    assert operator.url.endswith("/console/")
    operator.wait_for_selector("#tps-chart canvas")  # uPlot drew the TPS chart
    assert "demo-cmpp" in operator.inner_text("#health")

    # A new customer with its account, its first key shown once, funded and routed.
    operator.click("nav >> text=Customers")
    form = operator.locator("#create-account")
    form.locator("input[name=customer]").fill("Acme Browser")
    form.locator("input[name=account]").fill("acme")
    form.locator("input[name=password]").fill("acme-pass-1")
    form.locator("select[name=charge_type]").select_option("PRECHARGE")
    form.locator("input[name=default_signature]").fill("【阿克米】")
    form.locator("button[type=submit]").click()
    assert "Account acme created" in flash(operator)
    first_id = operator.inner_text("#secret-id")
    assert first_id.startswith("AKID") and operator.inner_text("#secret-key")
    operator.click("text=Open acme")
    operator.fill("#recharge input[name=amount]", "100")
    operator.click("#recharge button")
    assert "balance 100" in flash(operator) and operator.inner_text("#balance") == "100"
    operator.goto(f"{facts.url}/console/routes?account=acme")
    operator.select_option("#set-route select[name=carrier]", "cmcc")
    operator.fill("#set-route input[name=channels]", "demo-cmpp")
    operator.click("#set-route button")
    assert "Route of acme saved" in flash(operator)
    assert "acme" in operator.inner_text("#routes")
    # The delivery worker picks up new routes every few sweeps; a send before that finds
    # no channel (DX:0100). Make it look now, rather than race the sweeper.
    worker = live.running.worker
    assert worker is not None
    live.call(worker.reload)

    # The customer signs in, reads its keys, makes a new one (shown once) that works.
    customer = new_page()
    sign_in(customer, facts.customer_console_url, "acme", "acme-pass-1")
    assert customer.url.endswith("/console/my/")
    assert customer.inner_text("#balance") == "100"
    assert first_id in customer.inner_text("#keys")
    customer.click("#issue-key")
    secret_id, secret_key = customer.inner_text("#secret-id"), customer.inner_text("#secret-key")
    assert secret_id != first_id
    customer.reload()  # a reload posts nothing: the key is not shown again
    assert customer.locator("#secret-key").count() == 0
    assert secret_key not in customer.content() and secret_id in customer.inner_text("#keys")
    with Client(facts.url, secret_id, secret_key, "acme", "acme-pass-1") as api:
        assert api.balance().balance == 100

    # It submits a template; the operator approves it from the review queue.
    customer.click("nav >> text=Signatures & templates")
    customer.select_option("#templates select[name=kind]", "verification")
    customer.fill("#templates textarea[name=template]", TEMPLATE)
    customer.click("#templates button")
    assert "submitted for review" in flash(customer)
    operator.click("nav >> text=Review")
    row = operator.locator("#queue-template tr", has_text="acme")
    row.locator("button", has_text="Approve").click()
    assert "approved" in flash(operator)
    customer.reload()
    assert "approved" in customer.inner_text("#templates")

    # A test message, delivered, with its report on the customer's message page.
    customer.click("nav >> text=Send a test")
    customer.fill("#send-form input[name=mobiles]", "13800138000")
    customer.fill("#send-form textarea[name=content]", "您的验证码是4321，5分钟内有效。")
    customer.click("#send-button")
    assert "Accepted; balance 99" in customer.inner_text("#send-result")
    mid = customer.inner_text("#send-result .sent-mid")
    assert re.fullmatch(r"[0-9A-F]{16}", mid)
    customer.click("#send-result .sent-mid")
    reload_until(customer, "#report", "DELIVRD")
    assert "【阿克米】您的验证码是4321" in customer.content()

    # The operator finds it by mid and reads its history.
    operator.click("nav >> text=Messages")
    operator.fill("#search input[name=mid]", mid)
    operator.click("#search button")
    assert operator.locator("#results tbody tr").count() == 1
    assert "acme" in operator.inner_text("#results")
    operator.click(f"#results >> text={mid}")
    history = operator.inner_text("#history")
    assert "accepted" in history and "submitted to the carrier" in history
    assert "report received" in history and "DELIVRD" in history
    operator.click("nav >> text=Audit log")
    audit = operator.inner_text("#audit")
    assert "account.recharge" in audit and "template.approve" in audit
    assert facts.operator_user in audit


def test_a_wrong_password_is_refused_and_repeated_tries_are_throttled(
    live: Live, new_page: Callable[..., Any]
) -> None:
    facts = live.facts
    live.call(lambda: console_auth.add_operator(live.running.platform, "carol", "carol-pass-1"))
    page = new_page()
    for _ in range(SignInLimits().per_name):
        sign_in(page, facts.console_url, "carol", "not-her-password")
        assert page.inner_text("#signin-error") == "Wrong name or password."
        assert "/console/login" in page.url
    sign_in(page, facts.console_url, "carol", "carol-pass-1")  # right, but too late
    assert "Too many failed sign-ins" in page.inner_text("#signin-error")
    assert not [c for c in page.context.cookies() if c["name"] == "dx_operator"]
    other = new_page()  # the lock is on the name: another operator still signs in
    sign_in(other, facts.console_url, facts.operator_user, facts.operator_password)
    assert other.url.endswith("/console/")
    other.goto(f"{facts.url}/console/audit?actor=carol")
    audit = other.inner_text("#audit")
    assert "operator.signin_failed" in audit and "operator.signin_throttled" in audit


def _second_customer(live: Live) -> None:
    platform = live.running.platform

    async def create() -> None:
        customer, _key = await admin.find_or_create_customer(platform, "Other Co", "test")
        spec = admin.AccountSpec(
            account="other", password="other-pass-1", spid="1", charge_type=ChargeType.POSTCHARGE
        )
        await admin.create_account(platform, customer, spec, "test")

    live.call(create)


def test_a_customer_reaches_neither_operator_pages_nor_another_accounts_data(
    live: Live, new_page: Callable[..., Any]
) -> None:
    facts, platform = live.facts, live.running.platform
    _second_customer(live)
    sent = live.call(
        lambda: send_signed_in(platform, facts.account, ["13800138001"], "【duanxin】您好，测试。")
    )
    assert sent.entries is not None
    demo_mid = sent.entries[0].mid
    page = new_page()
    sign_in(page, facts.customer_console_url, "other", "other-pass-1")
    assert page.url.endswith("/console/my/")

    for path in ("/console/", "/console/customers", "/console/accounts/demo", "/console/audit"):
        page.goto(facts.url + path)
        assert "/console/login" in page.url and page.is_visible("text=Operator sign-in")

    # Another account's message, by URL or by search: not found, not shown.
    response = page.goto(f"{facts.url}/console/my/messages/{demo_mid}")
    assert response is not None and response.status == 404
    page.goto(f"{facts.url}/console/my/messages?mid={demo_mid}&account={facts.account}")
    assert demo_mid not in page.inner_text("#results")
    assert "No messages found" in page.inner_text("#results")

    # A form field edited to another customer's key: refused, and the key still works.
    page.goto(f"{facts.url}/console/my/")
    page.click("#issue-key")
    page.eval_on_selector(
        "#keys form input[name=secret_id]",
        f"input => input.value = {facts.secret_id!r}",
    )
    page.on("dialog", lambda dialog: dialog.accept())  # "Revoke it?"
    page.locator("#keys form button").first.click()
    assert "no API key" in flash(page) and facts.secret_id in flash(page)
    listed = live.call(lambda: keys.list_keys(platform, "demo"))
    assert [k.state.value for k in listed if k.secret_id == facts.secret_id] == ["active"]


def test_a_form_posted_without_its_csrf_token_is_refused(
    live: Live, new_page: Callable[..., Any]
) -> None:
    facts, platform = live.facts, live.running.platform
    before = live.call(lambda: admin.find_account(platform, facts.account)).balance
    page = new_page()
    sign_in(page, facts.console_url, facts.operator_user, facts.operator_password)
    page.goto(f"{facts.url}/console/accounts/{facts.account}")
    page.fill("#recharge input[name=amount]", "500")
    page.eval_on_selector("#recharge input[name=csrf]", "input => input.remove()")
    page.click("#recharge button")
    assert "CSRF" in page.inner_text("#error-message")
    page.goto(f"{facts.url}/console/accounts/{facts.account}")
    page.fill("#recharge input[name=amount]", "500")
    page.eval_on_selector("#recharge input[name=csrf]", "input => input.value = 'forged'")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#recharge button")
    assert answer.value.status == 403
    assert live.call(lambda: admin.find_account(platform, facts.account)).balance == before


def test_pages_switch_language_and_fit_a_phone(live: Live, new_page: Callable[..., Any]) -> None:
    facts = live.facts
    page = new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page.goto(facts.customer_console_url)
    assert page.is_visible("text=客户登录")  # Accept-Language picks Chinese
    page.click("text=English")
    assert page.is_visible("text=Customer sign-in")
    sign_in(page, facts.customer_console_url, facts.account, facts.password)
    assert page.is_visible("text=API keys")
    page.click("text=中文")
    assert page.is_visible("text=API 密钥")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone: tables scroll inside their cards
    assert not page.is_visible("nav >> text=发送测试短信")  # the menu is folded
    page.click("text=☰ 菜单")
    page.click("nav >> text=发送测试短信")
    assert page.url.endswith("/console/my/send")
    page.click("#sign-out")
    assert page.url.endswith("/console/my/login") and "已退出登录" in flash(page)
    page.goto(f"{facts.url}/console/my/send")  # the session is gone
    assert "/console/my/login" in page.url


OPERATOR_PAGES = [
    "/console/",
    "/console/customers",
    "/console/accounts/demo",
    "/console/channels",
    "/console/channels/demo-cmpp",
    "/console/routes",
    "/console/review",
    "/console/lists",
    "/console/messages",
    "/console/replies",
    "/console/audit",
    "/console/operators",
]
CUSTOMER_PAGES = [
    "/console/my/",
    "/console/my/send",
    "/console/my/messages",
    "/console/my/replies",
    "/console/my/ledger",
    "/console/my/stats",
    "/console/my/callbacks",
    "/console/my/signatures",
]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_every_main_page_fits_a_phone_in_both_languages(
    live: Live, new_page: Callable[..., Any], locale: str
) -> None:
    facts = live.facts
    page = new_page(viewport=PHONE, locale=locale)
    menu = "☰ 菜单" if locale == "zh-CN" else "☰ Menu"
    sign_in(page, facts.console_url, facts.operator_user, facts.operator_password)
    for path in OPERATOR_PAGES:
        _fits(page, facts.url + path, menu)
    sign_in(page, facts.customer_console_url, facts.account, facts.password)
    for path in CUSTOMER_PAGES:
        _fits(page, facts.url + path, menu)


def _fits(page: Any, url: str, menu: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{url} is {width} px wide"
    # The menu is folded behind its button; the page's heading is in view.
    assert page.is_visible(f"text={menu}") and not page.is_visible("nav a >> nth=1"), url
    assert page.locator("main h1").first.is_visible(), url


class _Receiver(BaseHTTPRequestHandler):
    """A callback receiver: ``/ok`` answers 200, anything else 500."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_customer_tests_its_callbacks_and_reads_the_last_deliveries(
    live: Live, new_page: Callable[..., Any], receiver_url: str
) -> None:
    facts, platform = live.facts, live.running.platform

    async def create() -> None:  # an account with nothing to push: only the tests go out
        customer, _key = await admin.find_or_create_customer(platform, "Hooks Co", "test")
        spec = admin.AccountSpec(account="hooks", password="hooks-pass-1", spid="2")
        await admin.create_account(platform, customer, spec, "test")

    live.call(create)
    page = new_page()
    sign_in(page, facts.customer_console_url, "hooks", "hooks-pass-1")
    page.click("nav >> text=Callbacks")
    page.fill("input[name=reports_url]", receiver_url + "/ok")
    page.fill("input[name=replies_url]", receiver_url + "/broken")
    page.click("#callback-form button")
    expect(page.locator("#new-secret code")).to_contain_text("whsec_")
    page.click("#test-callbacks")
    results = page.locator("#callback-tests tbody tr")
    expect(results).to_have_count(2)
    expect(results.nth(0)).to_contain_text("delivered")
    expect(results.nth(1)).to_contain_text("HTTP 500")
    history = page.locator("#push-history tbody tr")
    expect(history).to_have_count(2)
    # Newest first: the replies URL was tried last.
    expect(history.nth(0)).to_contain_text(receiver_url + "/broken")
    expect(history.nth(0)).to_contain_text("failed")
    expect(history.nth(0).locator("td").nth(4)).to_have_text("500")
    expect(history.nth(1)).to_contain_text("delivered")
    expect(history.nth(1).locator("td").nth(7)).to_have_text("test")
    # The operator reads the same outcomes on the account's page.
    operator = new_page(locale="zh-CN")
    sign_in(operator, facts.console_url, facts.operator_user, facts.operator_password)
    operator.goto(f"{facts.url}/console/accounts/hooks")
    expect(operator.locator("#push-history tbody tr")).to_have_count(2)
    expect(operator.locator("#deliveries")).to_contain_text("最近的推送")
    expect(operator.locator("#push-history tbody tr").nth(0)).to_contain_text("失败")


def test_an_operator_disables_another_whose_open_page_then_asks_to_sign_in(
    live: Live, new_page: Callable[..., Any]
) -> None:
    facts = live.facts
    admin_page = new_page()
    sign_in(admin_page, facts.console_url, facts.operator_user, facts.operator_password)
    admin_page.click("nav >> text=Operators")
    admin_page.fill("#add-operator input[name=name]", "dora")
    admin_page.fill("#add-operator input[name=password]", "dora-pass-1")
    admin_page.click("#add-operator button")
    expect(admin_page.locator(".flash")).to_have_text("Operator dora added.")
    dora = new_page()
    sign_in(dora, facts.console_url, "dora", "dora-pass-1")
    expect(dora).to_have_url(re.compile(r"/console/$"))
    admin_page.locator("#operators tr[data-name=dora] button").click()
    expect(admin_page.locator(".flash")).to_have_text("dora disabled; sessions ended: 1.")
    expect(admin_page.locator("#operators tr[data-name=dora]")).to_contain_text("disabled")
    dora.reload()
    expect(dora).to_have_url(re.compile(r"/console/login"))
    sign_in(dora, facts.console_url, "dora", "dora-pass-1")
    expect(dora.locator("#signin-error")).to_have_text("Wrong name or password.")
    admin_page.locator("#operators tr[data-name=dora] button").click()
    expect(admin_page.locator(".flash")).to_have_text("dora enabled.")
    sign_in(dora, facts.console_url, "dora", "dora-pass-1")
    expect(dora).to_have_url(re.compile(r"/console/$"))


def test_the_operator_imports_a_csv_and_reads_its_bad_lines(
    live: Live, new_page: Callable[..., Any]
) -> None:
    facts = live.facts
    page = new_page()
    sign_in(page, facts.console_url, facts.operator_user, facts.operator_password)
    page.click("nav >> text=Lists")
    export = b"mobile,note\n13700000021,a\nnot-a-number,b\n13700000022,c\n"
    page.set_input_files(
        "#import-blacklist input[type=file]",
        files=[{"name": "complaints.csv", "mimeType": "text/csv", "buffer": export}],
    )
    page.click("#import-blacklist button")
    report = page.locator("#import-report")
    expect(report).to_contain_text("complaints.csv")
    expect(report).to_contain_text("2 added, 0 already listed, 1 invalid.")
    expect(page.locator("#bad-lines tbody tr")).to_have_count(1)
    expect(page.locator("#bad-lines tbody tr td").nth(0)).to_have_text("3")
    page.fill("#blacklist input[name=mobile]", "13700000022")
    page.click("#blacklist form.row button")
    expect(page.locator("#blacklist-answer")).to_have_text("13700000022 is on the blacklist.")
