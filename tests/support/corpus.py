"""The query corpus: AST and PQL queries over the fixture fleet (``fleet.py``), with a recorder
that runs each against a real PuppetDB and against Stagehand and stores the expected answers in
``tests/fixtures/query-corpus/expected.json``.

Answers are compared after ``normalise``: fields whose values legitimately differ between two
stores loaded with the same commands (receive times, content hashes computed by different
algorithms) are dropped, and unordered lists are sorted.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson

CORPUS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "query-corpus" / "expected.json"
V4 = "/pdb/query/v4"

# Keys whose values depend on when/how a store received the data, not on the data.
VOLATILE = {
    "facts_timestamp",
    "catalog_timestamp",
    "receive_time",
    "report_receive_time",
    "resource",
    "timestamp@factsets",
    "timestamp@inventory",
    "hash@catalogs",
    "hash@factsets",
}


def q(path, query=None, **params):
    out = {"path": path if path.startswith("/") else f"{V4}/{path}", "params": {}}
    if query is not None:
        out["params"]["query"] = query if isinstance(query, str) else json.dumps(query)
    for k, v in params.items():
        out["params"][k] = v if isinstance(v, str) else json.dumps(v)
    return out


def pql(text, **params):
    return q(V4, text, **params)


W1, DB1, C1 = "web-01.example.com", "db-01.example.com", "cache-01.example.com"
ORDER_CERT = [{"field": "certname", "order": "asc"}]


def queries() -> list[dict]:
    out: list[dict] = []
    add = out.append
    # nodes
    add(q("nodes"))
    add(q("nodes", ["=", "certname", W1]))
    add(q("nodes", ["~", "certname", "^db-"]))
    add(q("nodes", ["=", "latest_report_status", "failed"]))
    add(q("nodes", ["=", "latest_report_status", "unchanged"]))
    add(q("nodes", ["and", ["=", "catalog_environment", "production"]]))
    add(q("nodes", ["and", ["=", "catalog_environment", "staging"], ["=", "latest_report_status", "failed"]]))
    add(q("nodes", ["or", ["=", "certname", W1], ["=", "certname", DB1]]))
    add(q("nodes", ["not", ["=", "report_environment", "production"]]))
    add(q("nodes", ["null?", "deactivated", True]))
    add(q("nodes", ["null?", "deactivated", False]))
    add(q("nodes", ["=", "node_state", "inactive"]))
    add(q("nodes", ["=", "node_state", "any"]))
    add(q("nodes", ["=", "latest_report_noop", True]))
    add(q("nodes", ["=", "latest_report_noop_pending", True]))
    add(q("nodes", ["=", ["fact", "role"], "db"]))
    add(q("nodes", ["=", ["fact", "is_virtual"], True]))
    add(q("nodes", [">", ["fact", "memorysize_mb"], 3000]))
    add(q("nodes", ["<=", ["fact", "uptime_seconds"], 90000]))
    add(q("nodes", ["~", ["fact", "kernelrelease"], "el9"]))
    add(q("nodes", ["in", "certname", ["array", [W1, DB1, "nope"]]]))
    add(
        q(
            "nodes",
            [
                "in",
                "certname",
                ["extract", "certname", ["select_facts", ["and", ["=", "name", "osfamily"], ["=", "value", "RedHat"]]]],
            ],
        )
    )
    add(
        q(
            "nodes",
            [
                "in",
                "certname",
                [
                    "from",
                    "resources",
                    ["extract", ["certname"], ["and", ["=", "type", "Class"], ["=", "title", "Apache"]]],
                ],
            ],
        )
    )
    add(
        q(
            "nodes",
            [
                "in",
                "certname",
                [
                    "from",
                    "fact_contents",
                    ["extract", ["certname"], ["and", ["=", "path", ["os", "release", "major"]], ["=", "value", "9"]]],
                ],
            ],
        )
    )
    add(q("nodes", ["subquery", "resources", ["and", ["=", "type", "Class"], ["=", "title", "Redis"]]]))
    add(q("nodes", ["subquery", "facts", ["and", ["=", "name", "datacenter"], ["=", "value", "dc2"]]]))
    add(q("nodes", ["subquery", "reports", ["=", "status", "failed"]]))
    add(q("nodes", ["subquery", "events", ["=", "status", "failure"]]))
    add(q("nodes", ["subquery", "catalogs", ["=", "code_id", "code-b9"]]))
    add(q("nodes", ["subquery", "inventory", ["=", "facts.os.family", "RedHat"]]))
    add(q("nodes", ["extract", [["function", "count"]]]))
    add(q("nodes", ["extract", [["function", "count"]], ["and", ["=", "catalog_environment", "production"]]]))
    add(q("nodes", ["extract", ["certname", "latest_report_status"], ["~", "certname", "web"]]))
    add(q("nodes", ["extract", [["function", "count"], "latest_report_status"], ["group_by", "latest_report_status"]]))
    add(q("nodes", ["extract", [["function", "count"], "catalog_environment"], ["group_by", "catalog_environment"]]))
    add(q("nodes", None, order_by=ORDER_CERT, limit=3))
    add(q("nodes", None, order_by=[{"field": "certname", "order": "desc"}], limit=4, offset=2))
    add(q("nodes", ["=", "catalog_environment", "production"], order_by=ORDER_CERT, limit=2, offset=1))
    add(q("nodes", ["and", ["=", "report_environment", "production"], ["null?", "deactivated", True]]))
    add(
        q(
            "nodes",
            ["and", ["=", "catalog_environment", "production"], ["null?", "catalog_timestamp", False]],
            order_by=ORDER_CERT,
        )
    )
    add(q("nodes", ["or", ["null?", "report_timestamp", True], ["<=", "report_timestamp", "2026-11-21T12:05:00.000Z"]]))
    add(q("nodes", [">", "report_timestamp", "2026-11-21T12:05:00Z"]))
    add(q("nodes", ["<", "report_timestamp", "2026-11-21T12:05:00+01:00"]))
    # single node routes
    for cert in (W1, DB1, "old-01.example.com"):
        add(q(f"nodes/{cert}"))
    add(q(f"nodes/{W1}/facts"))
    add(q(f"nodes/{W1}/facts/os"))
    add(q(f"nodes/{W1}/facts/role/web"))
    add(q(f"nodes/{DB1}/resources"))
    add(q(f"nodes/{DB1}/resources/Class"))
    add(q(f"nodes/{DB1}/resources/Package/postgresql"))
    add(q(f"nodes/{W1}/resources/File//etc/motd"))
    # environments / producers
    add(q("environments"))
    add(q("environments/production"))
    add(q("environments/staging/facts", ["=", "name", "role"]))
    add(q("environments/staging/resources", ["=", "type", "Class"]))
    add(q("environments/staging/reports", ["=", "status", "failed"]))
    add(q("environments/production/events", ["=", "status", "failure"]))
    add(q("environments", ["=", "name", "development"]))
    add(q("environments", ["subquery", "nodes", ["=", "certname", "build-01.example.com"]]))
    add(q("producers"))
    add(q("producers/puppet.example.com"))
    add(q("producers/puppet.example.com/catalogs", ["=", "certname", W1]))
    add(q("producers/puppet.example.com/factsets", ["=", "certname", W1]))
    add(q("producers/puppet.example.com/reports", ["=", "certname", "lb-01.example.com"]))
    # facts
    add(q("facts", ["=", "name", "kernel"]))
    add(q("facts", ["=", "name", "os"]))
    add(q("facts", ["and", ["=", "name", "processors"], ["=", "certname", W1]]))
    add(
        q("facts", ["and", ["=", "environment", "staging"], ["or", ["=", "name", "role"], ["=", "name", "datacenter"]]])
    )
    add(q("facts", ["and", ["=", "name", "memorysize_mb"], [">", "value", 4000]]))
    add(q("facts", ["and", ["=", "name", "memoryfree_mb"], ["<", "value", 515]]))
    add(q("facts", ["and", ["=", "name", "is_virtual"], ["=", "value", False]]))
    add(q("facts", ["and", ["=", "name", "hostname"], ["~", "value", "^(web|lb)"]]))
    add(q("facts", ["in", "name", ["array", ["role", "osfamily"]]]))
    add(q("facts", ["=", "value", "RedHat"]))
    add(q("facts", ["=", "value", 15]))
    add(
        q(
            "facts",
            [
                "and",
                ["=", "certname", DB1],
                ["not", ["~", "name", "^(os|trusted|networking|processors|disks|load_averages)$"]],
            ],
        )
    )
    add(q("facts", ["extract", [["function", "count"]], ["=", "name", "kernel"]]))
    add(q("facts", ["extract", [["function", "count"], "value"], ["=", "name", "role"], ["group_by", "value"]]))
    add(q("facts", ["extract", [["function", "avg", "value"]], ["=", "name", "memorysize_mb"]]))
    add(q("facts", ["extract", [["function", "sum", "value"]], ["=", "name", "uptime_seconds"]]))
    add(q("facts", ["extract", [["function", "max", "value"]], ["=", "name", "memorysize_mb"]]))
    add(q("facts", ["extract", [["function", "min", "value"]], ["=", "name", "memorysize_mb"]]))
    add(q("facts", ["extract", ["certname", "value"], ["=", "name", "fqdn"]]))
    add(q("facts", ["=", "name", "role"], order_by=[{"field": "certname", "order": "desc"}], limit=5))
    add(q("facts", ["=", "name", "fqdn"], order_by=[{"field": "value"}], limit=3, offset=3))
    add(q("facts/role"))
    add(q("facts/role/cache"))
    add(q("facts/osfamily", ["=", "certname", W1]))
    add(
        q(
            "facts",
            [
                "and",
                ["=", "name", "role"],
                [
                    "in",
                    "certname",
                    ["from", "nodes", ["extract", ["certname"], ["=", "latest_report_status", "failed"]]],
                ],
            ],
        )
    )
    add(q("facts", ["and", ["=", "name", "role"], ["subquery", "nodes", ["=", "latest_report_status", "changed"]]]))
    add(q("facts", ["and", ["=", "name", "kernel"], ["=", "node_state", "any"]]))
    # fact names / paths / contents
    add(q("fact-names"))
    add(q("fact-names", None, limit=5, offset=2))
    add(q("fact-paths", ["=", "path", ["os", "family"]]))
    add(q("fact-paths", ["~>", "path", ["os", ".*"]]))
    add(q("fact-paths", ["=", "type", "integer"]))
    add(q("fact-paths", ["~", "name", "^net"]))
    add(q("fact-contents", ["=", "path", ["os", "family"]]))
    add(q("fact-contents", ["=", "path", ["networking", "interfaces", "eth0", "ip"]]))
    add(q("fact-contents", ["~>", "path", ["os", "release", ".*"]]))
    add(q("fact-contents", ["~>", "path", ["disks", 0, "size_bytes"]]))
    add(q("fact-contents", ["and", ["=", "certname", W1], ["=", "name", "trusted"]]))
    add(q("fact-contents", ["and", ["=", "name", "processors"], ["=", "value", "Intel Xeon"]]))
    add(q("fact-contents", ["and", ["~>", "path", ["processors", "count"]], [">", "value", 4]]))
    add(q("fact-contents", ["extract", [["function", "count"]], ["=", "name", "os"]]))
    add(q("fact-contents", ["extract", ["certname", "value"], ["=", "path", ["trusted", "extensions", "pp_role"]]]))
    # inventory
    add(q("inventory", ["=", "facts.os.family", "RedHat"]))
    add(q("inventory", ["=", "trusted.extensions.pp_role", "cache"]))
    add(q("inventory", [">", "facts.processors.count", 4]))
    add(q("inventory", ["extract", ["certname", "facts.os.release.major"], ["=", "facts.role", "db"]]))
    add(q("inventory", ["extract", ["certname", "facts.networking.interfaces.eth0.ip"], ["=", "certname", W1]]))
    add(q("inventory", ["extract", ["certname", "facts.disks[0].size_bytes"], ["=", "certname", DB1]]))
    add(q("inventory", ["=", "facts.disks[0].name", "sda"], order_by=ORDER_CERT, limit=2))
    add(q("inventory", ["~", "facts.os.name", "^Red"]))
    add(q("inventory", ["extract", ["certname", "trusted"], ["=", "certname", C1]]))
    # factsets
    add(q("factsets", ["=", "certname", W1]))
    add(q("factsets/" + DB1))
    add(q("factsets/" + DB1 + "/facts"))
    add(q("factsets", ["extract", ["certname", "environment"], ["=", "environment", "staging"]]))
    # catalogs, edges
    add(q("catalogs", ["=", "certname", W1]))
    add(q("catalogs/" + DB1))
    add(q("catalogs/" + DB1 + "/edges"))
    add(q("catalogs/" + DB1 + "/resources"))
    add(q("catalogs", ["extract", ["certname", "code_id"], ["=", "environment", "staging"]]))
    add(q("catalogs", ["extract", [["function", "count"], "code_id"], ["group_by", "code_id"]]))
    add(q("catalogs", ["extract", ["certname", "catalog_uuid", "transaction_uuid", "version"], ["=", "certname", C1]]))
    add(q("edges", ["=", "relationship", "before"]))
    add(q("edges", ["and", ["=", "certname", W1], ["=", "source_type", "Stage"]]))
    add(q("edges", ["and", ["=", "target_type", "Package"], ["=", "target_title", "postgresql"]]))
    add(q("edges", ["extract", [["function", "count"], "relationship"], ["group_by", "relationship"]]))
    # resources
    add(q("resources", ["and", ["=", "type", "Class"], ["=", "title", "Apache"]]))
    add(q("resources", ["=", "type", "Nagios_host"]))
    add(q("resources", ["and", ["=", "type", "Nagios_host"], ["=", "exported", True], ["not", ["=", "certname", W1]]]))
    add(
        q(
            "resources",
            ["and", ["=", "type", "Nagios_host"], ["=", "exported", True], ["=", ["parameter", "use"], "db-host"]],
        )
    )
    add(q("resources", ["=", "tag", "postgresql"]))
    add(q("resources", ["=", "tag", "ROLE::DB"]))
    add(q("resources", ["and", ["=", "type", "Package"], ["=", "parameters.ensure", "15"]]))
    add(q("resources", ["and", ["=", "type", "User"], ["=", ["parameter", "uid"], 1001]]))
    add(q("resources", ["and", ["=", "type", "Service"], ["=", ["parameter", "enable"], True]]))
    add(q("resources", ["and", ["=", "file", "/m/base/init.pp"], [">", "line", 12]]))
    add(q("resources", ["and", ["=", "certname", DB1], ["<", "line", 5]]))
    add(q("resources", ["and", ["=", "certname", C1], ["~", "title", "^/etc/"]]))
    add(q("resources", ["and", ["=", "type", "File"], ["null?", "file", True]]))
    add(q("resources", ["extract", [["function", "count"]], ["=", "environment", "production"]]))
    add(q("resources", ["extract", [["function", "count"], "type"], ["group_by", "type"]]))
    add(
        q(
            "resources",
            [
                "extract",
                ["certname"],
                ["and", ["=", "type", "Class"], ["=", "title", "Postgresql"], ["=", "environment", "production"]],
            ],
        )
    )
    add(
        q(
            "resources",
            ["extract", ["certname", "title"], ["=", "type", "Class"]],
            order_by=[{"field": "certname"}, {"field": "title"}],
            limit=7,
        )
    )
    add(q("resources", ["and", ["=", "type", "Class"], ["subquery", "nodes", ["=", "latest_report_status", "failed"]]]))
    add(q("resources/Class"))
    add(q("resources/Class/Haproxy"))
    add(q("resources/File//etc/cron.d/backup"))
    add(q("resources/Service", ["=", "environment", "staging"]))
    # reports
    add(q("reports", ["=", "certname", C1]))
    add(q("reports", ["=", "latest_report?", True]))
    add(q("reports", ["=", "latest_report?", False]))
    add(q("reports", ["and", ["=", "status", "changed"], ["=", "noop", False]]))
    add(q("reports", ["and", ["=", "noop", True], ["=", "noop_pending", True]]))
    add(q("reports", ["=", "environment", "development"]))
    add(q("reports", ["=", "code_id", "code-a1"]))
    add(q("reports", [">=", "producer_timestamp", "2026-11-21T00:00:00.000Z"]))
    add(q("reports", ["and", [">=", "end_time", "2026-11-20T12:00:00Z"], ["<=", "end_time", "2026-11-20T12:05:00Z"]]))
    add(
        q(
            "reports",
            [
                "or",
                ["~", "certname", "lb"],
                ["~", "puppet_version", "^6"],
                ["~", "configuration_version", "1700086411"],
            ],
        )
    )
    add(
        q(
            "reports",
            [
                "extract",
                [["function", "count"], "status"],
                [
                    "and",
                    [">=", "producer_timestamp", "2026-11-21T00:00:00.000000Z"],
                    ["<", "producer_timestamp", "2026-11-22T00:00:00.000000Z"],
                ],
                ["group_by", "status"],
            ],
        )
    )
    add(
        q(
            "reports",
            [
                "extract",
                [["function", "count"], "status"],
                [
                    "and",
                    [">=", "producer_timestamp", "2026-11-20T00:00:00.000000Z"],
                    ["<", "producer_timestamp", "2026-11-21T00:00:00.000000Z"],
                    ["=", "certname", W1],
                ],
                ["group_by", "status"],
            ],
        )
    )
    add(q("reports", ["extract", ["certname", "status", "configuration_version"], ["=", "latest_report?", True]]))
    add(
        q(
            "reports",
            ["=", "environment", "production"],
            order_by=[{"field": "end_time", "order": "desc"}],
            limit=5,
            include_total="true",
        )
    )
    add(q("reports", None, order_by=[{"field": "certname"}, {"field": "end_time"}], limit=4, offset=4))
    add(
        q(
            "reports",
            [
                "and",
                ["=", "environment", "production"],
                ["=", "certname", "mon-01.example.com"],
                ["or", ["=", "hash", "x"], ["=", "configuration_version", "1700086408"]],
            ],
        )
    )
    add(q("reports", ["=", "type", "any"]))
    add(
        q(
            "reports",
            [
                "extract",
                [["function", "to_string", "producer_timestamp", "YYYY-MM-DD"], ["function", "count"]],
                ["group_by", ["function", "to_string", "producer_timestamp", "YYYY-MM-DD"]],
            ],
        )
    )
    # events
    add(q("events", ["=", "status", "failure"]))
    add(q("events", ["=", "status", "skipped"]))
    add(q("events", ["and", ["=", "latest_report?", True], ["=", "status", "noop"]]))
    add(q("events", ["=", "resource_type", "Service"]))
    add(q("events", ["=", "containing_class", "Base"]))
    add(q("events", ["and", ["=", "certname", "web-03.example.com"], ["=", "latest_report?", True]]))
    add(q("events", ["~", "message", "failed"]))
    add(q("events", ["extract", [["function", "count"], "status"], ["group_by", "status"]]))
    add(q("events", ["and", ["=", "resource_title", "/etc/motd"], ["=", "environment", "staging"]]))
    # event counts
    lr = ["=", "latest_report?", True]
    add(q("event-counts", lr, summarize_by="certname"))
    add(q("event-counts", lr, summarize_by="resource"))
    add(q("event-counts", lr, summarize_by="containing_class"))
    add(q("event-counts", lr, summarize_by="certname", count_by="certname"))
    add(q("event-counts", lr, summarize_by="resource", counts_filter=[">", "failures", 0]))
    add(q("event-counts", ["=", "environment", "production"], summarize_by="certname"))
    add(q("aggregate-event-counts", lr, summarize_by="certname"))
    add(q("aggregate-event-counts", lr, summarize_by="resource"))
    add(q("aggregate-event-counts", ["=", "status", "failure"], summarize_by="containing_class"))
    # packages
    add(q("packages"))
    add(q("packages", ["=", "provider", "yum"]))
    add(q("package-inventory", ["=", "package_name", "postgresql"]))
    add(q("package-inventory", ["and", ["=", "package_name", "bash"], ["=", "provider", "apt"]]))
    add(q("package-inventory/" + DB1))
    # PQL on the root endpoint
    add(pql("nodes { }"))
    add(pql("nodes[certname] { latest_report_status = 'failed' }"))
    add(pql("nodes[certname] { certname ~ 'web' and catalog_environment = 'production' }"))
    add(pql("nodes[certname] { !(catalog_environment = 'production') }"))
    add(pql("nodes[certname, report_environment] { certname != 'web-01.example.com' and certname ~ 'web' }"))
    add(pql("nodes[certname] { deactivated is not null and node_state = 'any' }"))
    add(pql("nodes[certname] { resources { type = 'Class' and title = 'Apache' } }"))
    add(pql("nodes[certname] { facts { name = 'role' and value = 'db' } }"))
    add(pql("nodes[certname] { certname in resources[certname] { type = 'Class' and title = 'Haproxy' } }"))
    add(pql("nodes[certname] { certname in inventory[certname] { facts.os.family = 'RedHat' } }"))
    add(pql("nodes[count()] { catalog_environment = 'staging' }"))
    add(pql("nodes[latest_report_status, count()] { group by latest_report_status }"))
    add(pql("nodes[certname] { order by certname desc limit 3 }"))
    add(pql("nodes[certname] { order by certname limit 2 offset 4 }"))
    add(pql("facts[certname, value] { name = 'memorysize_mb' and value >= 4096 }"))
    add(pql("facts[name, count()] { group by name }"))
    add(pql("facts[value, count()] { name = 'osfamily' group by value }"))
    add(pql("fact_contents[certname, value] { path = ['os', 'release', 'full'] }"))
    add(pql("fact_contents[certname, path, value] { path ~> ['networking', 'interfaces', '.*', 'ip'] }"))
    add(pql("fact_paths[path, type] { path ~> ['processors', '.*'] }"))
    add(pql("inventory[certname, facts.os.family] { facts.is_virtual = true }"))
    add(pql("inventory[certname] { trusted.extensions.pp_role = 'web' and facts.os.family = 'Debian' }"))
    add(pql("resources[certname, title] { type = 'Class' and title ~ '^Role' }"))
    add(pql("resources[certname] { type = 'Nagios_host' and exported = true and parameters.use = 'generic-host' }"))
    add(pql("resources[type, count()] { certname = 'db-01.example.com' group by type }"))
    add(pql("resources { type = 'Package' and title = 'nginx' }"))
    add(pql("catalogs[certname, code_id] { environment = 'production' }"))
    add(pql("edges[source_title, target_title] { relationship = 'before' }"))
    add(pql("reports[certname, status] { latest_report? = true and status = 'failed' }"))
    add(pql("reports[status, count()] { group by status }"))
    add(pql("reports[certname] { latest_report? = true and noop = true }"))
    add(pql("events[certname, resource_title, status] { status in ['failure', 'skipped'] }"))
    add(pql("events[certname] { latest_report? = true and resource_type = 'File' }"))
    add(pql("environments { }"))
    add(pql("environments[name] { name ~ 'prod' }"))
    add(pql("packages[package_name, version] { provider = 'yum' }"))
    add(pql("package_inventory[certname, version] { package_name = 'postgresql' }"))
    add(pql("factsets[certname] { environment = 'development' }"))
    add(q(V4, ["from", "nodes", ["=", "certname", W1]]))
    add(
        q(
            V4,
            [
                "from",
                "facts",
                ["extract", ["certname", "value"], ["=", "name", "role"]],
                ["order_by", [["certname", "desc"]]],
                ["limit", 3],
            ],
        )
    )
    add(q(V4, ["from", "resources", ["extract", [["function", "count"]], ["=", "type", "Class"]]]))
    add(
        q(
            V4,
            [
                "from",
                "nodes",
                [
                    "extract",
                    ["certname"],
                    ["in", "certname", ["from", "events", ["extract", ["certname"], ["=", "status", "failure"]]]],
                ],
            ],
        )
    )
    out.extend(puppetdb7_queries())
    return out


def puppetdb7_queries() -> list[dict]:
    """PuppetDB 7's query options and experimental entities: distinct_resources,
    include_facts_expiration, catalog-inputs / catalog-input-contents, pretty, explain's errors."""
    out: list[dict] = []
    add = out.append
    times = {"distinct_start_time": "2026-11-19T00:00:00Z", "distinct_end_time": "2026-11-23T00:00:00Z"}
    win = {"distinct_resources": "true", **times}
    first_day = dict(win, distinct_start_time="2026-11-20T00:00:00Z", distinct_end_time="2026-11-20T23:59:59Z")
    add(q("events", None, **win))
    add(q("events", ["=", "certname", "web-03.example.com"], **win))
    add(q("events", ["=", "status", "failure"], **win))
    add(q("events", ["=", "latest_report?", True], **win))
    add(q("events", ["=", "latest_report?", False], **win))
    add(q("events", ["and", ["=", "latest_report?", True], ["=", "resource_type", "File"]], **win))
    add(q("events", ["=", "certname", W1], **first_day))
    add(q("events", ["=", "latest_report?", True], **first_day))
    add(q("events", None, distinct_resources="false", **times))
    add(q("environments/staging/events", None, **win))
    add(q("event-counts", None, summarize_by="certname", **win))
    add(q("event-counts", None, summarize_by="resource", **win))
    add(q("event-counts", ["=", "environment", "production"], summarize_by="containing_class", **win))
    add(q("event-counts", None, summarize_by="certname", counts_filter=[">", "successes", 1], **win))
    add(q("aggregate-event-counts", None, summarize_by="certname,resource", **win))
    add(q("aggregate-event-counts", ["=", "status", "success"], summarize_by="certname", **win))
    add(q("events", None, distinct_resources="true"))
    add(q("events", None, **times))
    add(q("events", None, distinct_resources="true", distinct_start_time="x", distinct_end_time="2026-11-23"))
    add(q("nodes", None, include_facts_expiration="true"))
    add(q("nodes", ["=", "expires_facts", False], include_facts_expiration="true"))
    add(q("nodes", ["null?", "expires_facts_updated", False], include_facts_expiration="true"))
    add(q("nodes/build-01.example.com", None, include_facts_expiration="true"))
    add(q("nodes", None, include_facts_expiration="true", order_by=[{"field": "expires_facts_updated"}], limit=2))
    add(q(V4, ["from", "nodes", ["=", "certname", "mon-01.example.com"]], include_facts_expiration="true"))
    add(pql("nodes[certname, expires_facts] { expires_facts = false }", include_facts_expiration="true"))
    add(q("catalog-inputs"))
    add(q("catalog-inputs", ["=", "certname", DB1]))
    add(q("catalog-inputs", ["=", "inputs", "apache::port"]))
    add(q("catalog-inputs", ["=", "inputs", "hiera"]))
    add(q("catalog-inputs", ["~", "inputs", "^postgresql"]))
    add(q("catalog-inputs", [">", "producer_timestamp", "2026-11-21T12:01:00Z"]))
    add(q("catalog-inputs", ["=", "node_state", "any"]))
    add(q("catalog-inputs", None, order_by=[{"field": "producer_timestamp", "order": "desc"}], limit=1))
    add(q("catalog-inputs", ["extract", ["certname", "catalog_uuid"], ["=", "certname", W1]]))
    add(q(V4, ["from", "catalog_inputs", ["=", "inputs", "ntp::servers"]]))
    add(q("nodes", ["subquery", "catalog_inputs", ["=", "inputs", "postgresql::version"]]))
    add(q("catalog-input-contents", ["=", "name", "ntp::servers"]))
    add(q("catalog-input-contents", ["~", "name", "apache"]))
    add(q("catalog-input-contents", ["extract", [["function", "count"], "name"], ["group_by", "name"]]))
    add(q("nodes", ["=", "certname", W1], pretty="true"))
    add(q("nodes", None, explain="yes"))
    return out


