"""Test data for the web UI, stored the way the storage contract says ingest stores it
(``inventory/models.py``, ``reports/models.py``): content-addressed resources and resource sets,
catalog history rows with valid_from/valid_to, day-partitioned reports with events, factsets with
fact paths, and the node's denormalised latest_* columns kept in step."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

from django.utils import timezone

from inventory.models import Catalog, EdgeSet, Environment, FactPath, Factset, Node, Producer, Resource, ResourceSet
from reports import partitions
from reports.models import Report, ResourceEvent


def _sha1(value) -> bytes:
    return hashlib.sha1(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).digest()


def env(name: str = "production") -> Environment:
    return Environment.objects.get_or_create(name=name)[0]


def producer(name: str = "puppet.example.com") -> Producer:
    return Producer.objects.get_or_create(name=name)[0]


def node(certname: str, **fields) -> Node:
    return Node.objects.create(certname=certname, **fields)


def resource(type_: str, title: str, parameters: dict | None = None, tags=None, file=None, line=None) -> Resource:
    parameters = parameters or {}
    tags = sorted(tags if tags is not None else [type_.lower(), title.lower()])
    content = [type_, title, parameters, tags, False, file, line]
    digest = _sha1(content)
    found = Resource.objects.filter(hash=digest).first()
    if found:
        return found
    return Resource.objects.create(
        hash=digest,
        resource_hash=hashlib.sha1(json.dumps([type_, title, parameters], sort_keys=True).encode()).hexdigest(),
        type=type_,
        title=title,
        parameters=parameters,
        tags=tags,
        file=file,
        line=line,
    )


def resource_set(resources: list[Resource]) -> ResourceSet:
    ids = sorted({r.id for r in resources})
    digest = _sha1(sorted(r.hash.hex() if isinstance(r.hash, bytes) else bytes(r.hash).hex() for r in resources))
    found = ResourceSet.objects.filter(hash=digest).first()
    return found or ResourceSet.objects.create(hash=digest, resource_ids=ids, size=len(ids))


def edge_set(edges: list[list[str]]) -> EdgeSet:
    edges = sorted(edges)
    digest = _sha1(edges)
    found = EdgeSet.objects.filter(hash=digest).first()
    return found or EdgeSet.objects.create(hash=digest, edges=edges, size=len(edges))


def catalog(
    target: Node,
    resources: list[Resource],
    at: dt.datetime,
    *,
    environment: Environment | None = None,
    code_id: str | None = None,
    edges: list[list[str]] | None = None,
) -> Catalog:
    """Store a new current catalog version for ``target`` valid from ``at`` (closing the previous)."""
    environment = environment or env()
    Catalog.objects.filter(node=target, valid_to__isnull=True).update(valid_to=at)
    rset = resource_set(resources)
    cat = Catalog.objects.create(
        node=target,
        hash=hashlib.sha1(f"{target.certname}{rset.id}{code_id}".encode()).hexdigest(),
        catalog_uuid=str(uuid.uuid4()),
        transaction_uuid=str(uuid.uuid4()),
        code_id=code_id,
        version=str(int(at.timestamp())),
        environment=environment,
        producer=producer(),
        producer_timestamp=at,
        first_producer_timestamp=at,
        received=at,
        resource_set=rset,
        edge_set=edge_set(edges or []),
        valid_from=at,
    )
    Node.objects.filter(pk=target.pk).update(
        latest_catalog=cat,
        latest_catalog_code_id=code_id,
        catalog_timestamp=at,
        catalog_producer_timestamp=at,
        catalog_environment=environment,
    )
    return cat


def report(
    target: Node,
    at: dt.datetime,
    status: str = "unchanged",
    *,
    environment: Environment | None = None,
    noop: bool = False,
    noop_pending: bool = False,
    duration: float = 12.5,
    events: list[dict] | None = None,
    logs: list[dict] | None = None,
    code_id: str | None = None,
    update_node: bool = True,
) -> Report:
    """Store a report (and its events) in its day partition; make it the node's latest if newer."""
    environment = environment or env()
    partitions.ensure_for(at)
    events = events or []
    failures = sum(1 for e in events if e.get("status") == "failure")
    successes = sum(1 for e in events if e.get("status") == "success")
    noops = sum(1 for e in events if e.get("status") == "noop")
    rep = Report.objects.create(
        hash=hashlib.sha1(f"{target.certname}{at.isoformat()}{uuid.uuid4()}".encode()).hexdigest(),
        node=target,
        certname=target.certname,
        environment=environment,
        producer=producer(),
        transaction_uuid=str(uuid.uuid4()),
        catalog_uuid=str(uuid.uuid4()),
        code_id=code_id,
        configuration_version=str(int(at.timestamp())),
        puppet_version="7.23.0",
        report_format=12,
        start_time=at - dt.timedelta(seconds=duration),
        end_time=at,
        producer_timestamp=at,
        receive_time=at + dt.timedelta(seconds=1),
        status=status,
        noop=noop,
        noop_pending=noop_pending,
        corrective_change=False,
        cached_catalog_status="not_used",
        resources_total=120,
        resources_changed=successes,
        resources_failed=failures,
        resources_out_of_sync=successes + failures + noops,
        resources_skipped=0,
        events_success=successes,
        events_failure=failures,
        events_noop=noops,
        run_duration=duration,
        metrics=[
            {"category": "time", "name": "total", "value": duration},
            {"category": "time", "name": "config_retrieval", "value": duration * 0.4},
            {"category": "time", "name": "file", "value": duration * 0.3},
            {"category": "time", "name": "package", "value": duration * 0.2},
            {"category": "resources", "name": "total", "value": 120},
            {"category": "resources", "name": "changed", "value": successes},
            {"category": "resources", "name": "failed", "value": failures},
            {"category": "events", "name": "success", "value": successes},
            {"category": "events", "name": "failure", "value": failures},
        ],
        logs=logs
        if logs is not None
        else [
            {
                "level": "notice",
                "message": "Applied catalog in 3.2 seconds",
                "source": "Puppet",
                "tags": ["notice"],
                "time": at.isoformat(),
                "file": None,
                "line": None,
            }
        ],
    )
    for event in events:
        ResourceEvent.objects.create(
            report=rep,
            report_timestamp=at,
            node=target,
            certname=target.certname,
            environment=environment,
            status=event.get("status", "success"),
            timestamp=at,
            resource_type=event.get("resource_type", "File"),
            resource_title=event.get("resource_title", "/etc/motd"),
            property=event.get("property", "content"),
            name=event.get("property", "content"),
            old_value=event.get("old_value", "{md5}aaa"),
            new_value=event.get("new_value", "{md5}bbb"),
            message=event.get("message", "content changed"),
            containing_class=event.get("containing_class", "Motd"),
            containment_path=["Stage[main]", event.get("containing_class", "Motd")],
        )
    if update_node:
        Node.objects.filter(pk=target.pk).filter(
            **{"report_timestamp__lt": at} if target.report_timestamp else {}
        ).update(
            report_timestamp=at,
            report_environment=environment,
            latest_report_id=rep.id,
            latest_report_hash=rep.hash,
            latest_report_status=status,
            latest_report_noop=noop,
            latest_report_noop_pending=noop_pending,
            latest_report_code_id=code_id,
            latest_report_transaction_uuid=rep.transaction_uuid,
            cached_catalog_status="not_used",
        )
        target.refresh_from_db()
    return rep


