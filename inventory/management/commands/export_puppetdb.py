"""``manage.py export_puppetdb <out.tar.gz>``: write Stagehand's data as a PuppetDB export archive
(what ``GET /pdb/admin/v1/archive`` returns)."""

from __future__ import annotations

import orjson
from django.core.management.base import BaseCommand

from inventory import archive


class Command(BaseCommand):
    help = "Export facts, current catalogs and reports as a PuppetDB export archive."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        with open(path, "wb") as handle:
            counts = archive.export_archive(handle)
        self.stdout.write(orjson.dumps({"path": path, **counts}).decode())
