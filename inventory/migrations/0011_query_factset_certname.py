"""The node's certname on its factset row, kept by the database (issue 4): facts, fact-contents,
inventory, factsets and package-inventory output the certname without joining the node row
(inactive nodes are then excluded by the anti-join on the few inactive ones). Every writer of
factsets (ingest, the ENC's POSTed facts, fixtures, benchmark generators) gets it from the
trigger, whatever it passes."""

from django.db import migrations, models

TRIGGER = """
CREATE OR REPLACE FUNCTION stagehand_factset_certname() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.certname := (SELECT certname FROM inventory_node WHERE id = NEW.node_id);
    RETURN NEW;
END $$;
CREATE TRIGGER factset_certname BEFORE INSERT OR UPDATE OF node_id, certname ON inventory_factset
FOR EACH ROW EXECUTE FUNCTION stagehand_factset_certname();
CREATE OR REPLACE FUNCTION stagehand_node_certname_to_factset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inventory_factset SET certname = NEW.certname WHERE node_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER node_certname_to_factset AFTER UPDATE OF certname ON inventory_node
FOR EACH ROW WHEN (OLD.certname IS DISTINCT FROM NEW.certname)
EXECUTE FUNCTION stagehand_node_certname_to_factset();
UPDATE inventory_factset fs SET certname = n.certname FROM inventory_node n WHERE n.id = fs.node_id;
"""

UNDO = """
DROP TRIGGER IF EXISTS node_certname_to_factset ON inventory_node;
DROP FUNCTION IF EXISTS stagehand_node_certname_to_factset();
DROP TRIGGER IF EXISTS factset_certname ON inventory_factset;
DROP FUNCTION IF EXISTS stagehand_factset_certname();
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0010_query_catalog_current_set_node_idx")]

    operations = [
        migrations.AddField(
            model_name="factset",
            name="certname",
            field=models.TextField(default="", editable=False, help_text="The node's certname (kept by a trigger)."),
        ),
        migrations.RunSQL(TRIGGER, UNDO),
    ]
