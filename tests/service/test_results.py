"""The typed outcomes of the service, and the idempotency record of a send."""

from __future__ import annotations

import dataclasses

import pytest

from duanxin.domain.billing import ChargeType
from duanxin.domain.status import NumberResult, Status, StatusError
from duanxin.service.results import BalanceOutcome, PullOutcome, SendEntry, SendOutcome


def test_a_send_outcome_survives_its_idempotency_record() -> None:
    outcome = SendOutcome(
        Status.OK,
        42,
        (
            SendEntry("0A1B", "13800138000", NumberResult.ACCEPTED),
            SendEntry("0A1C", "12345", NumberResult.INVALID),
        ),
        "ok",
    )
    again = SendOutcome.from_record(outcome.to_record())
    assert again == outcome
    assert isinstance(again.entries[1].result, NumberResult)  # type: ignore[index]


def test_a_record_written_before_typed_results_still_reads() -> None:
    # The wire body that releases before typed results stored for a repeated key.
    stored = (
        b'{"status":"0","balance":7,"list":[{"mid":"AB","mobile":"13800138000","result":5}],'
        b'"msg":"ok"}'
    )
    outcome = SendOutcome.from_record(stored)
    assert outcome.entries == (SendEntry("AB", "13800138000", NumberResult.REFUSED),)
    assert outcome.to_record() == stored


def test_failures_carry_the_status_and_reason_and_no_list() -> None:
    error = StatusError(Status.TOO_MANY_NUMBERS)
    assert SendOutcome.failure(error) == SendOutcome(
        Status.TOO_MANY_NUMBERS, 0, None, "too many numbers: at most 500 per request"
    )
    assert PullOutcome.failure(error).items is None
    refused = BalanceOutcome.failure(StatusError(Status.WRONG_ACCOUNT))
    assert (refused.balance, refused.charge_type, refused.segments) == (
        0,
        ChargeType.PRECHARGE,
        None,
    )


def test_outcomes_are_frozen() -> None:
    outcome = SendOutcome(Status.OK, 1, (), "ok")
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.balance = 2  # type: ignore[misc]
