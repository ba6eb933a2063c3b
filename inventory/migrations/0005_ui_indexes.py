"""Indexes of the web UI's node list (issue 6): newest-report-first order with never-reported
nodes last (keyset pagination needs an index in exactly that order), the same per status (the
dashboard's latest failures), and trigram search for the
certname substring search (Django's ``icontains`` is ``UPPER(certname) LIKE UPPER(%s)``)."""

from django.db import migrations

# pg_trgm is a contrib extension: packaged PostgreSQL servers ship it, the embedded default
# (pgserver) does not. Without it the substring search still works, by scanning the node table.
SQL = """
CREATE INDEX IF NOT EXISTS node_ui_reported_idx ON inventory_node (report_timestamp DESC NULLS LAST, certname DESC);
CREATE INDEX IF NOT EXISTS node_ui_status_reported_idx
    ON inventory_node (latest_report_status, report_timestamp DESC NULLS LAST);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX IF NOT EXISTS node_ui_certname_trgm
            ON inventory_node USING gin (upper(certname) gin_trgm_ops);
    END IF;
END
$$;
"""

REVERSE = """
DROP INDEX IF EXISTS node_ui_certname_trgm;
DROP INDEX IF EXISTS node_ui_status_reported_idx;
DROP INDEX IF EXISTS node_ui_reported_idx;
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0004_merge_0002_query_functions_0003_ui_fact_distribution")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
