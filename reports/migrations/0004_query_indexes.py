"""Query issue: puppetboard's reports table sorts by end_time (newest first)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_merge_0002_hooks_orchestration_0002_ui_rollups")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS report_end_time_idx ON reports_report (end_time DESC)",
            "DROP INDEX IF EXISTS report_end_time_idx",
        ),
    ]
