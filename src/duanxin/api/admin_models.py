"""The JSON bodies, queries and answers of the operator REST (``/admin``), as pydantic
models: requests are validated by them (a wrong field or type is 422 naming it, before
any change), answers rendered by them, and the OpenAPI document generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from duanxin.domain.accounts import AccessType, AccountState
from duanxin.domain.billing import ChargeType
from duanxin.domain.policy import TemplateKind
from duanxin.domain.reports import LongReport

__all__ = [
    "AccountCreate",
    "AccountCreated",
    "AccountPatch",
    "AccountView",
    "AuditQuery",
    "Balance",
    "BlacklistAdd",
    "BlacklistQuery",
    "ChannelCreate",
    "ChannelCreated",
    "ChannelPatch",
    "ChannelState",
    "ChannelView",
    "DefaultSignature",
    "FrequencyPatch",
    "ImportQuery",
    "KeyIssue",
    "KeyQuery",
    "Mobiles",
    "Recharge",
    "Reject",
    "ReviewQuery",
    "RouteSet",
    "RouteView",
    "TokenCreate",
    "TokenCreated",
    "WordAdd",
    "WordsQuery",
    "WordsRemove",
]

Protocol = Literal["cmpp", "sgip", "smgp", "smpp"]
Digits = Field(pattern=r"^[0-9]*$")


class Body(BaseModel):
    """A request body: unknown fields are refused, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters (text in the URL, so numbers are parsed)."""

    model_config = ConfigDict(extra="forbid")


class AccountCreate(Body):
    customer: str = Field(min_length=1, max_length=128, description="Created if new.")
    account: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=64)
    spid: str = Field(default="000000", max_length=16, pattern=r"^[0-9]+$")
    extno: str = Field(default="", max_length=12, pattern=r"^[0-9]*$")
    charge_type: ChargeType = ChargeType.PRECHARGE
    access_type: AccessType = AccessType.HTTP
    default_signature: str = Field(default="", max_length=32)
    default_kind: TemplateKind | None = None


class AccountCreated(BaseModel):
    account: str
    customer: str
    secret_id: str | None = Field(default=None, description="A new customer's first key.")
    secret_key: str | None = Field(default=None, description="Shown this once.")


class AccountPatch(Body):
    password: str | None = Field(default=None, min_length=1, max_length=64)
    spid: str | None = Field(default=None, max_length=16, pattern=r"^[0-9]+$")
    extno: str | None = Field(default=None, max_length=12, pattern=r"^[0-9]*$")
    charge_type: ChargeType | None = None
    refund_on_failure: bool | None = None
    state: AccountState | None = None
    access_type: AccessType | None = None
    ip_whitelist: str | None = Field(default=None, description="Addresses or CIDRs, commas.")
    max_concurrency: int | None = Field(default=None, ge=0, description="0: unlimited.")
    template_required: bool | None = None
    default_signature: str | None = Field(default=None, max_length=32)
    default_kind: TemplateKind | None = Field(default=None, description="null: classified.")


class AccountView(BaseModel):
    """An account as shown (never its password)."""

    id: int
    customer_id: int
    account: str
    spid: str
    extno: str
    charge_type: ChargeType
    balance: int
    refund_on_failure: bool
    state: AccountState
    access_type: AccessType
    ip_whitelist: str
    max_concurrency: int
    template_required: bool
    default_signature: str
    default_kind: TemplateKind | None


class Recharge(Body):
    amount: int = Field(description="Units to add; negative to deduct; not 0.")
    note: str = Field(default="", max_length=64)


class Balance(BaseModel):
    account: str
    balance: int


class ChannelSettings(BaseModel):
    """Free-form channel settings; the known ones are listed."""

    model_config = ConfigDict(extra="allow")

    response_timeout: float | None = None
    heartbeat_interval: float | None = None
    retry_attempts: int | None = None
    retry_backoff: float | None = None
    retry_backoff_max: float | None = None
    retry_window: float | None = None
    alphabet: Literal["ascii", "gsm7", "latin1"] | None = Field(
        default=None, description="SMPP only: what data_coding 0 means."
    )


class ChannelCreate(Body):
    name: str = Field(min_length=1, max_length=64)
    protocol: Protocol
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    account: str = Field(min_length=1, max_length=32, description="SP_Id / login / system_id.")
    password: str = Field(max_length=64)
    access_code: str = Field(min_length=1, max_length=21, description="Source number.")
    service_id: str = Field(default="", max_length=10)
    sp_code: str = Field(default="", max_length=16)
    version: int | None = Field(default=None, description="CMPP: 32 (2.0) or 48 (3.0).")
    window: int = Field(default=16, ge=1)
    tps: int = Field(default=0, ge=0, description="0: unlimited.")
    max_connections: int = Field(default=1, ge=1)
    long_report: LongReport = LongReport.ALL
    settings: ChannelSettings = Field(default_factory=ChannelSettings)


class ChannelPatch(Body):
    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    account: str | None = Field(default=None, min_length=1, max_length=32)
    password: str | None = Field(default=None, max_length=64)
    access_code: str | None = Field(default=None, min_length=1, max_length=21)
    service_id: str | None = Field(default=None, max_length=10)
    sp_code: str | None = Field(default=None, max_length=16)
    version: int | None = None
    window: int | None = Field(default=None, ge=1)
    tps: int | None = Field(default=None, ge=0)
    max_connections: int | None = Field(default=None, ge=1)
    long_report: LongReport | None = None
    settings: ChannelSettings | None = Field(default=None, description="Merged into the old.")


class ChannelView(BaseModel):
    """A channel as shown (never its password)."""

    id: int
    name: str
    protocol: Protocol
    host: str
    port: int
    account: str
    access_code: str
    service_id: str
    sp_code: str
    version: int | None
    window: int
    max_connections: int
    tps: int
    long_report: LongReport
    enabled: bool
    settings: dict[str, Any] = Field(description="As set (see ChannelSettings).")
    created_at: datetime


class ChannelCreated(BaseModel):
    id: int
    name: str


class ChannelState(BaseModel):
    name: str
    enabled: bool


class RouteSet(Body):
    channels: list[str] = Field(description="Channel names, most preferred first.")


class RouteView(BaseModel):
    account: str
    carrier: Literal["cmcc", "cucc", "ctcc"]
    channels: list[str]


class AuditQuery(Query):
    limit: int = Field(default=100, ge=1, le=10_000)
    actor: str | None = None
    action: str | None = Field(default=None, description="An action or its prefix.")


class ReviewQuery(Query):
    account: str | None = None
    state: Literal["pending", "approved", "rejected"] | None = None


class Reject(Body):
    reason: str = Field(default="", max_length=200)


class DefaultSignature(Body):
    signature: str = Field(default="", max_length=32, description="An approved one; '': none.")


class Mobiles(Body):
    mobiles: list[str] = Field(min_length=1)


class BlacklistAdd(Body):
    mobiles: list[str] = Field(min_length=1)
    reason: str = Field(default="", max_length=200)


class BlacklistQuery(Query):
    limit: int = Field(default=1000, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0)


class ImportQuery(Query):
    reason: str = ""
    category: str = "default"
    csv: bool = Field(default=False, description="A word file as word,category lines.")


class WordsQuery(Query):
    words: bool = Field(default=False, description="Also list the words themselves.")
    category: str | None = None


class WordAdd(Body):
    word: str = Field(min_length=1, max_length=64)
    category: str = Field(default="default", min_length=1, max_length=32)


class WordsRemove(Body):
    words: list[str] = Field(min_length=1)


class FrequencyPatch(Body):
    """Per-number limits like ``"1/min, 5/hour"``; ``""``: none; null: the default."""

    verification: str | None = None
    notification: str | None = None
    marketing: str | None = None
    platform: str | None = None


class KeyIssue(Body):
    customer: str = Field(min_length=1, max_length=128)
    expires_at: datetime | None = Field(
        default=None, description="Platform local time; null: until revoked."
    )


class KeyQuery(Query):
    customer: str | None = None


class TokenCreate(Body):
    name: str = Field(min_length=1, max_length=64, description="Audited under this name.")


class TokenCreated(BaseModel):
    token: str = Field(description="Shown this once.")
    name: str
