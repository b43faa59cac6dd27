"""JWT access tokens: short-lived, signed with PyJWT (HS256), naming their refresh family.

Signing and verification are PyJWT's; this module only chooses the claims and the keys. Every
token carries a key id (`kid`) in its header, so a new `AUTH_JWT_SIGNING_KEY` can be introduced
while tokens signed by the keys in `AUTH_JWT_PREVIOUS_SIGNING_KEYS` live out their few minutes.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import jwt
from django.conf import settings

ALGORITHM = "HS256"  # the only one accepted: `alg: none` and every other are refused
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "fam"]


class AccessTokenInvalid(Exception):
    """Not a live access token of ours: malformed, tampered, expired, or signed otherwise."""


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says: whose it is and which family issued it."""

    user_id: int
    family_id: int


def _key_id(key: str) -> str:
    # A fingerprint, not the key: the header is readable by anyone holding a token.
    return hashlib.sha256(f"kid:{key}".encode()).hexdigest()[:16]


def _verification_keys() -> dict[str, str]:
    keys = [settings.AUTH_JWT_SIGNING_KEY, *settings.AUTH_JWT_PREVIOUS_SIGNING_KEYS]
    return {_key_id(key): key for key in keys}


def _audience() -> str:
    return f"{settings.SITE_URL}/api/"


def access_token_issue(*, user_id: int, family_id: int, now: datetime) -> tuple[str, datetime]:
    """A new access token for this family's user, and when it expires."""
    expires_at = now + settings.AUTH_JWT_ACCESS_TTL
    key = settings.AUTH_JWT_SIGNING_KEY
    claims = {
        "iss": settings.SITE_URL,
        "aud": _audience(),
        "sub": str(user_id),
        "fam": family_id,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": _key_id(key)})
    return token, expires_at.replace(microsecond=0)


def access_token_verify(token: str) -> AccessClaims:
    """The claims of a token signed by one of our keys and still within its lifetime."""
    try:
        key_id = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as error:
        raise AccessTokenInvalid("Malformed token.") from error
    key = _verification_keys().get(key_id) if isinstance(key_id, str) else None
    if key is None:
        raise AccessTokenInvalid("Unknown signing key.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=_audience(),
            issuer=settings.SITE_URL,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as error:
        raise AccessTokenInvalid(str(error)) from error
    subject, family = claims["sub"], claims["fam"]
    if not (isinstance(subject, str) and subject.isascii() and subject.isdigit()):
        raise AccessTokenInvalid("Malformed subject.")
    if not isinstance(family, int) or isinstance(family, bool) or not 0 < family < 2**63:
        raise AccessTokenInvalid("Malformed family.")
    return AccessClaims(user_id=int(subject), family_id=family)
