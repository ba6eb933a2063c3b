"""``manage.py import_puppetdb <archive.tar.gz>``: load a PuppetDB export archive (``puppet db
export``, or ``GET /pdb/admin/v1/archive`` on a PuppetDB) through the command inbox."""

from __future__ import annotations

import orjson
from django.core.management.base import BaseCommand, CommandError

from inventory import archive


class Command(BaseCommand):
    help = "Import a PuppetDB export archive (facts, catalogs, reports) through the inbox."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the .tar.gz archive ('-' for standard input)")

    def handle(self, *args, path, **options):
        try:
            if path == "-":
                import io
                import sys

                result = archive.import_archive(io.BytesIO(sys.stdin.buffer.read()))
            else:
                with open(path, "rb") as handle:
                    result = archive.import_archive(handle)
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except archive.ArchiveError as exc:
            raise CommandError(f"{path}: {exc}; nothing was imported") from None
        self.stdout.write(orjson.dumps(result.as_dict()).decode())
