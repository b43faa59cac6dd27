# The canonical username, filled by 0004, becomes required and unique: a migration of its own, so
# the rows are updated and the table altered in separate transactions (PostgreSQL can refuse an
# ALTER TABLE while the same transaction's deferred foreign-key checks are pending). Both
# canonical columns become CanonicalFields, computed on every write (no change in the database
# for email_canonical).

import blogapi.accounts.models
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_username_canonical"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="username_canonical",
            field=blogapi.accounts.models.CanonicalField(
                editable=False, max_length=150, source="username", unique=True
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="email_canonical",
            field=blogapi.accounts.models.CanonicalField(
                editable=False, max_length=254, null=True, source="email", unique=True
            ),
        ),
    ]
