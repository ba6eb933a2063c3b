from django.db import migrations

# TRUNCATE of inventory_resourceset together with inventory_classmember in one statement (as
# bench/ingest/run.py and operators clearing the inventory do) failed: the AFTER TRUNCATE trigger
# truncated inventory_classmember again while the statement still held it ("cannot TRUNCATE ...
# because it is being used by active queries in this session"). It was emptied by then already.
SQL = """
CREATE OR REPLACE FUNCTION stagehand_class_members_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inventory_classmember) THEN
        TRUNCATE inventory_classmember;
    END IF;
    RETURN NULL;
END $$;
"""

UNDO = """
CREATE OR REPLACE FUNCTION stagehand_class_members_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE inventory_classmember;
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0014_lz4_compression")]

    operations = [migrations.RunSQL(SQL, UNDO)]
