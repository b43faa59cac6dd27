"""Account identifiers: one canonical spelling per username and address, their real length
limits, and usernames that imitate another by mixing scripts.

Every rule a sign-up surface applies lives here: the model's username and e-mail fields carry
the validators (so the admin's forms and `createsuperuser` run them), allauth's adapter calls
them for dj-rest-auth's registration, and the login, reset and resend serializers check the same
limits. Logins and their lockout find the account through user_for_login(), the one lookup.
"""

import itertools
import unicodedata
from typing import TYPE_CHECKING

from confusable_homoglyphs import categories, confusables
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Q, Value, When

if TYPE_CHECKING:
    from blogapi.accounts.models import User

USERNAME_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 254  # the columns' size, and RFC 5321's limit on a usable address
USERNAME_TAKEN = "A user with that username already exists."

# Bounds on the look-alike search: a few homoglyphs per character, a few spellings per script.
_HOMOGLYPHS_PER_CHARACTER = 3
_SPELLINGS_PER_SCRIPT = 64


def canonical_identifier(value: str) -> str:
    """One spelling per name, for usernames and addresses alike: NFKC, then case-insensitive.

    Upper-casing first folds look-alikes that lower-casing keeps apart ('m\u0131ke' and 'mike' both
    become 'MIKE'), 'ß' and 'SS' meet at 'ss', and NFKC maps full-width letters, the Kelvin sign
    and ligatures ('\ufb01') to plain ones. The database's own UPPER() differs between SQLite
    (ASCII only) and PostgreSQL: hence canonical columns, filled by User.save().
    """
    return unicodedata.normalize("NFKC", value.strip()).upper().casefold()


def normalize_username(username: str) -> str:
    """The stored form of a username: NFKC, as Django's own forms and create_user() store it."""
    return unicodedata.normalize("NFKC", username)


def _length_error(kind: str, limit: int, length: int) -> ValidationError:
    return ValidationError(
        f"Ensure this {kind} has at most {limit} characters once normalized (it has {length}).",
        code="max_length",
    )


def _check_length(kind: str, limit: int, value: str, forms: tuple[str, ...]) -> None:
    # Unnormalized text is measured first: normalizing a megabyte costs more than refusing it.
    if len(value) > limit:
        raise _length_error(kind, limit, len(value))
    longest = max(len(form) for form in forms)
    if longest > limit:
        raise _length_error(kind, limit, longest)


def validate_username_length(username: str) -> None:
    """At most 150 characters as stored (NFKC) and in the canonical column: never cut."""
    _check_length(
        "username",
        USERNAME_MAX_LENGTH,
        username,
        (normalize_username(username), canonical_identifier(username)),
    )


def validate_email_length(email: str) -> None:
    """At most 254 characters as stored (allauth lower-cases) and in the canonical column.

    Lower-casing can lengthen an address ('\u0130' becomes two characters), and NFKC more (a
    ligature in an internationalized domain becomes two or three letters): a limit checked only
    on the typed text would let allauth cut the stored address or PostgreSQL refuse the row.
    """
    stripped = email.strip()
    _check_length(
        "e-mail address",
        EMAIL_MAX_LENGTH,
        stripped,
        (stripped.lower(), canonical_identifier(stripped)),
    )


def validate_login_identifier(identifier: str) -> None:
    """A login name is a username or an address: longer than either can be, it names nobody."""
    if "@" in identifier:
        validate_email_length(identifier)
    else:
        validate_username_length(identifier)


def _spellings_in(name: str, script: str) -> set[str]:
    """`name` with each character of another script replaced by a homoglyph from `script`."""
    found = confusables.is_confusable(name, greedy=True, preferred_aliases=[script]) or []
    replacements = {
        item["character"]: [
            glyph["c"]
            for glyph in item["homoglyphs"]
            if all(categories.alias(char) == script for char in glyph["c"])
        ][:_HOMOGLYPHS_PER_CHARACTER]
        for item in found
    }
    options = [replacements.get(char) or [char] for char in name]
    spellings = itertools.islice(itertools.product(*options), _SPELLINGS_PER_SCRIPT)
    return {"".join(spelling) for spelling in spellings}


def username_imitated(username: str) -> str | None:
    """The existing username this one imitates by mixing scripts (alice with a Cyrillic a), if any.

    confusable-homoglyphs (Unicode's confusables data) says whether a name mixes scripts with
    characters that look like another script's; it offers no mapping back to the name imitated,
    so each script of the name is tried in turn with the library's homoglyphs substituted.
    """
    from blogapi.accounts.models import User

    name = normalize_username(username)
    if "\x00" in name or not confusables.is_dangerous(name):
        return None  # a NUL never reaches the database (PostgreSQL refuses it): refused elsewhere
    own = canonical_identifier(name)
    candidates = {
        canonical_identifier(spelling)
        for script in sorted(categories.unique_aliases(name) - {"COMMON"})
        for spelling in _spellings_in(name, script)
    } - {own}
    return (
        User.objects.filter(username_canonical__in=candidates)
        .values_list("username", flat=True)
        .first()
    )


def validate_username(username: str) -> None:
    """The username rules beyond Django's characters: length once normalized, no look-alike."""
    validate_username_length(username)
    imitated = username_imitated(username)
    if imitated is not None:
        scripts = sorted(categories.unique_aliases(normalize_username(username)) - {"COMMON"})
        raise ValidationError(
            f"This username looks like the existing username “{imitated}”: it mixes "
            f"{' and '.join(script.title() for script in scripts)} letters that look alike. "
            "Choose a name written in one alphabet.",
            code="username_lookalike",
        )


def username_taken(username: str, *, exclude_pk: int | None = None) -> bool:
    """Whether another account holds any spelling of this username (same canonical form)."""
    from blogapi.accounts.models import User

    if "\x00" in username:
        return False  # refused by the character rules; PostgreSQL would refuse the query
    others = User.objects.filter(username_canonical=canonical_identifier(username))
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


def user_for_login(identifier: str) -> "User | None":
    """The account a login name signs in to: by canonical address first, else by username.

    The one lookup of every password check and of its lockout counter, so that whatever
    spelling signs in to an account is charged to that account. An address wins over a
    username spelled the same (usernames may contain '@'), as in allauth's backend.
    """
    from blogapi.accounts.models import User

    if "\x00" in identifier:  # PostgreSQL refuses NUL in text; no account has one
        return None
    canonical = canonical_identifier(identifier)
    return (
        User.objects.filter(Q(email_canonical=canonical) | Q(username_canonical=canonical))
        .order_by(
            Case(
                When(email_canonical=canonical, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .first()
    )
