"""Query issue: puppetboard's reports table sorts by end_time (newest first)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_hooks_event_seq")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS report_end_time_idx ON reports_report (end_time DESC)",
            "DROP INDEX IF EXISTS report_end_time_idx",
        ),
    ]
