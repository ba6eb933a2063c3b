"""Query speed (issue 4): the few inactive (deactivated or expired) nodes, which the query compiler
excludes with an anti-join when a query reads nothing else of the node row; active nodes by
catalog environment (puppetboard's node count per environment, an index-only count)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inventory", "0007_node_latest_report_end_time")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS node_inactive_id_idx ON inventory_node (id) "
            "WHERE deactivated IS NOT NULL OR expired IS NOT NULL",
            "DROP INDEX IF EXISTS node_inactive_id_idx",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS node_active_catalog_env_idx ON inventory_node (catalog_environment_id) "
            "WHERE deactivated IS NULL AND expired IS NULL",
            "DROP INDEX IF EXISTS node_active_catalog_env_idx",
        ),
    ]
