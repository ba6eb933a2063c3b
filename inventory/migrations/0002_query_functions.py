"""Query support: a SQL function that lists the leaves of a fact document (PuppetDB's
fact-contents), and a partial index for "current catalog by resource set"."""

from django.db import migrations

FACT_LEAVES = r"""
CREATE OR REPLACE FUNCTION stagehand_fact_leaves(doc jsonb)
RETURNS TABLE(path jsonb, value jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
WITH RECURSIVE t(path, value) AS (
    SELECT jsonb_build_array(e.k), e.v FROM jsonb_each(coalesce(doc, '{}'::jsonb)) AS e(k, v)
  UNION ALL
    SELECT t.path || jsonb_build_array(c.k), c.v
    FROM t CROSS JOIN LATERAL (
        SELECT to_jsonb(o.key) AS k, o.value AS v
        FROM jsonb_each(CASE WHEN jsonb_typeof(t.value) = 'object' THEN t.value ELSE '{}'::jsonb END) AS o
      UNION ALL
        SELECT to_jsonb(a.ord - 1), a.value
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.value) = 'array' THEN t.value ELSE '[]'::jsonb END)
             WITH ORDINALITY AS a(value, ord)
    ) AS c
)
SELECT t.path, t.value FROM t WHERE jsonb_typeof(t.value) NOT IN ('object', 'array')
$fn$;
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [
        migrations.RunSQL(FACT_LEAVES, "DROP FUNCTION IF EXISTS stagehand_fact_leaves(jsonb)"),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS catalog_current_set_idx ON inventory_catalog (resource_set_id) "
            "WHERE valid_to IS NULL",
            "DROP INDEX IF EXISTS catalog_current_set_idx",
        ),
    ]