def _paths(value, prefix=()):
    if isinstance(value, dict):
        yield prefix, "hash"
        for key, item in value.items():
            yield from _paths(item, (*prefix, str(key)))
    elif isinstance(value, list):
        yield prefix, "array"
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))
    else:
        kind = {bool: "boolean", int: "integer", float: "float", str: "string", type(None): "null"}[type(value)]
        yield prefix, kind


def facts(target: Node, values: dict, at: dt.datetime | None = None, environment: Environment | None = None) -> Factset:
    at = at or timezone.now()
    environment = environment or env()
    factset, _ = Factset.objects.update_or_create(
        node=target,
        defaults=dict(
            environment=environment,
            producer=producer(),
            timestamp=at,
            producer_timestamp=at,
            hash=hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest(),
            stable={k: v for k, v in values.items() if k not in ("uptime_seconds", "memory")},
            volatile={k: v for k, v in values.items() if k in ("uptime_seconds", "memory")},
        ),
    )
    for path, kind in _paths(values):
        if not path:
            continue
        FactPath.objects.get_or_create(
            path_key=json.dumps(list(path)),
            value_type=kind,
            defaults=dict(path=[str(p) for p in path], name=str(path[0]), depth=len(path) - 1, last_seen=at),
        )
    Node.objects.filter(pk=target.pk).update(
        facts_timestamp=at, facts_producer_timestamp=at, facts_environment=environment
    )
    return factset


def base_facts(certname: str, family: str = "Debian", release: str = "12") -> dict:
    return {
        "os": {"family": family, "name": family, "release": {"major": release, "full": f"{release}.4"}},
        "kernel": "Linux",
        "fqdn": certname,
        "networking": {"hostname": certname.split(".")[0], "interfaces": {"eth0": {"ip": "10.0.0.5"}}},
        "processors": {"count": 4, "models": ["Intel Xeon", "Intel Xeon"]},
        "is_virtual": True,
        "uptime_seconds": 3600,
        "memory": {"system": {"total_bytes": 8 * 2**30}},
    }


