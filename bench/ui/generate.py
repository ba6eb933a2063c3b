"""Fill a Stagehand database with a large fleet for the UI benchmark, with set-based SQL only.

    DATABASE_URL=postgresql://…/stagehand_ui_bench .venv/bin/python bench/ui/generate.py \
        --nodes 50000 --days 30 --runs-per-day 2 --dense-hours 6

The database is migrated first and must not hold other data (the tables are truncated).
Shape: ``--nodes`` nodes in 4 environments with statuses (5% failed, 15% changed, 5% noop pending,
2% unreported, 1% deactivated); ``--runs-per-day`` reports per node per day over ``--days`` days
plus a run every 30 minutes during the last ``--dense-hours`` hours (the agents' usual interval);
two events for each changed/failed/noop report of the last 7 days; a factset of ~150 facts per
node; 3,000 distinct resources in 200 resource sets of ~300 resources and 4 catalog versions per
node; 100,000 inbox commands (a few dead and pending).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")


def step(label, sql, params=None):
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        rows = cursor.rowcount
    print(f"  {label}: {rows} rows in {time.perf_counter() - started:.1f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=50000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs-per-day", type=int, default=2)
    parser.add_argument("--dense-hours", type=int, default=6)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from reports import partitions, rollups

    call_command("migrate", "--noinput", verbosity=0)
    now = timezone.now().replace(microsecond=0)
    start = now - dt.timedelta(days=args.days)
    total_started = time.perf_counter()
    print(f"generate: {args.nodes} nodes, {args.days} days, {args.runs_per_day} runs/day, dense {args.dense_hours} h")
    day = start.date()
    while day <= (now + dt.timedelta(days=1)).date():
        partitions.ensure_day(day)
        day += dt.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reports_report, reports_resourceevent, reports_runhour, inventory_catalog, inventory_factset, "
            "inventory_factpath, inventory_resourceset, inventory_resource, inventory_edgeset, ingest_command, "
            "inventory_factdistribution, inventory_node, inventory_environment, inventory_producer CASCADE"
        )
    n = args.nodes
    p = {"n": n, "now": now, "start": start, "days": args.days, "rpd": args.runs_per_day, "dense": args.dense_hours}
    step(
        "environments",
        "INSERT INTO inventory_environment (id, name) VALUES (1,'production'),(2,'staging'),(3,'development'),(4,'qa')",
    )
    step("producers", "INSERT INTO inventory_producer (id, name) VALUES (1, 'puppet01.example.com')")
    # Node i: status bucket by i % 100; the phase of its runs within the 30-minute interval is
    # spread with two waves (nodes started by cron at :00 and :30).
    step(
        "nodes",
        """
        INSERT INTO inventory_node (id, certname, created, expires_facts, report_environment_id,
            catalog_environment_id, facts_environment_id, latest_report_status, latest_report_noop,
            latest_report_noop_pending, deactivated)
        SELECT i, format('node%%s.%%s.example.com', lpad(i::text, 6, '0'), (ARRAY['dc1','dc2','dc3'])[1 + i %% 3]),
               %(start)s, true, 1 + (i %% 10 = 0)::int + (i %% 25 = 0)::int, 1, 1,
               CASE WHEN i %% 100 < 5 THEN 'failed' WHEN i %% 100 < 20 THEN 'changed' ELSE 'unchanged' END,
               i %% 100 BETWEEN 20 AND 24, i %% 100 BETWEEN 20 AND 24,
               CASE WHEN i %% 100 = 99 THEN %(now)s - interval '2 days' END
        FROM generate_series(1, %(n)s) i
        """,
        p,
    )
    # Reports: runs-per-day over the whole range, plus every 30 minutes in the dense window.
    # The phase (seconds into the 30-min interval) is per node: 20% of nodes at :00 +-60 s.
    step(
        "reports",
        """
        INSERT INTO reports_report (hash, node_id, certname, environment_id, producer_id, transaction_uuid,
            catalog_uuid, code_id, configuration_version, puppet_version, report_format, start_time, end_time,
            producer_timestamp, receive_time, status, noop, noop_pending, corrective_change, cached_catalog_status,
            type, source, resources_total, resources_changed, resources_failed, resources_out_of_sync,
            resources_skipped, events_success, events_failure, events_noop, run_duration, metrics, logs)
        SELECT md5(n.id::text || ts::text), n.id, n.certname, n.report_environment_id, 1, md5(ts::text || n.id),
            md5(n.id::text || 'c'), 'code' || (extract(epoch FROM ts)::bigint / 86400 %% 7), '1700000000', '7.23.0',
            12, ts - make_interval(secs => dur), ts, ts, ts + interval '1 second', st, nd.noop, nd.noop, false,
            'not_used', 'agent', 'puppetdb', 300, (st <> 'unchanged')::int * 2, (st = 'failed')::int, 0, 0,
            (st <> 'unchanged')::int * 2, (st = 'failed')::int, nd.noop::int * 2, dur,
            '[{"category":"time","name":"total","value":20.5},{"category":"time","name":"config_retrieval","value":8.1},{"category":"time","name":"file","value":5.2},{"category":"resources","name":"total","value":300}]',
            CASE WHEN st = 'failed' THEN '[{"level":"err","message":"Could not start Service[app]","source":"Puppet","tags":["err"],"time":"2026-01-01T00:00:00Z","file":null,"line":null},{"level":"notice","message":"Applied catalog","source":"Puppet","tags":[],"time":"2026-01-01T00:00:00Z","file":null,"line":null}]'::jsonb
                 ELSE '[{"level":"notice","message":"Applied catalog","source":"Puppet","tags":[],"time":"2026-01-01T00:00:00Z","file":null,"line":null}]'::jsonb END
        FROM inventory_node n
        CROSS JOIN LATERAL (
            SELECT CASE WHEN n.id %% 5 = 0 THEN (n.id %% 120) - 60 ELSE (n.id * 7919) %% 1800 END AS phase,
                   n.latest_report_noop AS noop
        ) nd
        CROSS JOIN LATERAL (
            SELECT %(start)s::timestamptz + make_interval(secs => k * 86400.0 / %(rpd)s + nd.phase) AS ts
            FROM generate_series(0, %(days)s * %(rpd)s - 1) k
            UNION ALL
            SELECT %(now)s::timestamptz - make_interval(secs => k * 1800 + 1800 - nd.phase) AS ts
            FROM generate_series(0, %(dense)s * 2 - 1) k
        ) t
        CROSS JOIN LATERAL (
            SELECT CASE WHEN t.ts > %(now)s - interval '31 minutes' THEN n.latest_report_status
                        WHEN (n.id + extract(epoch FROM t.ts)::bigint / 1800) %% 50 = 0 THEN 'failed'
                        WHEN (n.id + extract(epoch FROM t.ts)::bigint / 1800) %% 9 = 0 THEN 'changed'
                        ELSE 'unchanged' END AS st,
                   10 + ((n.id * 31 + extract(epoch FROM t.ts)::bigint) %% 400) / 10.0 AS dur
        ) s
        WHERE n.deactivated IS NULL AND t.ts < %(now)s AND (n.id %% 100 <> 98 OR t.ts < %(now)s - interval '1 day')
        """,
        p,
    )
    step(
        "node latest report",
        """
        UPDATE inventory_node n SET report_timestamp = r.producer_timestamp, latest_report_id = r.id,
            latest_report_hash = r.hash, latest_report_status = r.status, latest_report_code_id = r.code_id,
            latest_report_transaction_uuid = r.transaction_uuid, cached_catalog_status = 'not_used'
        FROM (SELECT DISTINCT ON (node_id) node_id, producer_timestamp, id, hash, status, code_id, transaction_uuid
              FROM reports_report WHERE producer_timestamp > %(now)s - interval '2 days'
              ORDER BY node_id, producer_timestamp DESC) r
        WHERE r.node_id = n.id
        """,
        p,
    )
    step(
        "events",
        """
        INSERT INTO reports_resourceevent (report_id, report_timestamp, node_id, certname, environment_id, status,
            "timestamp", resource_type, resource_title, property, name, old_value, new_value, message,
            containment_path, containing_class, corrective_change)
        SELECT r.id, r.producer_timestamp, r.node_id, r.certname, r.environment_id,
            CASE WHEN r.status = 'failed' AND e = 1 THEN 'failure' WHEN r.noop THEN 'noop' ELSE 'success' END,
            r.producer_timestamp, (ARRAY['File','Service'])[e], (ARRAY['/etc/app.conf','app'])[e],
            (ARRAY['content','ensure'])[e], (ARRAY['content','ensure'])[e], '"old"', '"new"', 'changed',
            ARRAY['Stage[main]','App'], 'App', false
        FROM reports_report r CROSS JOIN generate_series(1, 2) e
        WHERE r.producer_timestamp > %(now)s - interval '7 days' AND (r.status <> 'unchanged' OR r.noop)
        """,
        p,
    )
    step(
        "resources",
        """
        INSERT INTO inventory_resource (id, hash, resource_hash, type, title, exported, file, line, tags, parameters)
        SELECT i, decode(md5(i::text) || '00000000', 'hex'), md5(i::text),
            CASE WHEN i %% 10 = 0 THEN 'Class' ELSE (ARRAY['File','Package','Service','User','Exec','Cron'])[1 + i %% 6] END,
            CASE WHEN i %% 10 = 0 THEN 'Profile::Role' || i ELSE 'res' || i END, false,
            '/etc/puppetlabs/code/site.pp', i %% 500,
            ARRAY['class', 'profile::role' || (i / 10 * 10)],
            jsonb_build_object('ensure', 'present', 'owner', 'root', 'content', repeat('x', 40) || i)
        FROM generate_series(1, 3000) i
        """,
        p,
    )
    step(
        "resource sets",
        """
        INSERT INTO inventory_resourceset (id, hash, resource_ids, size)
        SELECT s, decode(md5('set' || s) || '00000000', 'hex'),
            ARRAY(SELECT 1 + ((s * 13 + k) %% 3000) FROM generate_series(0, 299) k ORDER BY 1), 300
        FROM generate_series(1, 200) s
        """,
        p,
    )
    step("edge sets", "INSERT INTO inventory_edgeset (id, hash, edges, size) VALUES (1, '\\x00', '[]', 0)")
    step(
        "catalogs",
        """
        INSERT INTO inventory_catalog (node_id, hash, catalog_uuid, transaction_uuid, code_id, job_id, version,
            environment_id, producer_id, producer_timestamp, first_producer_timestamp, received, compiles,
            resource_set_id, edge_set_id, valid_from, valid_to)
        SELECT n.id, md5(n.id || '-' || v), md5(n.id || 'u' || v), md5(n.id || 't' || v), 'code' || v, NULL,
            '17000000' || v, n.catalog_environment_id, 1, vf, vf, vf, 10, 1 + (n.id + v * 37) %% 200, 1, vf,
            CASE WHEN v < 3 THEN %(now)s - make_interval(days => (3 - v - 1) * 7 + 1) END
        FROM inventory_node n CROSS JOIN generate_series(0, 3) v
        CROSS JOIN LATERAL (SELECT %(now)s - make_interval(days => (3 - v) * 7 + 1) AS vf) f
        """,
        p,
    )
    step(
        "node latest catalog",
        """
        UPDATE inventory_node n SET latest_catalog_id = c.id, latest_catalog_code_id = c.code_id,
            catalog_timestamp = c.producer_timestamp, catalog_producer_timestamp = c.producer_timestamp
        FROM inventory_catalog c WHERE c.node_id = n.id AND c.valid_to IS NULL
        """,
        p,
    )
    step(
        "factsets",
        """
        INSERT INTO inventory_factset (node_id, environment_id, producer_id, timestamp, producer_timestamp, hash,
            stable, volatile, paths_hash, package_hash, package_ids)
        SELECT n.id, 1, 1, %(now)s - interval '10 minutes', %(now)s - interval '10 minutes', md5(n.certname),
            pad.doc || jsonb_build_object(
                'os', jsonb_build_object('family', (ARRAY['Debian','RedHat','Debian','Suse'])[1 + n.id %% 4],
                       'release', jsonb_build_object('major', (10 + n.id %% 3)::text, 'full', (10 + n.id %% 3) || '.' || n.id %% 9)),
                'fqdn', n.certname, 'hostname', split_part(n.certname, '.', 1),
                'networking', jsonb_build_object('ip', '10.' || n.id / 65536 || '.' || n.id / 256 %% 256 || '.' || n.id %% 256,
                       'interfaces', jsonb_build_object('eth0', jsonb_build_object('mtu', 1500))),
                'processorcount', 2 + n.id %% 8, 'datacenter', split_part(n.certname, '.', 2)),
            jsonb_build_object('uptime_seconds', n.id * 17, 'memoryfree_mb', n.id %% 8000),
            '', '', '{}'
        FROM inventory_node n
        CROSS JOIN (SELECT jsonb_object_agg('custom_fact_' || k, 'value number ' || k) AS doc FROM generate_series(1, 140) k) pad
        """,
        p,
    )
    step(
        "fact paths",
        """
        INSERT INTO inventory_factpath (path, path_key, name, depth, value_type, last_seen)
        SELECT ARRAY[k], '["' || k || '"]', k, 0, 'string', %(now)s FROM (
            SELECT 'custom_fact_' || i AS k FROM generate_series(1, 140) i
            UNION ALL SELECT unnest(ARRAY['fqdn','hostname','datacenter'])) s
        UNION ALL SELECT ARRAY['os'], '["os"]', 'os', 0, 'hash', %(now)s
        UNION ALL SELECT ARRAY['os','family'], '["os", "family"]', 'os', 1, 'string', %(now)s
        UNION ALL SELECT ARRAY['os','release','major'], '["os", "release", "major"]', 'os', 2, 'string', %(now)s
        UNION ALL SELECT ARRAY['processorcount'], '["processorcount"]', 'processorcount', 0, 'integer', %(now)s
        """,
        p,
    )
    step(
        "inbox commands",
        """
        INSERT INTO ingest_command (uuid, command, version, certname, producer_timestamp, received_at, payload,
            payload_encoding, payload_format, source, state, attempts, last_error, request_id)
        SELECT gen_random_uuid(), (ARRAY['store_report','replace_facts','replace_catalog'])[1 + i %% 3], 8,
            'node' || lpad((1 + i %% %(n)s)::text, 6, '0') || '.dc1.example.com', %(now)s - make_interval(secs => i),
            %(now)s - make_interval(secs => i), '\\x7b7d', 'identity', 'json', 'puppetdb',
            CASE WHEN i %% 2000 = 0 THEN 'dead' WHEN i < 300 THEN 'pending' ELSE 'done' END,
            CASE WHEN i %% 2000 = 0 THEN 5 ELSE 1 END,
            CASE WHEN i %% 2000 = 0 THEN 'ValueError: bad report' ELSE '' END, ''
        FROM generate_series(1, 100000) i
        """,
        p,
    )
    with connection.cursor() as cursor:
        for table in (
            "inventory_node",
            "inventory_catalog",
            "inventory_factset",
            "reports_report",
            "reports_resourceevent",
            "ingest_command",
            "inventory_resourceset",
        ):
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT setval(pg_get_serial_sequence('inventory_node', 'id'), %s)", [n + 1])
    started = time.perf_counter()
    rows = 0
    for d in range(args.days + 1):
        s = now - dt.timedelta(days=args.days - d + 1)
        rows += rollups.refresh(s, s + dt.timedelta(days=1))
    rows += rollups.refresh(now - dt.timedelta(hours=1), now + dt.timedelta(seconds=1))
    print(f"  rollup backfill ({args.days} days): {rows} rows in {time.perf_counter() - started:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_report")
        reports = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM reports_resourceevent")
        events = cursor.fetchone()[0]
    print(f"generate: done in {time.perf_counter() - total_started:.0f}s: {reports} reports, {events} events")


if __name__ == "__main__":
    main()
