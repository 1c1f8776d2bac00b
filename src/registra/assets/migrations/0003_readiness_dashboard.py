"""``AssetReadiness`` gets the asset's kind, status and holder (the member of its active primary
custody) for the dashboard, filled in from the assets and their custody."""

from django.db import migrations, models

# Joined updates (SQLite 3.33+ and PostgreSQL): a correlated subquery per row took over ten
# minutes on a million assets.
BACKFILL = [
    """
    UPDATE assets_assetreadiness SET asset_kind = a.asset_kind, status = a.status
    FROM assets_asset a WHERE a.id = assets_assetreadiness.asset_id
    """,
    """
    UPDATE assets_assetreadiness SET holder_id = c.subject_resource_id
    FROM assets_custodyassignment c
    WHERE c.asset_id = assets_assetreadiness.asset_id
      AND c.status = 'active' AND c.assignment_kind = 'primary'
    """,
]


def backfill(apps, schema_editor):
    for statement in BACKFILL:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("assets", "0002_asset_readiness"),
    ]

    operations = [
        migrations.AddField(
            model_name="assetreadiness",
            name="asset_kind",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="assetreadiness",
            name="status",
            field=models.CharField(
                choices=[
                    ("planned", "Planned"),
                    ("active", "Active"),
                    ("inactive", "Inactive"),
                    ("decommissioned", "Decommissioned"),
                ],
                default="",
                max_length=24,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="assetreadiness",
            name="holder_id",
            field=models.CharField(blank=True, max_length=40, null=True),
        ),
        migrations.AddIndex(
            model_name="assetreadiness",
            index=models.Index(
                fields=["organization", "status", "asset_kind", "holder_id", "state", "next_due"],
                name="readiness_dashboard",
            ),
        ),
        # After the index: PostgreSQL can't create an index on a table with the updates' pending
        # (deferred) constraint checks in the same transaction.
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