def small_fleet(now: dt.datetime | None = None) -> dict:
    """A handful of nodes covering every status, with catalog history, reports, events and facts.

    Returns a dict of the interesting objects (nodes by certname, catalogs, reports)."""
    now = now or timezone.now()
    prod, staging = env("production"), env("staging")
    base = [
        resource("Class", "Settings", tags=["class", "settings"]),
        resource("Class", "Main", tags=["class"]),
        resource("Class", "Ntp", tags=["class", "ntp"]),
        resource("Package", "ntp", {"ensure": "installed"}, tags=["package", "ntp", "class"]),
        resource("Service", "ntp", {"ensure": "running", "enable": True}, tags=["service", "ntp", "class"]),
    ]
    motd_v1 = resource("File", "/etc/motd", {"ensure": "file", "content": "hello v1"}, tags=["file", "motd"])
    motd_v2 = resource(
        "File", "/etc/motd", {"ensure": "file", "content": "hello v2", "mode": "0644"}, tags=["file", "motd"]
    )
    nginx = resource("Class", "Nginx", tags=["class", "nginx"])
    nginx_pkg = resource("Package", "nginx", {"ensure": "1.24"}, tags=["package", "nginx", "class"])
    old_cron = resource("Cron", "cleanup", {"command": "/usr/bin/cleanup", "hour": 3}, tags=["cron", "class"])
    out = {"nodes": {}, "catalogs": {}, "reports": {}}
    specs = [
        ("web01.example.com", prod, "failed", False, 10),
        ("web02.example.com", prod, "changed", False, 20),
        ("db01.example.com", prod, "unchanged", False, 15),
        ("db02.example.com", staging, "unchanged", True, 25),
        ("app01.example.com", staging, "unchanged", False, 5),
    ]
    for certname, environment, status, noop_pending, minutes in specs:
        n = node(certname)
        facts(n, base_facts(certname, "RedHat" if certname.startswith("db02") else "Debian"), now, environment)
        first = catalog(
            n, [*base, motd_v1, old_cron], now - dt.timedelta(days=2), environment=environment, code_id="c0ffee1"
        )
        second = catalog(
            n,
            [*base, motd_v2, nginx, nginx_pkg],
            now - dt.timedelta(days=1),
            environment=environment,
            code_id="c0ffee2",
            edges=[["Class", "Nginx", "contains", "Package", "nginx"]],
        )
        out["catalogs"][certname] = [first, second]
        history = []
        for hours in (30, 20, 10, 5, 2):
            history.append(
                report(n, now - dt.timedelta(hours=hours), "unchanged", environment=environment, code_id="c0ffee2")
            )
        events = []
        logs = None
        if status == "failed":
            events = [
                {
                    "status": "failure",
                    "resource_type": "Service",
                    "resource_title": "nginx",
                    "property": "ensure",
                    "old_value": "stopped",
                    "new_value": "running",
                    "message": "Could not start Service[nginx]",
                    "containing_class": "Nginx",
                },
                {
                    "status": "success",
                    "resource_type": "File",
                    "resource_title": "/etc/motd",
                    "containing_class": "Motd",
                },
            ]
            logs = [
                {
                    "level": "notice",
                    "message": "Applied catalog in 4.1 seconds",
                    "source": "Puppet",
                    "tags": [],
                    "time": now.isoformat(),
                    "file": None,
                    "line": None,
                },
                {
                    "level": "err",
                    "message": "Could not start Service[nginx]: Execution of '/bin/systemctl start nginx' returned 1",
                    "source": "/Stage[main]/Nginx/Service[nginx]",
                    "tags": ["err"],
                    "time": now.isoformat(),
                    "file": "/etc/puppetlabs/code/environments/production/modules/nginx/manifests/init.pp",
                    "line": 12,
                },
                {
                    "level": "warning",
                    "message": "Deprecation: use of legacy facts",
                    "source": "Puppet",
                    "tags": [],
                    "time": now.isoformat(),
                    "file": None,
                    "line": None,
                },
            ]
        elif status == "changed":
            events = [
                {
                    "status": "success",
                    "resource_type": "File",
                    "resource_title": "/etc/motd",
                    "containing_class": "Motd",
                }
            ]
        elif noop_pending:
            events = [
                {"status": "noop", "resource_type": "File", "resource_title": "/etc/motd", "containing_class": "Motd"}
            ]
        last = report(
            n,
            now - dt.timedelta(minutes=minutes),
            status,
            environment=environment,
            noop=noop_pending,
            noop_pending=noop_pending,
            events=events,
            logs=logs,
            code_id="c0ffee2",
            duration=42.0 if status == "failed" else 12.5,
        )
        history.append(last)
        out["reports"][certname] = history
        out["nodes"][certname] = Node.objects.get(pk=n.pk)
    stale = node("old01.example.com")
    facts(stale, base_facts("old01.example.com"), now - dt.timedelta(days=3), prod)
    report(stale, now - dt.timedelta(days=3), "unchanged", environment=prod)
    out["nodes"]["old01.example.com"] = Node.objects.get(pk=stale.pk)
    gone = node("gone01.example.com", deactivated=now - dt.timedelta(days=1))
    out["nodes"]["gone01.example.com"] = gone
    return out
