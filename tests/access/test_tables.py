"""The one status table, and the README's copy of it."""

from __future__ import annotations

from pathlib import Path

from duanxin.access.tables import STATUS_CODES
from duanxin.domain.accounts import ACCESS_INTERFACES, AccessType
from duanxin.domain.status import Status

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_platform_status_has_its_protocol_codes() -> None:
    assert set(STATUS_CODES) == set(Status)


def test_login_refusals_are_told_apart_on_every_protocol() -> None:
    refusals = [
        Status.IP_NOT_ALLOWED,
        Status.WRONG_ACCOUNT,
        Status.VERSION,
        Status.ACCESS_POINT,
        Status.ACCOUNT_STATE,
        Status.TOO_MANY_CONNECTIONS,
    ]
    for column in ("cmpp_connect", "smpp_bind"):
        codes = [getattr(STATUS_CODES[s], column) for s in refusals]
        assert len(set(codes)) == len(codes) and 0 not in codes, column


def test_the_readme_shows_the_same_table() -> None:
    text = README.read_text(encoding="utf-8")
    for status, codes in STATUS_CODES.items():
        row = (
            f"| {int(status)} | {codes.cmpp_connect} | {codes.cmpp_submit} | "
            f"0x{codes.smpp_bind:02X} | 0x{codes.smpp_submit:02X} |"
        )
        assert row in text, row


def test_access_types_are_sets_in_any_order() -> None:
    assert AccessType("smpp, http") is AccessType.HTTP_SMPP
    assert AccessType("http,cmpp") is AccessType.BOTH
    assert AccessType("both,smpp") is AccessType.ALL
    assert AccessType.ALL.interfaces == {i.value for i in ACCESS_INTERFACES}
