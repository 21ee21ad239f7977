"""Charging arithmetic: one unit per segment per number."""

from __future__ import annotations

from enum import StrEnum

from duanxin.domain.segments import count_segments

__all__ = ["ChargeType", "can_afford", "units_for"]


class ChargeType(StrEnum):
    PRECHARGE = "PRECHARGE"  # prepaid: refused when the balance cannot cover the request
    POSTCHARGE = "POSTCHARGE"  # billed later: the balance may go negative


def units_for(content: str, numbers: int) -> int:
    """What sending ``content`` to ``numbers`` handsets costs."""
    return count_segments(content) * numbers


def can_afford(charge_type: ChargeType, balance: int, cost: int) -> bool:
    return charge_type is ChargeType.POSTCHARGE or balance >= cost
