"""Generate a large synthetic fleet straight into Stagehand's tables with set-based SQL.

    DATABASE_URL=postgresql://.../stagehand_query_bench .venv/bin/python bench/query/generate.py --nodes 10000

Shape (deterministic): ``--roles`` roles, each with a base catalog of ``--resources`` resources
plus 9 of 60 shared profile classes; two resources unique to each node (so every node's resource
set is distinct, as in real fleets); half the nodes also have an older catalog version (with
``Class[Legacy]``) that was current until a day ago. ~40 facts per node (structured os,
networking, disks, processors), two reports per node (yesterday and the latest run, 5% failed,
20% changed, 2% noop) with events for changed/failed runs.
"""

# Static SQL with integer parameters only.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")

STEPS = [
    (
        "environments, producer",
        """
        INSERT INTO inventory_environment(name) VALUES ('production'), ('staging'), ('development')
        ON CONFLICT DO NOTHING;
        INSERT INTO inventory_producer(name) VALUES ('puppet.bench') ON CONFLICT DO NOTHING;
        """,
    ),
    (
        "shared resources",
        """
        CREATE TEMP TABLE bench_role_res(r int, rid bigint);
        WITH profiles AS (
            INSERT INTO inventory_resource(hash, resource_hash, type, title, exported, file, line, tags, parameters)
            SELECT decode(md5('profile:' || p), 'hex'), md5('profile:' || p), 'Class', 'Profile::P' || p, false,
                   '/etc/puppetlabs/code/modules/profile/manifests/p' || p || '.pp', 1,
                   ARRAY['class', 'profile', 'profile::p' || p], jsonb_build_object('level', p %% 5)
            FROM generate_series(0, 59) p
            RETURNING id, title
        )
        INSERT INTO bench_role_res
        SELECT r, pr.id FROM generate_series(0, %(roles)s - 1) r
        JOIN profiles pr ON pr.title IN (
            SELECT 'Profile::P' || ((r * 7 + j) %% 60) FROM generate_series(0, 8) j);
        WITH base AS (
            INSERT INTO inventory_resource(hash, resource_hash, type, title, exported, file, line, tags, parameters)
            SELECT decode(md5('role:' || r || ':' || k), 'hex'), md5('role:' || r || ':' || k),
                   CASE WHEN k = 0 THEN 'Class' WHEN k %% 4 = 0 THEN 'Service' WHEN k %% 4 = 1 THEN 'Package'
                        WHEN k %% 4 = 2 THEN 'File' ELSE 'User' END,
                   CASE WHEN k = 0 THEN 'Role::R' || r
                        WHEN k %% 4 = 2 THEN '/etc/role' || r || '/file' || k ELSE 'res-' || r || '-' || k END,
                   false, '/etc/puppetlabs/code/modules/role/manifests/r' || r || '.pp', k,
                   ARRAY['class', 'role', 'role::r' || r],
                   jsonb_build_object('ensure', CASE WHEN k %% 4 = 1 THEN '1.' || (k %% 7) ELSE 'present' END,
                                      'k', k, 'role', r)
            FROM generate_series(0, %(roles)s - 1) r, generate_series(0, %(resources)s - 1) k
            RETURNING id, parameters
        )
        INSERT INTO bench_role_res SELECT (parameters ->> 'role')::int, id FROM base;
        INSERT INTO inventory_resource(hash, resource_hash, type, title, exported, file, line, tags, parameters)
        VALUES (decode(md5('legacy'), 'hex'), md5('legacy'), 'Class', 'Legacy', false, NULL, NULL,
                ARRAY['class', 'legacy'], '{}');
        """,
    ),
    (
        "nodes",
        """
        INSERT INTO inventory_node(certname, created, expires_facts)
        SELECT 'node-' || lpad(i::text, 6, '0') || '.bench.example.com', now(), true
        FROM generate_series(1, %(nodes)s) i;
        CREATE TEMP TABLE bench_node AS
        SELECT id, certname, (substr(certname, 6, 6))::int AS i, (substr(certname, 6, 6))::int %% %(roles)s AS r,
               (SELECT id FROM inventory_environment WHERE name =
                 CASE WHEN (substr(certname, 6, 6))::int %% 20 < 16 THEN 'production'
                      WHEN (substr(certname, 6, 6))::int %% 20 < 19 THEN 'staging' ELSE 'development' END) AS env
        FROM inventory_node WHERE certname LIKE 'node-%%.bench.example.com';
        CREATE INDEX ON bench_node (i);
        ANALYZE bench_node;
        """,
    ),
    (
        "unique resources and resource sets",
        """
        CREATE TEMP TABLE bench_unique AS
        WITH ins AS (
            INSERT INTO inventory_resource(hash, resource_hash, type, title, exported, file, line, tags, parameters)
            SELECT decode(md5('u:' || n.i || ':' || j), 'hex'), md5('u:' || n.i || ':' || j),
                   CASE WHEN j = 0 THEN 'File' ELSE 'Nagios_host' END,
                   CASE WHEN j = 0 THEN '/etc/hostname' ELSE n.certname END,
                   j = 1, NULL, NULL, ARRAY['node'],
                   CASE WHEN j = 0 THEN jsonb_build_object('content', n.certname)
                        ELSE jsonb_build_object('address', '10.' || (n.i / 65536) || '.' || (n.i / 256 %% 256)
                                                || '.' || (n.i %% 256)) END
            FROM bench_node n, generate_series(0, 1) j
            RETURNING id, hash
        )
        SELECT id, hash FROM ins;
        CREATE INDEX ON bench_unique (hash);
        ANALYZE bench_unique;
        CREATE TEMP TABLE bench_role_ids AS SELECT r, array_agg(rid ORDER BY rid) AS ids FROM bench_role_res GROUP BY r;
        CREATE TEMP TABLE bench_node_unique AS
        SELECT n.i, array_agg(u.id) AS ids
        FROM bench_node n, generate_series(0, 1) j
        JOIN LATERAL (SELECT id FROM bench_unique WHERE hash = decode(md5('u:' || n.i || ':' || j), 'hex')) u ON TRUE
        GROUP BY n.i;
        CREATE INDEX ON bench_node_unique (i);
        CREATE TEMP TABLE bench_sets AS
        SELECT n.id AS node_id, n.i, n.r, n.env,
               ARRAY(SELECT x FROM unnest(ri.ids || nu.ids) x ORDER BY x) AS ids
        FROM bench_node n JOIN bench_role_ids ri ON ri.r = n.r JOIN bench_node_unique nu ON nu.i = n.i;
        INSERT INTO inventory_resourceset(hash, resource_ids, size)
        SELECT decode(md5('set:' || i), 'hex'), ids, cardinality(ids) FROM bench_sets;
        -- older versions: without the role's first profile, with Class[Legacy]
        CREATE TEMP TABLE bench_role_first AS SELECT r, min(rid) AS rid FROM bench_role_res GROUP BY r;
        INSERT INTO inventory_resourceset(hash, resource_ids, size)
        SELECT decode(md5('oldset:' || s.i), 'hex'), x.ids, cardinality(x.ids)
        FROM bench_sets s JOIN bench_role_first rf ON rf.r = s.r CROSS JOIN LATERAL (
            SELECT ARRAY(SELECT v FROM unnest(s.ids || (SELECT id FROM inventory_resource WHERE title = 'Legacy')) v
                         WHERE v <> rf.rid ORDER BY v) AS ids
        ) x WHERE s.i %% 2 = 0;
        """,
    ),
    (
        "edge sets and catalogs",
        """
        INSERT INTO inventory_edgeset(hash, edges, size)
        SELECT decode(md5('edges:' || r), 'hex'),
               (SELECT jsonb_agg(jsonb_build_array('Class', 'Role::R' || r, 'contains', res.type, res.title)
                                 ORDER BY res.id)
                FROM bench_role_res br JOIN inventory_resource res ON res.id = br.rid
                WHERE br.r = g.r AND res.title <> 'Role::R' || r),
               %(resources)s + 8
        FROM generate_series(0, %(roles)s - 1) AS g(r);
        INSERT INTO inventory_catalog(node_id, hash, catalog_uuid, transaction_uuid, code_id, job_id, version,
            environment_id, producer_id, producer_timestamp, first_producer_timestamp, received, compiles,
            resource_set_id, edge_set_id, valid_from, valid_to)
        SELECT s.node_id, md5('oldcat:' || s.i), md5('oldcatuuid:' || s.i)::uuid::text,
               md5('oldtxn:' || s.i)::uuid::text, 'code-old', NULL, '1700000000', s.env,
               (SELECT id FROM inventory_producer WHERE name = 'puppet.bench'),
               now() - interval '1 day' - (s.i %% 1800) * interval '1 second',
               now() - interval '3 days', now() - interval '1 day', 40,
               rs.id, (SELECT id FROM inventory_edgeset WHERE hash = decode(md5('edges:' || s.r), 'hex')),
               now() - interval '3 days' - (s.i %% 1800) * interval '1 second',
               now() - interval '1 day' - (s.i %% 1800) * interval '1 second'
        FROM bench_sets s JOIN inventory_resourceset rs ON rs.hash = decode(md5('oldset:' || s.i), 'hex');
        INSERT INTO inventory_catalog(node_id, hash, catalog_uuid, transaction_uuid, code_id, job_id, version,
            environment_id, producer_id, producer_timestamp, first_producer_timestamp, received, compiles,
            resource_set_id, edge_set_id, valid_from, valid_to)
        SELECT s.node_id, md5('cat:' || s.i), md5('catuuid:' || s.i)::uuid::text, md5('txn:' || s.i)::uuid::text,
               'code-' || (s.i %% 3), NULL, '1700086400', s.env,
               (SELECT id FROM inventory_producer WHERE name = 'puppet.bench'),
               now() - (s.i %% 1800) * interval '1 second' - interval '5 minutes',
               CASE WHEN s.i %% 2 = 0 THEN now() - interval '1 day' ELSE now() - interval '3 days' END,
               now() - (s.i %% 1800) * interval '1 second', 20, rs.id,
               (SELECT id FROM inventory_edgeset WHERE hash = decode(md5('edges:' || s.r), 'hex')),
               CASE WHEN s.i %% 2 = 0 THEN now() - interval '1 day' - (s.i %% 1800) * interval '1 second'
                    ELSE now() - interval '3 days' END,
               NULL
        FROM bench_sets s JOIN inventory_resourceset rs ON rs.hash = decode(md5('set:' || s.i), 'hex');
        """,
    ),
    (
        "factsets and fact paths",
        """
        INSERT INTO inventory_factset(node_id, timestamp, producer_timestamp, hash, stable, volatile, paths_hash,
                                      package_hash, package_ids, environment_id, producer_id)
        SELECT n.id, now() - (n.i %% 1800) * interval '1 second', now() - (n.i %% 1800) * interval '1 second',
               md5('facts:' || n.i),
               jsonb_build_object(
                 'hostname', split_part(n.certname, '.', 1), 'fqdn', n.certname, 'domain', 'bench.example.com',
                 'kernel', 'Linux', 'role', 'r' || n.r, 'datacenter', 'dc' || (n.i %% 4),
                 'osfamily', CASE WHEN n.r %% 3 = 0 THEN 'RedHat' ELSE 'Debian' END,
                 'os', jsonb_build_object('family', CASE WHEN n.r %% 3 = 0 THEN 'RedHat' ELSE 'Debian' END,
                       'name', CASE WHEN n.r %% 3 = 0 THEN 'Rocky' ELSE 'Debian' END,
                       'release', jsonb_build_object('major', CASE WHEN n.r %% 3 = 0 THEN '9' ELSE '12' END,
                                                     'full', CASE WHEN n.r %% 3 = 0 THEN '9.' || (n.i %% 4) ELSE '12.' || (n.i %% 6) END)),
                 'processors', jsonb_build_object('count', 2 + (n.i %% 8) * 2, 'models', jsonb_build_array('Xeon')),
                 'memorysize_mb', 2048 * (1 + n.i %% 8), 'is_virtual', n.i %% 5 <> 0,
                 'networking', jsonb_build_object('ip', '10.' || (n.i / 65536) || '.' || (n.i / 256 %% 256) || '.' || (n.i %% 256),
                       'interfaces', jsonb_build_object('eth0', jsonb_build_object(
                           'ip', '10.' || (n.i / 65536) || '.' || (n.i / 256 %% 256) || '.' || (n.i %% 256), 'mtu', 1500))),
                 'disks', jsonb_build_object('sda', jsonb_build_object('size_bytes', 10737418240 * (1 + n.i %% 4))),
                 'trusted', jsonb_build_object('certname', n.certname, 'authenticated', 'remote',
                       'extensions', jsonb_build_object('pp_role', 'r' || n.r)))
               || (SELECT jsonb_object_agg('fact_' || k, 'value-' || ((n.i + k) %% 50)) FROM generate_series(1, 25) k),
               jsonb_build_object('uptime_seconds', 1000 + n.i, 'memoryfree_mb', 100 + n.i %% 1000,
                                  'load_averages', jsonb_build_object('1m', (n.i %% 100) / 10.0)),
               '', '', '{}', n.env, (SELECT id FROM inventory_producer WHERE name = 'puppet.bench')
        FROM bench_node n;
        INSERT INTO inventory_factpath(path, path_key, name, depth, value_type, last_seen)
        SELECT DISTINCT ARRAY(SELECT jsonb_array_elements_text(l.path)), l.path::text, l.path ->> 0,
               jsonb_array_length(l.path) - 1,
               CASE jsonb_typeof(l.value) WHEN 'number' THEN
                    CASE WHEN l.value::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'float' END
                    ELSE jsonb_typeof(l.value) END, now()
        FROM (SELECT stable || volatile AS doc FROM inventory_factset LIMIT 200) d,
             stagehand_fact_leaves(d.doc) l
        ON CONFLICT DO NOTHING;
        """,
    ),
    (
        "reports and events",
        """
        INSERT INTO reports_report(hash, node_id, certname, environment_id, producer_id, transaction_uuid,
            catalog_uuid, code_id, job_id, configuration_version, puppet_version, report_format, start_time, end_time,
            producer_timestamp, receive_time, status, noop, noop_pending, corrective_change, cached_catalog_status,
            type, source, resources_total, resources_changed, resources_failed, resources_out_of_sync,
            resources_skipped, events_success, events_failure, events_noop, run_duration, metrics, logs, resources)
        SELECT md5('report:' || n.i || ':' || g), n.id, n.certname, n.env,
               (SELECT id FROM inventory_producer WHERE name = 'puppet.bench'),
               md5(CASE WHEN g = 0 THEN 'oldtxn:' ELSE 'txn:' END || n.i)::uuid::text,
               md5(CASE WHEN g = 0 AND n.i %% 2 = 0 THEN 'oldcatuuid:' ELSE 'catuuid:' END || n.i)::uuid::text,
               CASE WHEN g = 0 AND n.i %% 2 = 0 THEN 'code-old' ELSE 'code-' || (n.i %% 3) END, NULL,
               '1700086400', '7.23.0', 12, t.ts - interval '40 seconds', t.ts - interval '1 second', t.ts, t.ts,
               st.status, n.i %% 50 = 7, n.i %% 50 = 7, NULL, 'not_used', 'agent', 'puppetdb',
               %(resources)s + 11, CASE WHEN st.status = 'changed' THEN 2 ELSE 0 END,
               CASE WHEN st.status = 'failed' THEN 1 ELSE 0 END, 0, 0, 0, 0, 0, 39.0,
               jsonb_build_array(jsonb_build_object('category', 'time', 'name', 'total', 'value', 39.0)),
               jsonb_build_array(jsonb_build_object('level', 'notice', 'message', 'Applied catalog', 'source', 'Puppet',
                                                    'tags', jsonb_build_array('notice'), 'time', t.ts, 'file', NULL,
                                                    'line', NULL)), NULL
        FROM bench_node n, generate_series(0, 1) g
        CROSS JOIN LATERAL (SELECT now() - (1 - g) * interval '1 day' - (n.i %% 1800) * interval '1 second'
                                   - interval '4 minutes' AS ts) t
        CROSS JOIN LATERAL (SELECT CASE WHEN g = 0 THEN 'changed' WHEN n.i %% 20 = 3 THEN 'failed'
                                        WHEN n.i %% 5 = 1 THEN 'changed' ELSE 'unchanged' END AS status) st;
        INSERT INTO reports_resourceevent(report_id, report_timestamp, node_id, certname, environment_id, status,
            timestamp, resource_type, resource_title, property, name, old_value, new_value, message, file, line,
            containment_path, containing_class, corrective_change)
        SELECT r.id, r.producer_timestamp, r.node_id, r.certname, r.environment_id,
               CASE WHEN e = 1 AND r.status = 'failed' THEN 'failure' ELSE 'success' END,
               r.start_time + e * interval '1 second', CASE WHEN e = 0 THEN 'File' ELSE 'Service' END,
               CASE WHEN e = 0 THEN '/etc/motd' ELSE 'app' END, CASE WHEN e = 0 THEN 'content' ELSE 'ensure' END,
               NULL, '"old"', '"new"', 'changed', NULL, NULL, ARRAY['Stage[main]', 'Profile::P1', 'X'], 'Profile::P1',
               NULL
        FROM reports_report r, generate_series(0, 1) e
        WHERE r.status IN ('changed', 'failed') AND r.certname LIKE 'node-%%.bench.example.com';
        """,
    ),
    (
        "node latest columns",
        """
        UPDATE inventory_node n SET
            facts_timestamp = fs.timestamp, facts_producer_timestamp = fs.producer_timestamp,
            facts_environment_id = fs.environment_id
        FROM inventory_factset fs WHERE fs.node_id = n.id;
        UPDATE inventory_node n SET
            catalog_timestamp = c.received, catalog_producer_timestamp = c.producer_timestamp,
            catalog_environment_id = c.environment_id, latest_catalog_id = c.id, latest_catalog_code_id = c.code_id
        FROM inventory_catalog c WHERE c.node_id = n.id AND c.valid_to IS NULL;
        UPDATE inventory_node n SET
            report_timestamp = r.producer_timestamp, report_environment_id = r.environment_id,
            latest_report_id = r.id, latest_report_hash = r.hash, latest_report_status = r.status,
            latest_report_noop = r.noop, latest_report_noop_pending = r.noop_pending,
            latest_report_code_id = r.code_id, latest_report_configuration_version = r.configuration_version,
            latest_report_transaction_uuid = r.transaction_uuid, cached_catalog_status = r.cached_catalog_status
        FROM (SELECT DISTINCT ON (node_id) * FROM reports_report ORDER BY node_id, producer_timestamp DESC) r
        WHERE r.node_id = n.id;
        UPDATE inventory_node SET deactivated = now() - interval '1 hour'
        WHERE certname LIKE 'node-%%.bench.example.com' AND (substr(certname, 6, 6))::int %% 100 = 99;
        ANALYZE;
        """,
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--roles", type=int, default=20)
    parser.add_argument("--resources", type=int, default=150)
    args = parser.parse_args()

    import datetime as dt

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from reports import partitions

    call_command("migrate", verbosity=0)
    today = dt.datetime.now(dt.UTC).date()
    for delta in range(-4, 2):
        partitions.ensure_day(today + dt.timedelta(days=delta))
    params = {"nodes": args.nodes, "roles": args.roles, "resources": args.resources}
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reports_resourceevent, reports_report, inventory_catalog, inventory_factset, "
            "inventory_factpath, inventory_resourceset, inventory_edgeset, inventory_resource, inventory_node CASCADE"
        )
    total = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql in STEPS:
            started = time.monotonic()
            cursor.execute(sql, params)
            print(f"{name}: {time.monotonic() - started:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"generated {args.nodes} nodes in {time.monotonic() - total:.1f}s")


if __name__ == "__main__":
    main()
