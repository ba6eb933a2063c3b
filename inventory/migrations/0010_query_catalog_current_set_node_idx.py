"""Query speed (issue 4): the current catalogs by resource set carry their node id, so "which
nodes have resource X" (and counting them) reads the index only, never the catalog rows. Replaces
``catalog_current_set_idx`` (0002)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inventory", "0009_query_catalog_resource_count")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS catalog_current_set_node_idx ON inventory_catalog (resource_set_id) "
            "INCLUDE (node_id) WHERE valid_to IS NULL; DROP INDEX IF EXISTS catalog_current_set_idx",
            "CREATE INDEX IF NOT EXISTS catalog_current_set_idx ON inventory_catalog (resource_set_id) "
            "WHERE valid_to IS NULL; DROP INDEX IF EXISTS catalog_current_set_node_idx",
        ),
    ]
