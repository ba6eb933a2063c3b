from django.db import migrations

from config.compression import use_lz4


class Migration(migrations.Migration):
    dependencies = [("reports", "0006_query_env_type_ts_idx")]

    operations = [use_lz4("reports_report", ["metrics", "logs", "resources"])]
