"""The register's search text, and on PostgreSQL its two indexes (SQLite, the small embedded
database, scans): a trigram index, so a search for a rare word reads only the assets that
hold it, and a covering index in key order, so a search for a common word walks the key
order without reading the asset rows (``pg_trgm`` ships with PostgreSQL and is a trusted
extension: the database owner may create it)."""

import django.db.models.fields.json
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models


POSTGRES_INDEXES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX asset_search_trgm ON assets_asset USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX asset_search_by_key ON assets_asset (organization_id, asset_key, id) "
    "INCLUDE (search_text)",
]


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_INDEXES:
            schema_editor.execute(statement)


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS asset_search_by_key")
        schema_editor.execute("DROP INDEX IF EXISTS asset_search_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ('assets', '0004_register_sort_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='asset',
            name='search_text',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.text.Upper(django.db.models.functions.text.Concat('asset_key', models.Value('\n'), 'display_name', models.Value('\n'), 'description', models.Value('\n'), django.db.models.functions.comparison.Coalesce(django.db.models.fields.json.KeyTextTransform('serialNumber', 'asset_snapshot'), models.Value(''), output_field=models.TextField()), output_field=models.TextField())), output_field=models.TextField()),
        ),
        migrations.RunPython(create_search_indexes, drop_search_indexes),
    ]
