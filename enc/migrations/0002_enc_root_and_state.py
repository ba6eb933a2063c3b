"""The root group "All nodes" (matches every node) and the classification state row."""

import uuid

from django.db import migrations

ROOT_ID = uuid.UUID("00000000-0000-4000-8000-000000000000")


def create(apps, schema_editor):
    NodeGroup = apps.get_model("enc", "NodeGroup")
    ClassificationState = apps.get_model("enc", "ClassificationState")
    NodeGroup.objects.get_or_create(
        id=ROOT_ID,
        defaults={"name": "All nodes", "description": "Every node. The root of the group tree.", "rule": None},
    )
    ClassificationState.objects.get_or_create(id=1, defaults={"version": 1})


class Migration(migrations.Migration):
    dependencies = [("enc", "0001_enc_groups")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
