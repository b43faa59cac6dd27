"""TOTP secrets stored in clear (before encryption at rest) encrypted; reversed, decrypted again."""

from typing import Any

from django.db import migrations

from blogapi.accounts.mfa_encryption import (
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    is_plaintext_secret,
)

TOTP = "totp"


def encrypt_totp_secrets(apps: Any, schema_editor: Any) -> None:
    """Every secret still in clear, encrypted under the first key; encrypted ones left alone."""
    authenticators = apps.get_model("mfa", "Authenticator")
    for row in authenticators.objects.filter(type=TOTP).iterator():
        if is_plaintext_secret(row.data["secret"]):
            row.data["secret"] = encrypt_secret(row.data["secret"])
            row.save(update_fields=["data"])


def decrypt_totp_secrets(apps: Any, schema_editor: Any) -> None:
    """Every secret the keys open, back in clear (the code before this migration reads that)."""
    authenticators = apps.get_model("mfa", "Authenticator")
    for row in authenticators.objects.filter(type=TOTP).iterator():
        if is_plaintext_secret(row.data["secret"]):
            continue
        try:
            row.data["secret"] = decrypt_secret(row.data["secret"])
        except SecretUnreadable:
            continue  # unusable either way; left as it is rather than blocking the rollback
        row.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_reauthentications"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_totp_secrets, decrypt_totp_secrets)]
