"""Query speed (issue 4): ``Catalog.resource_count``, the size of the catalog's resource set,
kept by a trigger on every insert or change of ``resource_set_id`` (exact whoever writes the
row: ingest, archive restore, fixtures), so "how many resources in environment X" adds up one
column of the current catalogs instead of reading every resource set."""

from django.db import migrations, models

TRIGGER = """
CREATE OR REPLACE FUNCTION stagehand_catalog_resource_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.resource_count := (SELECT size FROM inventory_resourceset WHERE id = NEW.resource_set_id);
    RETURN NEW;
END $$;
CREATE TRIGGER catalog_resource_count BEFORE INSERT OR UPDATE OF resource_set_id ON inventory_catalog
FOR EACH ROW EXECUTE FUNCTION stagehand_catalog_resource_count();
UPDATE inventory_catalog c SET resource_count = rs.size FROM inventory_resourceset rs
WHERE rs.id = c.resource_set_id AND c.resource_count IS DISTINCT FROM rs.size;
CREATE INDEX IF NOT EXISTS catalog_current_env_count_idx ON inventory_catalog (environment_id)
INCLUDE (node_id, resource_count) WHERE valid_to IS NULL;
"""

UNDO = """
DROP INDEX IF EXISTS catalog_current_env_count_idx;
DROP TRIGGER IF EXISTS catalog_resource_count ON inventory_catalog;
DROP FUNCTION IF EXISTS stagehand_catalog_resource_count();
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0008_query_inactive_node_idx")]

    operations = [
        migrations.AddField(
            model_name="catalog",
            name="resource_count",
            field=models.IntegerField(default=0, editable=False, help_text="The resource set's size."),
        ),
        migrations.RunSQL(TRIGGER, UNDO),
    ]
