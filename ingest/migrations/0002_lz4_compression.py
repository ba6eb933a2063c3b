from django.db import migrations

from config.compression import use_lz4


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]

    operations = [use_lz4("ingest_command", ["payload"])]
