"""``AssetReadiness`` gets the asset's kind, status and holder (the member of its active primary
custody) for the dashboard, filled in from the assets and their custody."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    Asset = apps.get_model("assets", "Asset")
    AssetReadiness = apps.get_model("assets", "AssetReadiness")
    CustodyAssignment = apps.get_model("assets", "CustodyAssignment")
    asset = Asset.objects.filter(id=OuterRef("asset_id"))
    holder = CustodyAssignment.objects.filter(
        asset_id=OuterRef("asset_id"), status="active", assignment_kind="primary"
    ).values("subject_resource_id")[:1]
    AssetReadiness.objects.update(
        asset_kind=Subquery(asset.values("asset_kind")[:1]),
        status=Subquery(asset.values("status")[:1]),
        holder_id=Subquery(holder),
    )


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
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="assetreadiness",
            index=models.Index(
                fields=["organization", "status", "asset_kind", "holder_id", "state", "next_due"],
                name="readiness_dashboard",
            ),
        ),
    ]
