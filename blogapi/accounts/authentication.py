"""DRF authentication classes used by the API."""

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

# DRF authtoken keys are 40 lowercase hex characters (secrets.token_hex(20)).
_TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`; a key that cannot exist is refused before any database query.

    Checking the shape first keeps NUL bytes and other junk away from the database driver
    (PostgreSQL raises on NUL in a string literal, which would otherwise be a 500).
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not _TOKEN_KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(key)
