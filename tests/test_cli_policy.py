"""The policy commands of `duanxin`: signature, template, blacklist, optout, words,
frequency, audit, and `bench policy`; in-process on a fresh SQLite database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duanxin.cli import app

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    options = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'policy.db'}"]
    invoke("init", *options)
    invoke("account", "create", "acme", "--password", "pw", "--customer", "ACME", *options)
    return options


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0, result.output
    return result.output


def test_every_policy_group_has_help() -> None:
    for group in ("signature", "template", "blacklist", "optout", "words", "frequency", "audit"):
        assert runner.invoke(app, [group, "--help"]).exit_code == 0
    assert runner.invoke(app, ["bench", "policy", "--help"]).exit_code == 0


def test_signature_commands(db: list[str]) -> None:
    added = invoke("signature", "add", "acme", "阿克米", *db)
    number = re.search(r"signature (\d+) 【阿克米】: pending", added)
    assert number is not None
    assert "【阿克米】" in invoke("signature", "list", "--state", "pending", *db)
    fails("signature", "default", "acme", "【阿克米】", *db)  # not approved yet
    invoke("signature", "approve", number.group(1), "--by", "dora", *db)
    assert "default signature 【阿克米】" in invoke("signature", "default", "acme", "阿克米", *db)
    other = invoke("signature", "add", "acme", "【别名】", *db)
    other_id = re.search(r"signature (\d+)", other)
    assert other_id is not None
    invoke("signature", "reject", other_id.group(1), "--reason", "不清楚", *db)
    listing = invoke("signature", "list", "--account", "acme", *db)
    assert "approved" in listing and "rejected" in listing and "不清楚" in listing
    assert "2 to 12" in fails("signature", "add", "acme", "【一】", *db)
    assert "no account" in fails("signature", "add", "nobody", "公司", *db)


def test_template_commands(db: list[str]) -> None:
    assert "opt-out" in fails("template", "add", "acme", "marketing", "上新{1}", *db)
    added = invoke("template", "add", "acme", "verification", "验证码${code}", *db)
    number = re.search(r"template (\d+) \(verification\): pending", added)
    assert number is not None
    invoke("template", "approve", number.group(1), *db)
    second = invoke("template", "add", "acme", "notification", "订单{1}已发货", "--approve", *db)
    assert "approved" in second
    third = invoke("template", "add", "acme", "notification", "快递{1}到了", *db)
    third_id = re.search(r"template (\d+)", third)
    assert third_id is not None
    invoke("template", "reject", third_id.group(1), "--reason", "重复", *db)
    listing = invoke("template", "list", *db)
    assert listing.count("approved") == 2 and "rejected" in listing


def test_blacklist_and_optout_commands(db: list[str], tmp_path: Path) -> None:
    assert "added 2, already listed 0, invalid 1" in invoke(
        "blacklist", "add", "13800138000", "+8618600000000", "12", *db
    )
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("13800138000\n13900139000\nbad\n\n", encoding="utf-8")
    imported = invoke("blacklist", "import", str(numbers), "--reason", "complaints", *db)
    assert "added 1, already listed 1, invalid 1" in imported
    assert "line 3: bad: not a mainland mobile number" in imported
    assert "removed 1" in invoke("blacklist", "remove", "13800138000", *db)
    listing = invoke("blacklist", "list", *db)
    assert "13900139000" in listing and "2 numbers on the blacklist" in listing
    assert "added 1" in invoke("optout", "add", "acme", "18900000000", *db)
    assert "18900000000" in invoke("optout", "list", "acme", *db)
    assert "removed 1" in invoke("optout", "remove", "acme", "18900000000", *db)
    export = tmp_path / "optouts.csv"
    export.write_text(
        'mobile,note\n18900000001,by phone\n18900000002,13800138000\n"+8618900000003",\n',
        encoding="utf-8",
    )
    done = invoke("optout", "import", "acme", str(export), *db)
    assert "added 2, already listed 0, invalid 1" in done
    assert "line 3: 18900000002,13800138000: more than one number" in done
    listed = invoke("optout", "list", "acme", *db)
    assert "18900000001" in listed and "18900000003" in listed and "18900000002" not in listed


def test_words_commands(db: list[str], tmp_path: Path) -> None:
    assert "added" in invoke("words", "add", "发票", "--category", "fraud", *db)
    words = tmp_path / "words.txt"
    words.write_text("# list\n赌博\tgambling\n代开\n", encoding="utf-8")
    assert "added 2 new words" in invoke("words", "import", str(words), *db)
    listing = invoke("words", "list", *db)
    assert "fraud" in listing and "gambling" in listing and "发票" not in listing
    assert "发票\tfraud" in invoke("words", "list", "--words", *db)
    assert "removed 1" in invoke("words", "remove", "发票", *db)
    bad = tmp_path / "bad.txt"
    bad.write_text("ok\n* *\nfine\n" + "x" * 70 + "\n", encoding="utf-8")
    refused = fails("words", "import", str(bad), *db)
    assert "line 2: * *:" in refused and "line 4: " in refused
    assert "2 bad lines; nothing was imported" in refused
    assert "ok\tdefault" not in invoke("words", "list", "--words", *db)
    sheet = tmp_path / "words.csv"
    sheet.write_text('博彩,gambling\n"刷单",fraud\n', encoding="utf-8")
    assert "added 2 new words" in invoke("words", "import", str(sheet), *db)
    assert "刷单\tfraud" in invoke("words", "list", "--words", *db)


def test_frequency_and_audit_commands(db: list[str]) -> None:
    shown = invoke("frequency", "show", "acme", *db)
    assert "1/min, 5/hour, 10/day" in shown and "40/day" in shown
    assert "3/min" in invoke("frequency", "set", "acme", "verification", "3/min", *db)
    assert "none" in invoke("frequency", "set", "acme", "platform", "none", *db)
    restored = invoke("frequency", "set", "acme", "platform", "default", *db)
    assert "40/day" in restored
    fails("frequency", "set", "acme", "sometimes", "1/min", *db)
    fails("frequency", "set", "acme", "verification", "often", *db)
    invoke("blacklist", "add", "13800138000", "--by", "erin", *db)
    audit = invoke("audit", "list", "--actor", "erin", *db)
    assert "blacklist.add" in audit and "erin" in audit
    everything = invoke("audit", "list", "--action", "frequency.", *db)
    assert everything.count("frequency.set") == 3


def test_bench_policy_prints_the_cost_per_message() -> None:
    output = invoke("bench", "policy", "--templates", "50", "--words", "200", "--messages", "500")
    assert re.search(r"policy check: \d+(\.\d+)? µs per message", output)
