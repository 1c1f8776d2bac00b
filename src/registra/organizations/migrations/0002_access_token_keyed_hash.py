"""Access tokens are stored as keyed hashes from now on (decision record 0004).

Tokens issued before this migration were stored as plain SHA-256 digests, which no lookup
matches any more: they are deleted here rather than left to fail. They lived at most 900 s;
clients get 401 ``unauthenticated`` and ask for a new token. Client secrets need no migration:
their PBKDF2 hashes are verified once and replaced on the next successful grant.
"""

from django.db import migrations, models


def delete_sha256_tokens(apps, schema_editor):
    apps.get_model("organizations", "AccessToken").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(delete_sha256_tokens, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="accesstoken",
            index=models.Index(fields=["organization", "expires_at"], name="tok_org_expires"),
        ),
    ]
