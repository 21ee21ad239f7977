"""One report per long message; carrier ids in any rendering; reply routing."""

from __future__ import annotations

from duanxin.domain.reports import (
    LongReport,
    carrier_id_variants,
    final_stat,
    is_opt_out,
    normalise_carrier_id,
    route_reply,
)


def test_all_policy_waits_for_every_segment_and_reports_the_first_failure() -> None:
    assert final_stat(["DELIVRD", None], LongReport.ALL) is None
    assert final_stat(["DELIVRD", "DELIVRD"], LongReport.ALL) == "DELIVRD"
    assert final_stat(["DELIVRD", "UNDELIV", "EXPIRED"], LongReport.ALL) == "UNDELIV"


def test_first_and_last_policies_take_one_segment() -> None:
    assert final_stat(["DELIVRD", None, None], LongReport.FIRST) == "DELIVRD"
    assert final_stat([None, None, None], LongReport.FIRST) is None
    assert final_stat([None, "EXPIRED"], LongReport.LAST) == "EXPIRED"


def test_smpp_ids_match_across_hex_decimal_case_and_zeros() -> None:
    stored = normalise_carrier_id("smpp", "0000A1B2")
    assert stored in carrier_id_variants("smpp", " a1b2 ")
    assert stored in carrier_id_variants("smpp", str(0xA1B2))
    decimal_stored = normalise_carrier_id("smpp", "41394")
    assert decimal_stored in carrier_id_variants("smpp", "A1B2")


def test_binary_ids_are_compared_as_they_are() -> None:
    assert carrier_id_variants("cmpp", "BE39E3C1E2400001") == {"be39e3c1e2400001"}


def test_reply_goes_to_the_longest_prefix() -> None:
    prefixes = [("106901234", 1), ("10690123456", 2), ("1069", 3)]
    assert route_reply("1069012345678", prefixes) == 2
    assert route_reply("106901234", prefixes) == 1
    assert route_reply("1065", prefixes) is None


def test_opt_out_words() -> None:
    assert is_opt_out(" td ") and is_opt_out("退订") and is_opt_out("0000")
    assert not is_opt_out("TD please")


def test_intermediate_stats_are_not_final_where_the_notes_say_so() -> None:
    from duanxin.domain.reports import is_final_stat

    assert not is_final_stat("smpp", "ENROUTE")
    assert not is_final_stat("smpp", "enroute\x00")
    assert is_final_stat("smpp", "ACCEPTD")  # SMPP: a final state
    assert not is_final_stat("cmpp", "ACCEPTD")  # CMPP: an intermediate one (notes §9)
    assert not is_final_stat("cmpp", "ENROUTE")
    assert not is_final_stat("smgp", "ENROUTE")
    assert is_final_stat("smgp", "ACCEPTD")
    for protocol in ("cmpp", "smgp", "smpp", "sgip"):
        for stat in ("DELIVRD", "UNDELIV", "EXPIRED", "MA:0001", "UNKNOWN", "REJECTD"):
            assert is_final_stat(protocol, stat), (protocol, stat)
