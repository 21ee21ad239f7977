"""Secrets kept recoverable, encrypted at rest: SecretKeys, carrier and account passwords.

They must be read back in clear (HMAC signatures, the MD5 logins of CMPP/SMGP), so they
cannot be hashed; they are encrypted with Fernet (AES-128-CBC with HMAC-SHA256) under the
``encryption_key`` setting. Stored values carry the prefix ``enc1:``; :func:`reveal` of a
value without it returns it as given (rows written before migration 0009 ran).

The key is installed once per process (:func:`install`, called when a Platform opens and
when migrations run): the store's row readers use it, so every caller of the store gets
clear values without handling keys.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "PREFIX",
    "SecretsError",
    "conceal",
    "generate_key",
    "install",
    "installed",
    "reveal",
    "valid_key",
]

PREFIX = "enc1:"
_keys: list[bytes] = []
_box: MultiFernet | None = None


class SecretsError(ValueError):
    """No key installed, or a stored secret the installed keys cannot open."""


def generate_key() -> str:
    """A new random key for the ``encryption_key`` setting."""
    return Fernet.generate_key().decode("ascii")


def valid_key(key: str) -> bool:
    try:
        Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return True


def install(key: str) -> None:
    """Use ``key`` to encrypt from now on (keys installed before still decrypt)."""
    global _box
    raw = key.encode("ascii")
    if raw in _keys:
        _keys.remove(raw)
    _keys.insert(0, raw)
    _box = MultiFernet([Fernet(k) for k in _keys])


def installed() -> bool:
    return _box is not None


def conceal(secret: str) -> str:
    """``secret`` in its stored, encrypted form."""
    if _box is None:
        raise SecretsError("encryption_key is not set: secrets cannot be stored")
    return PREFIX + _box.encrypt(secret.encode("utf-8")).decode("ascii")


def reveal(stored: str) -> str:
    """The clear text of a stored secret."""
    if not stored.startswith(PREFIX):
        return stored
    if _box is None:
        raise SecretsError("encryption_key is not set: stored secrets cannot be read")
    try:
        return _box.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretsError(
            "a stored secret does not open with encryption_key (was the key changed?)"
        ) from None
