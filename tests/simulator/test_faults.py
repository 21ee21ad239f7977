"""parse_faults: the profile language, good and bad, and the CLI's one-line error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from duanxin.cli import app
from duanxin.simulator.faults import Faults, ReceiptIds, SubmitFate, parse_faults


def test_an_empty_profile_is_a_well_behaved_gateway() -> None:
    assert parse_faults("") == Faults()
    assert parse_faults(" , ") == Faults()
    assert not Faults().any


def test_every_item_parses() -> None:
    faults = parse_faults(
        "throttle:0.2, busy:0.1,refuse:0.05:0x45,refuse-segment:2,slow:1.5,silent:0.01,"
        "drop-every:500,duplicate-reports,early-reports,enroute,ack-deliver,decimal-ids"
    )
    assert faults == Faults(
        throttle=0.2,
        busy=0.1,
        refuse=0.05,
        refuse_code=0x45,
        refuse_segment=2,
        slow=1.5,
        silent=0.01,
        drop_every=500,
        duplicate_reports=True,
        early_reports=True,
        enroute=True,
        ack_deliver=True,
        receipt_ids=ReceiptIds.DECIMAL,
    )
    assert faults.any
    assert parse_faults(str(faults)) == faults  # renders back to what it parses from
    assert parse_faults("hex-ids").receipt_ids is ReceiptIds.HEX
    assert parse_faults("refuse:1:13").refuse_code == 13
    assert parse_faults("THROTTLE:1").throttle == 1.0


def test_the_shares_split_one_draw() -> None:
    faults = parse_faults("throttle:0.25,busy:0.25,refuse:0.25,silent:0.25")
    assert faults.fate(0.1) is SubmitFate.THROTTLE
    assert faults.fate(0.3) is SubmitFate.BUSY
    assert faults.fate(0.6) is SubmitFate.REFUSE
    assert faults.fate(0.9) is SubmitFate.SILENT
    assert parse_faults("throttle:0.5").fate(0.7) is SubmitFate.ACCEPT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("thrtotle:0.2", "unknown fault 'thrtotle:0.2'"),
        ("throttle", "bad fault 'throttle': takes 1 argument(s), got 0"),
        ("throttle:abc", "bad fault 'throttle:abc': 'abc' is not a number"),
        ("throttle:1.5", "bad fault 'throttle:1.5': share '1.5' must be between 0 and 1"),
        ("throttle:nan", "share 'nan' must be between 0 and 1"),
        ("enroute:1", "bad fault 'enroute:1': takes 0 argument(s), got 1"),
        ("drop-every:0", "bad fault 'drop-every:0': '0' must be 1 or more"),
        ("drop-every:2.5", "'2.5' is not a whole number"),
        ("refuse-segment:x", "'x' is not a whole number"),
        ("slow:-1", "'-1' must be 0 or more seconds"),
        ("refuse:0.1:zz", "'zz' is not a result code"),
        ("refuse:0.1:0", "must be a non-zero 32-bit value"),
        ("refuse:0.1:1:2", "takes 1 to 2 argument(s), got 3"),
        ("enroute,enroute", "fault 'enroute' given twice"),
        ("decimal-ids,hex-ids", "exclude each other"),
        ("throttle:0.6,busy:0.5", "add up to 1.1 > 1"),
    ],
)
def test_bad_profiles_name_the_bad_item(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_faults(text)
    assert message in str(raised.value)


def test_the_cli_turns_a_bad_profile_into_one_error_line() -> None:
    result = CliRunner().invoke(app, ["simulate", "cmpp", "--faults", "throttle:2"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert lines == ["error: --faults: bad fault 'throttle:2': share '2' must be between 0 and 1"]
