"""Every Redis key and stream name the platform uses, in one place.

Callers name streams logically (``"submit"``); the Redis
backends turn logical names into keys with a :class:`Keys` built from the configured
prefix, so two deployments (or two test runs) can share one Redis server.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PREFIX", "STREAM_FIELD", "Keys"]

DEFAULT_PREFIX = "duanxin:"

# The single field of every stream entry; its value is the versioned JSON payload.
STREAM_FIELD = "d"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one deployment prefix."""

    prefix: str = DEFAULT_PREFIX

    def stream(self, name: str) -> str:
        """A work stream (Redis Stream with consumer groups)."""
        return f"{self.prefix}stream:{name}"

    def limit(self, key: str) -> str:
        """A rate-limit window (sorted set of hit times)."""
        return f"{self.prefix}limit:{key}"

    def bucket(self, key: str) -> str:
        """A shared token bucket (hash of tokens and the time they were counted)."""
        return f"{self.prefix}bucket:{key}"

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this prefix."""
        return f"{self.prefix}*"
