"""Password rules Django does not ship: an upper bound and a repetition/sequence check."""

import string
from typing import Any

from django.core.exceptions import ValidationError

MAX_PASSWORD_LENGTH = 128


class MaximumLengthValidator:
    """At most 128 characters: longer passwords are refused, never truncated or hashed."""

    def __init__(self, max_length: int = MAX_PASSWORD_LENGTH) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is too long. It must contain at most {self.max_length} characters.",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password must contain at most {self.max_length} characters."


class RepetitiveOrSequentialValidator:
    """Refuses 'aaaaaaaaaaaa', 'abcabcabcabc', '123456789012', 'qwertyuiop12' (NIST blocklist).

    Not a composition rule: any password with some variety passes, whatever its characters.
    """

    # Long enough that any password up to 128 characters fits inside the repeated run.
    _runs = tuple(
        run * (1 + 140 // len(run))
        for base in (string.digits, string.ascii_lowercase, "qwertyuiopasdfghjklzxcvbnm")
        for run in (base, base[::-1])
    )

    def validate(self, password: str, user: Any = None) -> None:
        folded = password.casefold()
        repeats_a_short_unit = any(
            folded == (folded[:n] * len(folded))[: len(folded)] for n in range(1, 4)
        )
        if repeats_a_short_unit or any(folded in run for run in self._runs):
            raise ValidationError(
                "This password is too repetitive or sequential.", code="password_too_simple"
            )

    def get_help_text(self) -> str:
        return "Your password can't be a repeated or sequential run of characters."
