"""The `duanxin` command's expected failures: one line naming the cause and what to do,
a non-zero exit, no traceback (``--debug`` shows it); ``--json`` output; settings files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duanxin.cli import app
from duanxin.runtime import free_port
from tests.conftest import Stack

runner = CliRunner()
DUANXIN = [sys.executable, "-m", "duanxin.cli"]


def _one_line_failure(args: list[str], env: dict[str, str] | None = None) -> str:
    """Run ``duanxin args`` as a process; its failure must be one line, no traceback."""
    done = subprocess.run(
        [*DUANXIN, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _db(tmp_path: Path) -> list[str]:
    return ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"]


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_server_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    credentials = ["--secret-id", "a", "--secret-key", "b", "--account", "c", "--password", "d"]
    line = _one_line_failure(["send", "--url", url, *credentials, "13800138000", "hi"])
    assert f"cannot reach {url}" in line and "duanxin serve" in line


def test_database_unreachable() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    line = _one_line_failure(["account", "list", "--database-url", url])
    assert "cannot use the database" in line and "--database-url" in line


def test_bad_setting_names_it_and_the_accepted_values(tmp_path: Path) -> None:
    line = _one_line_failure(["serve", *_db(tmp_path)], {"DUANXIN_ROLE": "boss"})
    assert "role" in line and "DUANXIN_ROLE" in line and "'all', 'api' or 'worker'" in line
    line = _one_line_failure(["account", "list"], {"DUANXIN_LOG_FORMAT": "xml"})
    assert "log_format" in line and "'text' or 'json'" in line
    line = _one_line_failure(["init", *_db(tmp_path)], {"DUANXIN_ENCRYPTION_KEY": "short"})
    assert "encryption_key" in line and "keygen" in line and "short" not in line.split(":")[0]


def test_no_encryption_key_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DUANXIN_ENCRYPTION_KEY"}
    done = subprocess.run(
        [*DUANXIN, "init", *_db(tmp_path)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "encryption_key" in done.stderr and "duanxin keygen" in done.stderr


def test_duplicate_unknown_and_bad_values(tmp_path: Path) -> None:
    db = _db(tmp_path)
    _invoke("init", *db)
    create = ["account", "create", "acme", "--password", "pw", "--customer", "ACME", *db]
    _invoke(*create)
    for args, needle in [
        (create, "already exists"),
        (["channel", "disable", "nope", *db], "no channel 'nope'"),
        (["account", "recharge", "nobody", "5", *db], "no account 'nobody'"),
        (["account", "set", "acme", "state=gone", *db], "state must be one of"),
        (["channel", "route", "acme", "mars", "x", *db], "carrier must be one of"),
        (["key", "revoke", "AKIDnothing", *db], "no API key"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert needle in result.output and len(result.output.strip().splitlines()) == 1
    listed = json.loads(_invoke("key", "list", "--json", *db))
    assert len(listed) == 1  # the refused duplicate left no second customer key


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [*DUANXIN, "--debug", "account", "recharge", "nobody", "5", *_db(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_json_output_parses_and_tables_are_not_cut(tmp_path: Path) -> None:
    db = _db(tmp_path)
    _invoke("init", *db)
    _invoke("account", "create", "acme", "--password", "pw", "--customer", "ACME", *db)
    name = "a-channel-with-a-rather-long-name-for-the-table-" + "x" * 40
    _invoke("channel", "add", name, "--protocol", "smpp", "--host", "127.0.0.1",
            "--port", "2775", "--account", "esme", "--password", "pw",
            "--access-code", "10690001", *db)  # fmt: skip
    for command in (
        ["account", "list"],
        ["account", "show", "acme"],
        ["channel", "list"],
        ["key", "list"],
        ["token", "list"],
        ["signature", "list"],
        ["template", "list"],
        ["blacklist", "list"],
        ["optout", "list", "acme"],
        ["words", "list"],
        ["frequency", "show", "acme"],
        ["audit", "list"],
    ):
        parsed = json.loads(_invoke(*command, "--json", *db))
        assert parsed is not None
    channels = json.loads(_invoke("channel", "list", "--json", *db))
    assert channels[0]["name"] == name and "password" not in channels[0]
    table = _invoke("channel", "list", *db)
    assert name in table  # whole, on one line, although wider than 80 columns


def test_settings_file_is_read_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "from-file.db"
    config = tmp_path / "duanxin.toml"
    config.write_text(f'database_url = "sqlite+aiosqlite:///{database}"\n')
    monkeypatch.setenv("DUANXIN_CONFIG", "")  # recorded: restored (unset) after the test
    _invoke("--config", str(config), "init")
    assert database.exists()
    _invoke("--config", str(config), "account", "create", "acme", "--password", "pw",
            "--customer", "ACME")  # fmt: skip
    monkeypatch.chdir(tmp_path)  # ./duanxin.toml is found without --config
    monkeypatch.setenv("DUANXIN_CONFIG", "")
    assert json.loads(_invoke("account", "list", "--json"))[0]["account"] == "acme"
    monkeypatch.setenv("DUANXIN_CONFIG", str(tmp_path / "missing.toml"))
    result = runner.invoke(app, ["account", "list"])
    assert result.exit_code == 1 and "no such settings file" in result.output


def test_a_missing_database_is_not_created_silently(tmp_path: Path) -> None:
    result = runner.invoke(app, ["account", "list", *_db(tmp_path)])
    assert result.exit_code == 1 and "duanxin init" in result.output
    assert not (tmp_path / "ops.db").exists()


async def test_send_prints_the_wire_answer_with_sendtime_and_idempotency_key(
    stack: Stack,
) -> None:
    import asyncio
    from datetime import timedelta

    facts = stack.facts
    credentials = [
        *("--url", facts.url, "--secret-id", facts.secret_id, "--secret-key", facts.secret_key),
        *("--account", facts.account, "--password", facts.password),
    ]
    later = (stack.running.platform.clock() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    args = ["send", *credentials, "--sendtime", later, "--idempotency-key", "k-1",
            "13900139000", "您的验证码是1234"]  # fmt: skip
    first = await asyncio.to_thread(runner.invoke, app, args)
    again = await asyncio.to_thread(runner.invoke, app, args)
    assert first.exit_code == 0, first.output
    answer = json.loads(first.output)
    assert answer["status"] == "0" and answer["list"][0]["result"] == 0
    assert again.output == first.output  # the first answer, byte for byte
    refused = await asyncio.to_thread(
        runner.invoke, app, ["balance", *credentials[:-2], "--password", "wrong"]
    )
    assert refused.exit_code == 1 and json.loads(refused.output)["status"] == 3
