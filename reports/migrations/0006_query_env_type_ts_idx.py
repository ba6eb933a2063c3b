"""Query speed (issue 4): reports by environment and type over a time range, counted or grouped by
status without reading the (wide) report rows: puppetboard's reports page total and its daily
chart become index-only scans."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reports", "0005_query_indexes")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS report_env_type_ts_idx "
            "ON reports_report (environment_id, type, producer_timestamp) INCLUDE (status)",
            "DROP INDEX IF EXISTS report_env_type_ts_idx",
        ),
    ]
