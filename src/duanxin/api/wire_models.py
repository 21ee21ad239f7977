"""The four published endpoints and the customer REST as declared data: their parameters
and the shapes of their answers. The routes of :mod:`duanxin.api.seed` and
:mod:`duanxin.api.customer` are built from these declarations and the OpenAPI document
(:mod:`duanxin.api.openapi`) is generated from them; the answers themselves are rendered
byte for byte by :mod:`duanxin.api.render`, and a test checks them against these models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from duanxin.domain.numbers import MAX_NUMBERS
from duanxin.domain.policy.engine import MAX_CONTENT_CHARS

__all__ = [
    "AUTH_PARAMS",
    "BalanceAnswer",
    "CustomerAnswer",
    "Param",
    "PullAnswer",
    "ReplyItem",
    "ReportItem",
    "SendAnswer",
    "SendItem",
]


@dataclass(frozen=True, slots=True)
class Param:
    """One request parameter (form field, JSON member or query parameter)."""

    name: str
    description: str
    required: bool = False
    example: str | None = None
    enum: tuple[str, ...] = ()


AUTH_PARAMS = (
    Param("account", "The account (SPEC 2.2).", required=True, example="demo"),
    Param("password", "Its password.", required=True, example="s3cret"),
)
RT = Param("rt", "Answer format; only json.", enum=("json",))
VERSION = Param("version", "API version; 1 (or 1.0, v1) if given.")


class SendItem(BaseModel):
    mid: str = Field(description="Message id, 16 hex digits; null when not accepted.")
    mobile: str
    result: int = Field(description="0 accepted; otherwise why this number was refused.")


class SendAnswer(BaseModel):
    """``/smssend``: ``status`` is a string, as the published page has it."""

    status: str = Field(examples=["0"], description='"0": accepted; else the refusal.')
    balance: int
    list: list[SendItem] | None
    msg: str


class BalanceAnswer(BaseModel):
    """``/smsoverage``: ``status`` is an integer here."""

    status: int = Field(examples=[0])
    balance: int
    chargeType: Literal["PRECHARGE", "POSTCHARGE"]
    msg: str
    segments: int | None = Field(
        default=None, description="Units one number costs for `content` (when given)."
    )


class ReportItem(BaseModel):
    flag: Literal[1]
    mid: str
    spid: str
    accessCode: str
    mobile: str
    stat: str = Field(description="DELIVRD, UNDELIV, EXPIRED, ... (7 characters).")
    time: str = Field(examples=["2026-12-02 10:00:00"])


class ReplyItem(BaseModel):
    flag: Literal[0]
    mid: str
    spid: str
    accessCode: str
    mobile: str
    content: str
    time: str = Field(examples=["2026-12-02 10:00:00"])


class PullAnswer(BaseModel):
    """``/smsreport`` (items with flag 1) and ``/smsmo`` (flag 0)."""

    status: str = Field(examples=["0"])
    balance: int
    list: list[ReportItem | ReplyItem] | None
    msg: str


class CustomerAnswer(BaseModel):
    """``/customer/...``: ``status`` 0 with ``signature``, ``template`` or ``list``;
    otherwise ``status`` and ``msg`` (the REST error shape, HTTP 200)."""

    status: int
    msg: str
    signature: dict[str, object] | None = None
    template: dict[str, object] | None = None
    items: list[dict[str, object]] | None = Field(default=None, alias="list")


SEND_PARAMS = (
    *AUTH_PARAMS,
    Param(
        "mobile",
        f"Numbers, comma-separated, at most {MAX_NUMBERS}.",
        required=True,
        example="13800138000",
    ),
    Param(
        "content",
        f"The text, signature included, at most {MAX_CONTENT_CHARS} characters.",
        required=True,
        example="【duanxin】您的验证码是1234",
    ),
    Param("extno", "Extension appended to the access code (digits)."),
    Param("sendtime", "Send later: YYYY-MM-DD HH:MM:SS, platform time, at most 7 days."),
    Param("action", "send, if given.", enum=("send",)),
    Param("reqid", "Idempotency key (as the Idempotency-Key header), at most 64 chars."),
    RT,
    VERSION,
)
BALANCE_PARAMS = (
    *AUTH_PARAMS,
    Param("action", "balance, if given.", enum=("balance",)),
    Param("content", "Also answer how many units one number costs for this text."),
    RT,
    VERSION,
)
REPORT_PARAMS = (
    *AUTH_PARAMS,
    Param("action", "report, if given.", enum=("report",)),
    Param("size", "At most this many, 10..10000 (default 1000)."),
    RT,
    VERSION,
)
MO_PARAMS = (
    *AUTH_PARAMS,
    Param("action", "mo, if given.", enum=("mo",)),
    Param("size", "At most this many, 10..1000 (default 1000)."),
    Param("szie", "The published page's spelling of size."),
    RT,
    VERSION,
)
