# Usernames: NFKC-normalized and unique in a canonical form (as e-mail addresses since 0003).
#
# Existing accounts whose usernames share a canonical form ('alice', 'ALICE', 'ａｌｉｃｅ'), or
# whose name would not fit once normalized, are not merged, renamed or cut here: the migration
# refuses, listing them, and nothing changes until an operator renames them (in the admin, or
# `manage.py shell`) and runs `migrate` again.

import unicodedata
from collections import defaultdict

import blogapi.accounts.identifiers
import blogapi.accounts.models
import django.contrib.auth.validators
from django.core.management.base import CommandError
from django.db import migrations, models

MAX_LENGTH = 150


def fill_username_canonical(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    users = list(User.objects.only("pk", "username").order_by("pk"))
    typed = {user.pk: user.username for user in users}
    by_canonical = defaultdict(list)
    too_long = []
    for user in users:
        # The same forms as blogapi.accounts.identifiers, frozen here as this migration ran.
        normalized = unicodedata.normalize("NFKC", user.username)
        canonical = normalized.strip().upper().casefold()
        by_canonical[canonical].append(user)
        if max(len(normalized), len(canonical)) > MAX_LENGTH:
            too_long.append(user)
        user.username, user.username_canonical = normalized, canonical
    shared = [group for group in by_canonical.values() if len(group) > 1]
    if shared or too_long:
        lines = [
            "Usernames must be unique in their canonical form (NFKC, case-insensitive) and fit "
            f"in {MAX_LENGTH} characters once normalized. Rename these accounts (all but one of "
            "each group), then run migrate again:"
        ]
        lines += [
            "  same name: "
            + ", ".join(f"{typed[u.pk]!r} (id {u.pk})" for u in group)
            for group in shared
        ]
        lines += [f"  too long once normalized: id {u.pk}" for u in too_long]
        raise CommandError("\n".join(lines))
    User.objects.bulk_update(users, ["username", "username_canonical"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_email_canonical"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", blogapi.accounts.models.UserManager()),
            ],
        ),
        migrations.AlterField(
            model_name="user",
            name="email",
            field=models.EmailField(
                blank=True,
                max_length=254,
                validators=[blogapi.accounts.identifiers.validate_email_length],
                verbose_name="email address",
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="username",
            field=models.CharField(
                error_messages={"unique": "A user with that username already exists."},
                help_text="Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.",
                max_length=150,
                unique=True,
                validators=[
                    django.contrib.auth.validators.UnicodeUsernameValidator(),
                    blogapi.accounts.identifiers.validate_username,
                ],
                verbose_name="username",
            ),
        ),
        # Nullable while it is filled; 0005 makes it required and unique.
        migrations.AddField(
            model_name="user",
            name="username_canonical",
            field=models.CharField(editable=False, max_length=150, null=True),
        ),
        migrations.RunPython(fill_username_canonical, migrations.RunPython.noop),
    ]