def _sort_key(value):
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def normalise(value, entity: str = "", ordered: bool = False):
    """Drop volatile keys, sort unordered lists (and tags), recursively."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in VOLATILE or f"{k}@{entity}" in VOLATILE:
                continue
            if k == "tags" and isinstance(v, list):
                out[k] = sorted(v)
            elif isinstance(v, dict) and set(v) == {"href", "data"}:
                out[k] = {"href": v["href"], "data": normalise(v["data"], k)}
            else:
                out[k] = normalise(v, entity, True) if isinstance(v, dict | list) else v
        return out
    if isinstance(value, list):
        items = [normalise(v, entity) for v in value]
        return items if ordered else sorted(items, key=_sort_key)
    return value


ENTITY_SEGMENTS = {"catalogs", "factsets", "reports", "events", "facts", "resources", "edges"}


def entity_of(case: dict) -> str:
    parts = case["path"][len(V4) :].strip("/").split("/")
    if len(parts) == 3 and parts[0] in ("producers", "environments") and parts[2] in ENTITY_SEGMENTS:
        return parts[2]
    return parts[0].replace("-", "_")


def is_ordered(case: dict) -> bool:
    params = case["params"]
    text = params.get("query", "")
    return "order_by" in params or " order by " in text or '"order_by"' in text


def comparable(case: dict, body):
    return normalise(body, entity_of(case), ordered=is_ordered(case))


def record(puppetdb_url: str | None, client) -> dict:
    """Run every query against Stagehand (``client``: a Django test client over a database holding
    the fleet) and, if given, a real PuppetDB holding the same commands; write the corpus file."""
    import requests

    cases = []
    agree = compared = 0
    for i, case in enumerate(queries()):
        ours = client.get(case["path"], case["params"])
        entry = {"id": i, **case, "status": ours.status_code}
        body = ours.json() if ours.status_code == 200 else ours.content.decode()
        entry["expected"] = comparable(case, body) if ours.status_code == 200 else body
        if puppetdb_url:
            theirs = requests.get(puppetdb_url + case["path"], params=case["params"], timeout=60, allow_redirects=False)
            tbody = theirs.json() if theirs.status_code == 200 else theirs.text
            tcomp = comparable(case, tbody) if theirs.status_code == 200 else tbody
            compared += 1
            same = theirs.status_code == ours.status_code and (ours.status_code != 200 or tcomp == entry["expected"])
            agree += same
            entry["puppetdb_agrees"] = same
            if not same:
                entry["puppetdb_status"] = theirs.status_code
                entry["puppetdb"] = tcomp
        cases.append(entry)
    CORPUS_FILE.parent.mkdir(parents=True, exist_ok=True)
    summary = {"cases": len(cases), "compared_with_puppetdb": compared, "agree": agree}
    CORPUS_FILE.write_text(json.dumps({"summary": summary, "cases": cases}, indent=1, sort_keys=True) + "\n")
    return summary


if __name__ == "__main__":  # pragma: no cover - a developer tool
    # Usage: DJANGO_SETTINGS_MODULE=config.settings.test python -m tests.support.corpus [PUPPETDB_URL]
    # against a database that holds exactly the fixture fleet (fleet.clear(); fleet.load()).
    import sys

    import django

    django.setup()
    from django.test import Client

    from tests.support import fleet

    fleet.clear()
    fleet.load()
    print(record(sys.argv[1] if len(sys.argv) > 1 else None, Client(HTTP_HOST="127.0.0.1")))
