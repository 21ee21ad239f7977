"""The database schema, as SQLAlchemy Core tables (migrations in ``store/migrations``).

Message ids (``mid``) are kept as their 16-hex-digit rendering: the 64-bit value does not
fit PostgreSQL's signed BIGINT, and the text is what every API hands out anyway.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "accounts",
    "api_keys",
    "audit_log",
    "blacklist",
    "callbacks",
    "channels",
    "console_sessions",
    "customers",
    "frequency_limits",
    "idempotency",
    "ledger",
    "message_events",
    "messages",
    "metadata",
    "number_overrides",
    "operator_tokens",
    "operator_users",
    "optouts",
    "orphan_reports",
    "push_batches",
    "push_outcomes",
    "replies",
    "reports",
    "routes",
    "segments",
    "sensitive_words",
    "signatures",
    "signin_failures",
    "stat_failures",
    "stats",
    "templates",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MID = String(16)
Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("secret_id", String(64), primary_key=True),
    Column("secret_key", String(255), nullable=False),  # encrypted (store/crypto.py)
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=True),  # None: until revoked
    Column("revoked_at", DateTime, nullable=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("account", String(32), nullable=False, unique=True),
    # Kept as given: CMPP logins need the shared secret itself to check the MD5 digest.
    Column("password", String(255), nullable=False),  # encrypted (store/crypto.py)
    Column("spid", String(16), nullable=False),
    Column("extno", String(12), nullable=False, default=""),
    Column("charge_type", String(16), nullable=False),
    Column("balance", BigInteger, nullable=False, default=0),
    Column("refund_on_failure", Boolean, nullable=False, default=False),
    Column("state", String(16), nullable=False),
    # http, cmpp, smpp or a comma-separated set of them (domain.accounts.AccessType)
    Column("access_type", String(16), nullable=False),
    Column("ip_whitelist", Text, nullable=False, default=""),
    Column("max_concurrency", Integer, nullable=False, default=0),
    Column("template_required", Boolean, nullable=False, default=False),
    Column("default_signature", String(32), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    # verification | notification | marketing: the kind of content matching no template
    # (NULL: the classifier of domain/policy/classifier.py decides).
    Column("default_kind", String(16), nullable=True),
    # Messages per second over every front door (0: no limit).
    Column("tps", Integer, nullable=False, default=0, server_default="0"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("protocol", String(8), nullable=False),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("account", String(32), nullable=False),
    Column("password", String(255), nullable=False),  # encrypted (store/crypto.py)
    Column("access_code", String(21), nullable=False),
    Column("service_id", String(10), nullable=False, default=""),
    Column("sp_code", String(16), nullable=False, default=""),
    Column("version", Integer),
    Column("window", Integer, nullable=False, default=16),
    Column("max_connections", Integer, nullable=False, default=1, server_default="1"),
    Column("tps", Integer, nullable=False, default=0),
    Column("long_report", String(8), nullable=False, default="all"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("settings", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
)

routes = Table(
    "routes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("carrier", String(8), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("channel_id", ForeignKey("channels.id"), nullable=False),
    UniqueConstraint("account_id", "carrier", "channel_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("mid", MID, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("mobile", String(16), nullable=False),
    Column("carrier", String(8), nullable=False),
    Column("content", Text, nullable=False),
    Column("extno", String(12), nullable=False, default=""),
    Column("segments", Integer, nullable=False),
    Column("charged", Integer, nullable=False),
    # queued → submitting → submitted → done; a refused number is stored as done at once.
    Column("state", String(12), nullable=False),
    Column("not_before", DateTime),
    Column("channel_id", ForeignKey("channels.id")),
    Column("source", String(21), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("stat", String(7)),
    Column("created_at", DateTime, nullable=False),
    Column("submitted_at", DateTime),
    Column("done_at", DateTime),
    # The node id of the worker holding a "submitting" claim (cluster mode): another
    # worker gives the claim back as soon as that node's lease is gone.
    Column("claimed_by", Integer),
    # The front door it came through (http, cmpp, smpp ...) and the API key (SecretId).
    Column("via", String(8), nullable=True),
    Column("key_id", String(64), nullable=True),
    Index("ix_messages_state_not_before", "state", "not_before"),
    Index("ix_messages_account_created", "account_id", "created_at"),
    Index("ix_messages_mobile_created", "mobile", "created_at"),
    Index("ix_messages_created_at", "created_at"),  # the console's day and hour figures
)

# One row per copy of a segment a carrier accepted: usually one per segment number, more
# when a resent or retried submit was accepted too (each copy's report must find it).
segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("mid", MID, ForeignKey("messages.mid"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("channel_id", ForeignKey("channels.id"), nullable=False),
    Column("carrier_id", String(64), nullable=False),
    Column("stat", String(7)),
    Column("reported_at", DateTime),  # when the report arrived
    Column("carrier_time", DateTime, nullable=True),  # the report's own time (Done_Time ...)
    Index("ix_segments_channel_carrier_id", "channel_id", "carrier_id"),
    Index("ix_segments_mid", "mid"),
)

# What happened to a message on its way to a carrier, when it was not a plain first-try
# submit: throttled, retried, refused, failed over, answered late ... (see
# store.messages.EventKind). Written in batches with the submit results.
message_events = Table(
    "message_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("mid", MID, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("channel_id", ForeignKey("channels.id")),
    Column("detail", String(64), nullable=False),
    Index("ix_message_events_mid", "mid", "id"),
)

orphan_reports = Table(
    "orphan_reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", ForeignKey("channels.id"), nullable=False),
    Column("carrier_id", String(64), nullable=False),
    Column("mobile", String(21), nullable=False),
    Column("stat", String(7), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Index("ix_orphan_reports_channel_carrier_id", "channel_id", "carrier_id"),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("mid", MID, nullable=False, unique=True),
    Column("mobile", String(16), nullable=False),
    Column("stat", String(7), nullable=False),
    Column("access_code", String(21), nullable=False),
    Column("reported_at", DateTime, nullable=False),
    # True once handed out (pulled, pushed or delivered); while a consumer holds an item it
    # is claimed (claimed_by, claimed_until) and no other consumer takes it until then.
    Column("pulled", Boolean, nullable=False, default=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", DateTime, nullable=True),
    Index("ix_reports_account_pulled", "account_id", "pulled", "id"),
)

replies = Table(
    "replies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("mid", MID, nullable=False),
    Column("mobile", String(21), nullable=False),
    Column("access_code", String(21), nullable=False),
    Column("content", Text, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("pulled", Boolean, nullable=False, default=False),  # as reports.pulled
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", DateTime, nullable=True),
    Index("ix_replies_account_pulled", "account_id", "pulled", "id"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("reference", String(64), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Index("ix_ledger_account", "account_id", "id"),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

number_overrides = Table(
    "number_overrides",
    metadata,
    Column("mobile", String(11), primary_key=True),
    Column("carrier", String(8), nullable=False),
)

optouts = Table(
    "optouts",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("mobile", String(11), primary_key=True),
    Column("created_at", DateTime, nullable=False),
)

operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
)

signatures = Table(
    "signatures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("text", String(32), nullable=False),
    Column("state", String(12), nullable=False),  # pending, approved, rejected
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("decided_at", DateTime),
    Column("decided_by", String(64)),
    UniqueConstraint("account_id", "text"),
)

templates = Table(
    "templates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # verification, notification, marketing
    Column("text", Text, nullable=False),
    Column("state", String(12), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("decided_at", DateTime),
    Column("decided_by", String(64)),
    Index("ix_templates_account_state", "account_id", "state"),
)

blacklist = Table(
    "blacklist",
    metadata,
    Column("mobile", String(11), primary_key=True),
    Column("reason", String(128), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
)

sensitive_words = Table(
    "sensitive_words",
    metadata,
    Column("word", String(64), primary_key=True),
    Column("category", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

frequency_limits = Table(
    "frequency_limits",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("limits", JSON, nullable=False),  # [[count, window_seconds], ...]
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
)

# Push callbacks: per account a URL for reports and one for replies, and the signing secret
# (Standard Webhooks ``whsec_...``); after a rotation the previous secret keeps signing
# alongside until ``previous_until``.
callbacks = Table(
    "callbacks",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("reports_url", String(512), nullable=False, default=""),
    Column("replies_url", String(512), nullable=False, default=""),
    # Why the URL stopped being used ("" while in use): e.g. the receiver answered 410.
    Column("reports_disabled", String(64), nullable=False, default=""),
    Column("replies_disabled", String(64), nullable=False, default=""),
    Column("secret", String(80), nullable=False),
    Column("previous_secret", String(80), nullable=True),
    Column("previous_until", DateTime, nullable=True),
    Column("updated_at", DateTime, nullable=False),
)

# A batch of inbox items on its way to a callback: the items stay claimed by
# ``push:<webhook_id>`` while it is retried; the body is kept so each retry sends the same.
push_batches = Table(
    "push_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("webhook_id", String(40), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # reports | replies
    Column("item_ids", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("give_up_at", DateTime, nullable=False),
    Column("last_error", String(128), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Index("ix_push_batches_next_attempt_at", "next_attempt_at"),
)

# What the last tries to push to an account's callback URLs came to (the newest
# ``PUSH_OUTCOMES_KEPT`` per account and kind; older rows are deleted as new ones come).
push_outcomes = Table(
    "push_outcomes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # reports | replies
    Column("url", String(512), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | failed | refused | gone | given_up
    Column("http_status", Integer, nullable=True),  # None: no answer
    Column("error", String(128), nullable=False, default=""),
    Column("items", Integer, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),  # 1: the batch's first try; 0: a test
    Index("ix_push_outcomes_account_id_kind_id", "account_id", "kind", "id"),
)

# Statistics kept as messages move (store/stats.py): one row per period (an hour, and the
# day) x account x carrier x channel (0: none yet). ``submitted`` counts every number the
# customer sent (refused ones included), in the cell of the channel it is on now; the
# report delay (carrier report after submit) is a histogram over fixed buckets d0..dN.
STAT_DELAY_BUCKETS = 16
stats = Table(
    "stats",
    metadata,
    # Key order: one account's periods lie together (the customer's question); the index
    # on (grain, period) serves the operator's, over every account.
    Column("grain", String(1), primary_key=True),  # h | d
    Column("account_id", Integer, primary_key=True),
    Column("period", DateTime, primary_key=True),
    Column("carrier", String(8), primary_key=True),
    Column("channel_id", Integer, primary_key=True),
    Column("submitted", BigInteger, nullable=False, default=0),
    Column("delivered", BigInteger, nullable=False, default=0),
    Column("failed", BigInteger, nullable=False, default=0),
    Column("billed", BigInteger, nullable=False, default=0),
    Column("refunded", BigInteger, nullable=False, default=0),
    *(Column(f"d{i}", BigInteger, nullable=False, default=0) for i in range(STAT_DELAY_BUCKETS)),
    Index("ix_stats_grain_period", "grain", "period"),
)

stat_failures = Table(
    "stat_failures",
    metadata,
    Column("grain", String(1), primary_key=True),
    Column("account_id", Integer, primary_key=True),
    Column("period", DateTime, primary_key=True),
    Column("carrier", String(8), primary_key=True),
    Column("channel_id", Integer, primary_key=True),
    Column("stat", String(7), primary_key=True),
    Column("count", BigInteger, nullable=False, default=0),
    Index("ix_stat_failures_grain_period", "grain", "period"),
)

# The web console (issue 12): operator users, signed-in sessions (both operators and
# customers; only a hash of the cookie's token is kept), failed sign-ins (throttling).
operator_users = Table(
    "operator_users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("realm", String(16), nullable=False),  # operator | customer
    Column("subject", String(64), nullable=False),  # operator name or account name
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_console_sessions_expires_at", "expires_at"),
)

signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("realm", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_signin_failures_realm_name_at", "realm", "name", "at"),
    Index("ix_signin_failures_address_at", "address", "at"),
)

# The ids a CMPP/SMPP customer was given for a message, when they are not just its mid:
# each further segment of a long message has an id of its own, and every destination of
# a group SUBMIT shares the first one's. Each given id gets the message's report.
access_ids = Table(
    "access_ids",
    metadata,
    Column("mid", String(16), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("given_id", String(16), nullable=False),
)

# Who is logged in on the customer CMPP/SMPP servers, for `duanxin access connections`.
# ``consumer`` is the inbox consumer name the connection claims deliveries under.
access_connections = Table(
    "access_connections",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("node_id", Integer, nullable=False),
    Column("account", String(32), nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("bind_type", String(16), nullable=False),
    Column("peer", String(64), nullable=False),
    Column("since", DateTime, nullable=False),
)
