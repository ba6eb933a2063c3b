"""``manage.py housekeeping [operation ...]``: run retention now (what beat runs every
GC_INTERVAL). Operations: expire_nodes, purge_nodes, purge_reports, gc_catalog_history,
gc_packages, gc_fact_paths; none means all. TTLs come from the settings (NODE_TTL, ...) unless overridden."""

from __future__ import annotations

import orjson
from django.core.management.base import BaseCommand, CommandError

from config.env import parse_duration
from inventory import retention

OPERATIONS = list(retention.OPERATIONS)


def _duration(text):
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = "Run node expiry/purge, report partition retention and catalog history GC now."

    def add_arguments(self, parser):
        parser.add_argument("operations", nargs="*", metavar="operation", help=f"one of {OPERATIONS}")
        parser.add_argument("--node-ttl")
        parser.add_argument("--node-purge-ttl")
        parser.add_argument("--report-ttl")
        parser.add_argument("--catalog-history-ttl")
        parser.add_argument("--fact-path-gc-grace")
        parser.add_argument("--batch-size", type=int)

    def handle(self, *args, operations, **options):
        unknown = [op for op in operations if op not in OPERATIONS]
        if unknown:
            raise CommandError(f"unknown operation(s) {unknown}; known: {OPERATIONS}")
        policy = retention.RetentionPolicy.from_settings()
        for name in ("node_ttl", "node_purge_ttl", "report_ttl", "catalog_history_ttl", "fact_path_gc_grace"):
            if options.get(name) is not None:
                setattr(policy, name, _duration(options[name]))
        if options.get("batch_size"):
            if options["batch_size"] < 1:
                raise CommandError("--batch-size must be at least 1")
            policy.batch_size = options["batch_size"]
        for op in operations or OPERATIONS:
            result = retention.run_operation(op, policy)
            self.stdout.write(orjson.dumps(result.as_dict()).decode())
