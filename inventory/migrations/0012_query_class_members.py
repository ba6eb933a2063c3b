"""Which resource sets hold a class, as a B-tree (issue 4): ``inventory_classmember``
(resource id of a ``Class`` resource, set id), kept by the database from
``ResourceSet.resource_ids`` (row triggers on insert, update and delete, a statement trigger on
TRUNCATE), whoever writes the sets.

The GIN index on ``resource_ids`` answers "which sets hold resource X" only with the sets' heap
rows (~1.3 KB each: a class on a quarter of 50,000 nodes reads ~7,500 heap pages for their ids).
For classes, the resources "where is X applied" is asked about and that many catalogs share,
this table answers from an index-only scan. It holds classes only (about a tenth of a catalog's
resources): the same table for every resource doubled the database at 50,000 nodes, and other
resources are mostly node-specific, where the GIN index reads few rows anyway.
"""

from django.db import migrations

SQL = """
CREATE TABLE inventory_classmember (
    resource_id bigint NOT NULL,
    set_id bigint NOT NULL,
    PRIMARY KEY (resource_id, set_id)
);
CREATE OR REPLACE FUNCTION stagehand_class_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM inventory_classmember WHERE set_id = OLD.id AND resource_id = ANY(OLD.resource_ids);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO inventory_classmember (resource_id, set_id)
        SELECT r.id, NEW.id FROM inventory_resource r WHERE r.id = ANY(NEW.resource_ids) AND r.type = 'Class'
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER resourceset_class_members AFTER INSERT OR DELETE OR UPDATE OF id, resource_ids
ON inventory_resourceset FOR EACH ROW EXECUTE FUNCTION stagehand_class_members();
CREATE OR REPLACE FUNCTION stagehand_class_members_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE inventory_classmember;
    RETURN NULL;
END $$;
CREATE TRIGGER resourceset_class_members_truncate AFTER TRUNCATE ON inventory_resourceset
FOR EACH STATEMENT EXECUTE FUNCTION stagehand_class_members_truncate();
INSERT INTO inventory_classmember (resource_id, set_id)
SELECT DISTINCT r.id, rs.id FROM inventory_resourceset rs CROSS JOIN LATERAL unnest(rs.resource_ids) AS u(rid)
JOIN inventory_resource r ON r.id = u.rid AND r.type = 'Class'
ON CONFLICT DO NOTHING;
ANALYZE inventory_classmember;
"""

UNDO = """
DROP TRIGGER IF EXISTS resourceset_class_members_truncate ON inventory_resourceset;
DROP TRIGGER IF EXISTS resourceset_class_members ON inventory_resourceset;
DROP FUNCTION IF EXISTS stagehand_class_members_truncate();
DROP FUNCTION IF EXISTS stagehand_class_members();
DROP TABLE IF EXISTS inventory_classmember;
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0011_query_factset_certname")]

    operations = [migrations.RunSQL(SQL, UNDO)]
