"""``manage.py delete_node <certname> ...``: delete nodes and all their data now (PuppetDB's
admin ``delete`` command)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory import retention


class Command(BaseCommand):
    help = "Delete nodes and all their data (facts, catalogs and history, reports, events)."

    def add_arguments(self, parser):
        parser.add_argument("certnames", nargs="+")

    def handle(self, *args, certnames, **options):
        missing = [c for c in certnames if not retention.delete_node(c)]
        for certname in certnames:
            if certname not in missing:
                self.stdout.write(f"deleted {certname}")
        if missing:
            raise CommandError(f"no such node: {', '.join(missing)}")
