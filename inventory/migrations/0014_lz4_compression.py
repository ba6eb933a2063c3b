from django.db import migrations

from config.compression import use_lz4


class Migration(migrations.Migration):
    dependencies = [("inventory", "0013_factpath_unused_since")]

    operations = [
        use_lz4("inventory_factset", ["stable", "volatile"]),
        use_lz4("inventory_edgeset", ["edges"]),
        use_lz4("inventory_cataloginputs", ["inputs"]),
    ]
