"""Account export: one JSON document of everything the account holds, streamed section by section.

A section is a small function of the account that returns one JSON value, or (`many`) an
iterator of items written one by one, so that memory stays flat whatever the count: the posts of
an account with 100,000 of them are read in chunks (`.iterator()`) and written as they come.
Other apps add their sections in their AppConfig.ready() (the posts do: accounts cannot import
them). Never a secret: no password hash, token digest, TOTP secret or recovery code.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from blogapi.accounts.events import auth_event
from blogapi.accounts.models import User
from blogapi.accounts.services.activity import activity_list_for_user, activity_window_end
from blogapi.accounts.services.credentials import CredentialRef, credential_list_for_user

EXPORT_FORMAT = 1
# Items per chunk handed to the server: fewer, larger writes, still a few hundred kB at most.
ITEMS_PER_CHUNK = 500


@dataclass(frozen=True)
class ExportRequest:
    """Whose data, and the credential the export was asked with (marked `current`)."""

    user: User
    current: CredentialRef | None


@dataclass(frozen=True)
class ExportSection:
    """One key of the document: `read` gives its value, or with `many` its items one by one."""

    name: str
    read: Callable[[ExportRequest], Any]
    many: bool = False


EXPORT_SECTIONS: list[ExportSection] = []


def export_section_register(section: ExportSection) -> None:
    """Add a section to every export (once per name: a second ready() call changes nothing)."""
    if all(existing.name != section.name for existing in EXPORT_SECTIONS):
        EXPORT_SECTIONS.append(section)


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _profile(export: ExportRequest) -> dict[str, Any]:
    user = export.user
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "is_staff": user.is_staff,
    }


def _email_addresses(export: ExportRequest) -> Iterator[dict[str, Any]]:
    addresses = EmailAddress.objects.filter(user=export.user).order_by("pk")
    yield from addresses.values("email", "primary", "verified")


def _credentials(export: ExportRequest) -> Iterator[dict[str, Any]]:
    """As the credentials list shows them: labels, dates, IP and user agent; no key, no digest."""
    for credential in credential_list_for_user(user=export.user, current=export.current):
        yield {
            "id": credential.id,
            "kind": credential.kind,
            "label": credential.label,
            "created_at": credential.created_at,
            "last_used_at": credential.last_used_at,
            "expires_at": credential.expires_at,
            "last_ip": credential.last_ip,
            "user_agent": credential.user_agent,
            "current": credential.current,
        }


def _second_factors(export: ExportRequest) -> Iterator[dict[str, Any]]:
    """Each factor by type and dates; never its secret or codes (only how many codes are left).

    A passkey by its name and whether it signs in alone, as mfa/webauthn/ lists it: not its
    credential id (an identifier an authenticator can be tracked by) nor its public key.
    """
    for factor in Authenticator.objects.filter(user=export.user).order_by("pk"):
        item: dict[str, Any] = {
            "type": factor.type,
            "created_at": factor.created_at,
            "last_used_at": factor.last_used_at,
        }
        if factor.type == Authenticator.Type.RECOVERY_CODES:
            item["recovery_codes_left"] = len(factor.data.get("digests", []))
        elif factor.type == Authenticator.Type.WEBAUTHN:
            item["name"] = str(factor.data.get("name", ""))
            item["passwordless"] = bool(factor.data.get("passwordless"))
        yield item


def _activity(export: ExportRequest) -> Iterator[dict[str, Any]]:
    """The security feed, oldest first, with the fields GET activity/ shows (never a secret)."""
    rows = activity_list_for_user(user=export.user).order_by("created_at", "id")
    for row in rows.iterator(chunk_size=2000):
        yield {
            "id": row.pk,
            "event": row.event,
            "created_at": row.created_at,
            "count": row.count,
            "window_end": activity_window_end(row),
            "ip": row.ip,
            "user_agent": row.user_agent,
            "device": row.device,
            "actor": row.actor,
            "details": row.details,
        }


for _section in (
    ExportSection("profile", _profile),
    ExportSection("email_addresses", _email_addresses, many=True),
    ExportSection("credentials", _credentials, many=True),
    ExportSection("second_factors", _second_factors, many=True),
    ExportSection("activity", _activity, many=True),
):
    export_section_register(_section)


def _items(items: Iterable[Any]) -> Iterator[str]:
    """`[item, item, …]` in chunks of ITEMS_PER_CHUNK items."""
    yield "["
    batch: list[str] = []
    separator = ""
    for item in items:
        batch.append(_dumps(item))
        if len(batch) == ITEMS_PER_CHUNK:
            yield separator + ",".join(batch)
            batch, separator = [], ","
    if batch:
        yield separator + ",".join(batch)
    yield "]"


def account_export_chunks(export: ExportRequest) -> Iterator[str]:
    """The export document as text chunks, each section read only when it is written."""
    header = {"format": EXPORT_FORMAT, "exported_at": timezone.now()}
    yield _dumps(header)[:-1]  # without its closing brace: the sections follow
    for section in EXPORT_SECTIONS:
        yield f",{_dumps(section.name)}:"
        if section.many:
            yield from _items(section.read(export))
        else:
            yield _dumps(section.read(export))
    yield "}\n"


def account_export_start(*, user: User, current: CredentialRef | None) -> Iterator[str]:
    """Log the export and answer its chunks (read as the response is sent)."""
    auth_event("account.exported", user_id=user.pk)
    return account_export_chunks(ExportRequest(user=user, current=current))
