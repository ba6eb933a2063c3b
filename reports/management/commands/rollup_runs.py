"""Rebuild the dashboard's hourly run rollup for the last N days (after an import or restore)."""

import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from reports import rollups


class Command(BaseCommand):
    help = "Rebuild the hourly run rollup (dashboard charts) from the stored reports."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=14, help="how many days back (default 14)")

    def handle(self, *args, days, **options):
        now = timezone.now()
        total = 0
        for day in range(days, -1, -1):
            start = now - dt.timedelta(days=day + 1)
            total += rollups.refresh(start, start + dt.timedelta(days=1))
        self.stdout.write(f"rollup: {total} rows for the last {days} days")
