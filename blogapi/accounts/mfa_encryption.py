"""TOTP secrets at rest: Fernet under AUTH_MFA_ENCRYPTION_KEYS (the first encrypts, all decrypt).

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) is authenticated: a token changed in
the database, or read under another key, is refused rather than decrypted into a wrong secret.
"""

import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

# What allauth and we store as a TOTP secret in clear: RFC 4648 base32 (upper case). A Fernet
# token always starts with "gAAAAA" (its version byte, url-safe base64), so never looks like one.
_PLAINTEXT_SECRET = re.compile(r"[A-Z2-7]+=*")


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts (a lost key, or a changed row)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    # Keyed by the setting's value, so a changed setting (tests, rotation) is seen at once.
    return _fernet(tuple(settings.AUTH_MFA_ENCRYPTION_KEYS))


def encrypt_secret(secret: str) -> str:
    """The secret encrypted under the first key, as text for a JSON field."""
    return _current().encrypt(secret.encode()).decode()


def decrypt_secret(stored: str) -> str:
    """The secret in clear; SecretUnreadable when no configured key opens it."""
    if not isinstance(stored, str):  # a row changed by hand; JSON holds any type
        raise SecretUnreadable
    try:
        return _current().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable from None


def is_plaintext_secret(stored: str) -> bool:
    """Whether a stored value is a secret still in clear (written before encryption at rest)."""
    return isinstance(stored, str) and _PLAINTEXT_SECRET.fullmatch(stored) is not None


def reseal_secret(stored: str) -> str:
    """A stored value under the first key: a secret in clear encrypted, a token re-encrypted.

    SecretUnreadable when it is a token that no configured key opens.
    """
    if is_plaintext_secret(stored):
        return encrypt_secret(stored)
    if not isinstance(stored, str):
        raise SecretUnreadable
    try:
        return _current().rotate(stored.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable from None
