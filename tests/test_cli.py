"""The `duanxin` command: administration in-process, simulators and the demo as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from duanxin.cli import app
from duanxin.client import Client
from duanxin.runtime import free_port
from tests.conftest import poll_until

runner = CliRunner()
DUANXIN = [sys.executable, "-m", "duanxin.cli"]


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_has_help() -> None:
    commands = ([], ["account"], ["channel"], ["simulate"], ["demo"], ["send"], ["serve"])
    operators = (["operator"], ["operator", "add"], ["operator", "disable"], ["operator", "enable"])
    for command in (*commands, *operators):
        assert runner.invoke(app, [*command, "--help"]).exit_code == 0


def test_operator_workflow_on_a_fresh_database(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"]
    assert "operator token" in invoke("init", *db)
    created = invoke(
        "account",
        "create",
        "acme",
        "--password",
        "s3cret",
        "--customer",
        "ACME",
        "--spid",
        "9",
        *db,
    )
    assert "SecretId:" in created and "SecretKey:" in created
    assert "acme" in invoke("account", "list", *db)
    assert "balance 500" in invoke("account", "recharge", "acme", "500", *db)
    invoke("account", "disable", "acme", *db)
    shown = json.loads(invoke("account", "show", "acme", *db))
    assert shown["state"] == "disabled" and "password" not in shown
    invoke("account", "set", "acme", "refund_on_failure=true", "max_concurrency=3", *db)
    shown = json.loads(invoke("account", "show", "acme", *db))
    assert shown["refund_on_failure"] is True and shown["max_concurrency"] == 3
    invoke(
        "channel",
        "add",
        "cmcc-1",
        "--protocol",
        "cmpp",
        "--host",
        "127.0.0.1",
        "--port",
        "7890",
        "--account",
        "901234",
        "--password",
        "pw",
        "--access-code",
        "1069",
        *db,
    )
    assert "cmcc-1" in invoke("channel", "list", *db)
    invoke("channel", "route", "acme", "cmcc", "cmcc-1", *db)
    invoke("number-override", "13800138000", "ctcc", *db)


def test_operator_users_are_added_once_with_a_hashed_password(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"]
    invoke("init", *db)
    assert "operator alice added" in invoke(
        "operator", "add", "alice", "--password", "long-pass1", *db
    )
    again = runner.invoke(app, ["operator", "add", "alice", "--password", "long-pass2", *db])
    assert again.exit_code == 1 and "already exists" in again.output
    assert "Traceback" not in again.output
    short = runner.invoke(app, ["operator", "add", "bob", "--password", "short", *db])
    assert short.exit_code == 1 and "at least 8" in short.output
    listed = invoke("operator", "list", *db)
    assert "alice" in listed and "bob" not in listed and "long-pass1" not in listed
    assert "operator alice disabled; 0 console sessions ended" in invoke(
        "operator", "disable", "alice", *db
    )
    row = invoke("operator", "list", *db).split("alice", 1)[1].splitlines()[0]
    assert " no " in row and "yes" not in row
    assert "operator alice enabled" in invoke("operator", "enable", "alice", *db)
    nobody = runner.invoke(app, ["operator", "disable", "nobody", *db])
    assert nobody.exit_code == 1 and "no operator named nobody" in nobody.output


def test_channel_alphabet_set_on_add_and_changed_by_edit(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"]
    invoke("init", *db)
    common = ["--host", "127.0.0.1", "--password", "pw", "--access-code", "1069", *db]
    smpp = ["--protocol", "smpp", "--port", "2775", "--account", "esme"]
    invoke("channel", "add", "intl", *smpp, "--alphabet", "gsm7", *common)
    cmpp = ["--protocol", "cmpp", "--port", "7890", "--account", "901234"]
    invoke("channel", "add", "cmcc-1", *cmpp, *common)
    listed = invoke("channel", "list", *db)
    assert "gsm7" in listed.split("intl")[1].splitlines()[0]
    assert "ascii" in listed.split("cmcc-1")[1].splitlines()[0]
    assert "alphabet=latin1" in invoke("channel", "edit", "intl", "--alphabet", "latin1", *db)
    assert "latin1" in invoke("channel", "list", *db)
    refused = runner.invoke(app, ["channel", "edit", "cmcc-1", "--alphabet", "gsm7", *db])
    assert refused.exit_code == 1 and "for SMPP channels" in refused.output
    unknown = runner.invoke(app, ["channel", "edit", "intl", "--alphabet", "ebcdic", *db])
    assert unknown.exit_code == 2
    missing = runner.invoke(app, ["channel", "edit", "nowhere", "--alphabet", "gsm7", *db])
    assert missing.exit_code == 1 and "no channel" in missing.output


def test_account_default_kind_is_set_on_create_and_edit(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"]
    invoke("init", *db)
    account = ["acme", "--password", "s3cret", "--customer", "ACME"]
    invoke("account", "create", *account, "--default-kind", "marketing", *db)
    assert json.loads(invoke("account", "show", "acme", *db))["default_kind"] == "marketing"
    assert "default kind verification" in invoke(
        "account", "edit", "acme", "--default-kind", "verification", *db
    )
    assert json.loads(invoke("account", "show", "acme", *db))["default_kind"] == "verification"
    assert "classified" in invoke("account", "edit", "acme", "--default-kind", "none", *db)
    assert json.loads(invoke("account", "show", "acme", *db))["default_kind"] is None
    bad = runner.invoke(app, ["account", "edit", "acme", "--default-kind", "spam", *db])
    assert bad.exit_code == 1 and "default_kind must be one of" in bad.output
    bad = runner.invoke(app, ["account", "create", "b", "--password", "p", "--customer", "B",
                              "--default-kind", "spam", *db])  # fmt: skip
    assert bad.exit_code == 1 and "default_kind must be one of" in bad.output
    assert runner.invoke(app, ["account", "edit", "acme", *db]).exit_code == 1


def test_failures_exit_non_zero_with_a_reason(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"]
    result = runner.invoke(app, ["account", "recharge", "nobody", "5", *db])
    assert result.exit_code == 1 and "no database at" in result.output
    invoke("init", *db)
    result = runner.invoke(app, ["account", "recharge", "nobody", "5", *db])
    assert result.exit_code == 1 and "no account" in result.output
    result = runner.invoke(app, ["number-override", "12345", "cmcc", *db])
    assert result.exit_code == 1 and "not a mainland mobile number" in result.output
    assert runner.invoke(app, ["simulate", "xmpp"]).exit_code == 1


@pytest.fixture
def process_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} not printed; got {''.join(seen)!r}")


@pytest.fixture
def demo(tmp_path: Path, process_env: dict[str, str]) -> Iterator[tuple[dict[str, str], str]]:
    port = free_port()
    process = subprocess.Popen(
        [*DUANXIN, "demo", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=process_env,
    )
    try:
        output = _wait_for_line(process, "c.listen()")  # the last line it prints
        facts = json.loads((tmp_path / "demo.json").read_text())
        yield facts, output
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


def test_demo_prints_commands_that_send_and_whose_report_can_be_pulled(
    demo: tuple[dict[str, str], str], process_env: dict[str, str]
) -> None:
    facts, output = demo
    assert facts["url"].startswith("http://127.0.0.1:")
    assert set(facts["simulators"]) == {"cmpp", "sgip", "smgp"}
    curl_line = next(line for line in output.splitlines() if line.strip().startswith("D=$("))
    answer = subprocess.run(
        ["bash", "-c", curl_line], capture_output=True, text=True, timeout=30, check=True
    )
    sent = json.loads(answer.stdout)
    assert sent["status"] == "0" and sent["list"][0]["result"] == 0
    # The printed commands run as pasted into a shell (no .venv/bin/ to add, no activation).
    send_line = next(line for line in output.splitlines() if "duanxin send" in line)
    by_cli = subprocess.run(
        ["bash", "-c", send_line], capture_output=True, text=True, timeout=60, env=process_env
    )
    assert by_cli.returncode == 0, by_cli.stdout + by_cli.stderr
    assert json.loads(by_cli.stdout)["list"][0]["result"] == 0  # the wire answer, as JSON
    python_line = next(line for line in output.splitlines() if " -c " in line)
    by_python = subprocess.run(
        ["bash", "-c", python_line], capture_output=True, text=True, timeout=60, env=process_env
    )
    assert by_python.returncode == 0 and "SendResult" in by_python.stdout, by_python.stderr
    export = next(line for line in output.splitlines() if "export DUANXIN_CONFIG=" in line)
    later = subprocess.run(
        ["bash", "-c", f"{export.strip()} && {send_line.split(' send ')[0]} balance"],
        capture_output=True,
        text=True,
        timeout=60,
        env=process_env,
    )
    assert later.returncode == 0 and str(json.loads(later.stdout)["status"]) == "0", later.stderr
    token = facts["operator_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    listed = httpx.get(facts["url"] + "/admin/accounts", headers=bearer)
    assert listed.status_code == 200 and listed.json()[0]["account"] == facts["account"]
    with Client(
        facts["url"], facts["secret_id"], facts["secret_key"], facts["account"], facts["password"]
    ) as client:
        _check_report_and_reply(client, facts, sent)
    _check_console_sign_ins(facts, output)


def _check_console_sign_ins(facts: dict[str, str], output: str) -> None:
    """The demo prints both console sign-ins, and both sign in."""
    assert facts["console_url"] == facts["url"] + "/console/login"
    assert facts["customer_console_url"] == facts["url"] + "/console/my/login"
    assert facts["console_url"] in output and facts["operator_password"] in output
    assert facts["customer_console_url"] in output
    signed_in = [
        _signs_in(facts["console_url"], facts["operator_user"], facts["operator_password"]),
        _signs_in(facts["customer_console_url"], facts["account"], facts["password"]),
    ]
    assert signed_in == ["/console/", "/console/my/"]


def _signs_in(url: str, name: str, password: str) -> str | None:
    with httpx.Client() as browser:
        form = browser.get(url).text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        answer = browser.post(url, data={"csrf": csrf, "name": name, "password": password})
        return answer.headers.get("location") if answer.status_code == 303 else None


def test_the_demos_smpp_snippet_runs_as_printed_and_gets_its_receipt(
    demo: tuple[dict[str, str], str], process_env: dict[str, str]
) -> None:
    facts, output = demo
    assert set(facts["access"]) == {"cmpp", "smpp"}
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "import smpplib" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("c.listen()"))
    command = "\n".join(lines[start : end + 1])
    env = {**process_env, "PYTHONUNBUFFERED": "1"}
    customer = subprocess.Popen(
        ["bash", "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        received = _wait_for_line(customer, "got")  # the delivery receipt, as deliver_sm
    finally:
        customer.kill()
        customer.wait()
        assert customer.stdout is not None
        customer.stdout.close()
    assert "stat:DELIVRD" in received


def _check_report_and_reply(client: Client, facts: dict[str, str], sent: dict[str, object]) -> None:
    listing = sent["list"]
    assert isinstance(listing, list)
    mid = listing[0]["mid"]
    mids = {mid}
    reported: dict[str, str] = {}

    def all_reported() -> bool:
        reported.update({r.mid: r.stat for r in client.reports()})
        return mids <= reported.keys()

    poll_until(all_reported, 20)
    assert reported[mid] == "DELIVRD"
    reply = httpx.post(
        facts["url"] + "/demo/mo",
        data={"mobile": "13800138000", "to": facts["access_code"], "content": "收到"},
    )
    assert reply.json()["status"] == 0
    replies: list[str] = []

    def replied() -> bool:
        replies.extend(r.content for r in client.replies())
        return bool(replies)

    poll_until(replied, 20)
    assert replies == ["收到"]


def test_simulate_runs_a_carrier_in_the_foreground(process_env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*DUANXIN, "simulate", "smpp", "--port", str(port), "--account", "a", "--password", "b"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=process_env,
    )
    try:
        _wait_for_line(process, f"listening on 127.0.0.1:{port}")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
