"""Settings: one typed object, from CLI flags, ``DUANXIN_*`` environment variables and a
``duanxin.toml`` file (in that order of precedence).

The file is the one ``DUANXIN_CONFIG`` names (``duanxin --config`` sets it), else
``./duanxin.toml`` when present. Business objects (accounts, channels, routes) live in the
database, not here.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from duanxin.domain.policy.window import parse_window

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "Settings",
    "SettingsError",
    "config_path",
    "load_settings",
    "split_host_port",
]

CONFIG_ENV = "DUANXIN_CONFIG"
DEFAULT_CONFIG_FILE = "duanxin.toml"


class SettingsError(ValueError):
    """A setting that cannot be used, said in one line (which setting, what is accepted)."""


def config_path() -> Path | None:
    """The settings file in use: ``$DUANXIN_CONFIG``, else ``./duanxin.toml`` if present."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise SettingsError(f"{CONFIG_ENV}={named}: no such settings file")
        return path
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.is_file() else None


def split_host_port(text: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:9100"`` for IPv6) as a pair; ``ValueError`` if malformed."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port, got {text!r}")
    return host, int(port)


class Settings(BaseSettings):
    """Process settings; every field can be set as ``DUANXIN_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="DUANXIN_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_path()
        if path is None:
            return init_settings, env_settings
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, path)

    # Logging (duanxin.logs): level, and "text" lines or one JSON object per line.
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    access_log: bool = True  # one line per HTTP request
    # Key that encrypts the secrets kept recoverable (SecretKeys, carrier and account
    # passwords): a Fernet key (`duanxin keygen`). Required: there is no default.
    encryption_key: str | None = Field(default=None, repr=False)

    database_url: str = "sqlite+aiosqlite:///duanxin.db"
    bus_url: str = "memory://"
    redis_prefix: str = "duanxin:"  # every Redis key starts with it (one prefix per cluster)
    host: str = "127.0.0.1"
    port: int = 8080
    role: Literal["all", "api", "worker"] = "all"
    reuse_port: bool = False  # SO_REUSEPORT on the HTTP port (serve --workers N sets it)
    # Embedded mode (SQLite file, no Redis bus) with role "all": run delivery (carrier
    # connections, delivery worker, report matching, push callbacks, sweeper) in a child
    # process of its own, so that it and the HTTP API each get a core; work is handed over
    # through the database and a local Unix socket (duanxin.bus.local). Unset: on for
    # `duanxin serve` and `duanxin demo` on a machine with more than one core.
    delivery_process: bool | None = None
    delivery_socket: str = ""  # that socket's path; "": next to the SQLite file
    # The node id in message ids. Embedded mode: this or 1. Cluster (Redis bus): unset, a
    # free one is leased in Redis; set, it is leased, and a process refuses to start while
    # a live process holds it.
    node_id: int | None = Field(default=None, ge=0, le=(1 << 22) - 1)

    gateway_auth: bool = True  # SPEC 2.1; turn off only on private networks
    signature_window_seconds: int = 900
    trusted_proxies: list[str] = Field(default_factory=list)  # honour X-Forwarded-For from these
    max_body_bytes: int = 256 * 1024
    # Careless and hostile HTTP clients (duanxin.api.http_guard).
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)  # whole request head
    http_body_timeout_seconds: float = Field(default=10.0, gt=0)  # longest pause in a body
    http_max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    http_max_connections: int = Field(default=1000, ge=1)  # kept below the file limit
    http_max_connections_per_address: int = Field(default=100, ge=1)
    metrics_listen: str | None = None  # "host:port": /metrics there only, not on the API port
    metrics_token: str | None = None  # /metrics then requires Authorization: Bearer <token>
    idempotency_hours: float = 24.0
    account_cache_seconds: float = 2.0  # how soon another process sees account/route changes

    report_timeout_hours: float = 72.0  # then a message's report is UNKNOWN
    orphan_report_minutes: float = 30.0  # how long a report may wait for its submit response
    mo_merge_seconds: float = 180.0  # a long reply still incomplete after this is stored as is
    channel_retry_seconds: float = 5.0  # wait before retrying messages no channel could take
    max_submit_attempts: int = 5
    # A message no carrier accepted within this long after it was accepted by the API ends
    # with the last carrier result (each channel's retries are bounded by its settings).
    submit_validity_seconds: float = 24 * 3600.0
    sweep_interval_seconds: float = 1.0
    # On SIGTERM/SIGINT: how long submits already sent may take to be answered before the
    # process gives its remaining claims back and exits.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    # Push callbacks (delivery/push.py): retries of a batch for this long, then its items
    # wait for a pull again; networks callbacks may reach although not public (the demo:
    # loopback); per account at most push_concurrency requests at once.
    push_retry_hours: float = Field(default=24.0, gt=0)
    push_first_retry_seconds: float = Field(default=5.0, gt=0)
    push_timeout_seconds: float = Field(default=5.0, gt=0)
    push_fill_seconds: float = Field(default=1.0, ge=0)  # longest wait for a batch to fill
    push_poll_seconds: float = Field(default=0.1, gt=0)
    push_concurrency: int = Field(default=4, ge=1)
    push_max_connections: int = Field(default=256, ge=1)
    push_allowed_networks: list[str] = Field(default_factory=list)

    marketing_window: str = "08:00-22:00"  # platform local time; marketing outside is held
    policy_cache_seconds: float = 5.0  # how soon a policy change made elsewhere is seen

    # Customer CMPP / SMPP servers (access/): port 0 = off, -1 = any free port (tests,
    # the demo); host "" = the API's host.
    access_host: str = ""
    access_cmpp_port: int = Field(default=7890, ge=-1, le=65535)
    access_smpp_port: int = Field(default=2775, ge=-1, le=65535)
    access_window: int = Field(default=16, ge=1)  # DELIVERs unanswered per connection
    access_response_timeout_seconds: float = Field(default=30.0, gt=0)
    access_heartbeat_seconds: float = Field(default=60.0, ge=0)  # 0: never; silent x3: closed
    access_login_timeout_seconds: float = Field(default=10.0, gt=0)
    access_long_message_seconds: float = Field(default=60.0, gt=0)  # incomplete set: refused
    access_max_per_address: int = Field(default=64, ge=1)

    @field_validator("encryption_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        from duanxin.store.crypto import valid_key

        if value and not valid_key(value):
            raise ValueError("must be a Fernet key: 32 bytes, url-safe base64 (duanxin keygen)")
        return value or None

    @field_validator("metrics_listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value:
            split_host_port(value)
        return value or None

    @field_validator("push_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError: a settings error
        return value

    @field_validator("marketing_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)  # PolicyError is a ValueError: reported as a settings error
        return value


def load_settings(**values: Any) -> Settings:
    """Settings from ``values``, the environment and the settings file; a bad value raises
    :class:`SettingsError` naming the setting and what it accepts."""
    try:
        return Settings(**values)
    except ValidationError as error:
        raise SettingsError(_one_line(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"settings file {config_path()}: {error}") from None


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "settings"
    message = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    shown = "" if name == "encryption_key" or isinstance(given, dict) else f" (got {given!r})"
    return f"bad setting {name} (DUANXIN_{name.upper()}): {message}{shown}"
