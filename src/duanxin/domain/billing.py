"""Charging: the two kinds of account. One unit per segment per number; the segment count
is :func:`duanxin.domain.segments.count_segments`, and the charge itself is an atomic
database update that refuses a prepaid account short of units."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ChargeType"]


class ChargeType(StrEnum):
    PRECHARGE = "PRECHARGE"  # prepaid: refused when the balance cannot cover the request
    POSTCHARGE = "POSTCHARGE"  # billed later: the balance may go negative
