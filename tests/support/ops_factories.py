"""Small factories for the ops tests (retention, archive): nodes with facts, catalogs and
reports stored the way the storage contract (inventory/models.py, reports/models.py) says."""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson
from django.utils import timezone

from inventory.models import Catalog, EdgeSet, Environment, Factset, Node, Resource, ResourceSet
from reports import partitions
from reports.models import Report, ResourceEvent


def sha1(*parts) -> bytes:
    return hashlib.sha1(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).digest()


def env(name: str = "production") -> Environment:
    return Environment.objects.get_or_create(name=name)[0]


def node(certname: str, *, age: dt.timedelta = dt.timedelta(0), **fields) -> Node:
    when = timezone.now() - age
    n = Node.objects.create(certname=certname, facts_timestamp=when, **fields)
    Node.objects.filter(pk=n.pk).update(created=when)
    n.refresh_from_db()
    return n


def facts(n: Node, values: dict, when: dt.datetime | None = None) -> Factset:
    when = when or timezone.now()
    return Factset.objects.create(
        node=n, environment=env(), timestamp=when, producer_timestamp=when, hash="h", stable=values
    )


def resource(type_: str, title: str, parameters: dict | None = None) -> Resource:
    parameters = parameters or {}
    r, _ = Resource.objects.get_or_create(
        hash=sha1(type_, title, parameters),
        defaults=dict(
            resource_hash=sha1(type_, title, parameters).hex(),
            type=type_,
            title=title,
            parameters=parameters,
            tags=[type_.lower()],
            file="/etc/puppet/site.pp",
            line=1,
        ),
    )
    return r


def resource_set(resources: list[Resource]) -> ResourceSet:
    ids = sorted(r.id for r in resources)
    rs, _ = ResourceSet.objects.get_or_create(hash=sha1(*ids), defaults=dict(resource_ids=ids, size=len(ids)))
    return rs


def edge_set(edges: list[list[str]]) -> EdgeSet:
    es, _ = EdgeSet.objects.get_or_create(hash=sha1(*edges), defaults=dict(edges=edges, size=len(edges)))
    return es


def catalog(
    n: Node, rs: ResourceSet, *, valid_from: dt.datetime, valid_to: dt.datetime | None = None, es=None, **fields
) -> Catalog:
    c = Catalog.objects.create(
        node=n,
        hash=sha1(n.certname, rs.id, str(valid_from)).hex(),
        version=fields.pop("version", "1"),
        environment=env(),
        producer_timestamp=valid_from,
        first_producer_timestamp=valid_from,
        received=valid_from,
        resource_set=rs,
        edge_set=es,
        valid_from=valid_from,
        valid_to=valid_to,
        **fields,
    )
    if valid_to is None:
        Node.objects.filter(pk=n.pk).update(
            latest_catalog=c,
            catalog_timestamp=valid_from,
            catalog_producer_timestamp=valid_from,
            catalog_environment=env(),
        )
    return c


def report(n: Node, when: dt.datetime, *, status: str = "unchanged", events: int = 0) -> Report:
    partitions.ensure_for(when)
    r = Report.objects.create(
        hash=sha1(n.certname, str(when)).hex(),
        node=n,
        certname=n.certname,
        environment=env(),
        configuration_version="1",
        puppet_version="7.23.0",
        report_format=12,
        start_time=when - dt.timedelta(seconds=5),
        end_time=when,
        producer_timestamp=when,
        receive_time=when,
        status=status,
        transaction_uuid=sha1(n.certname, str(when), "txn").hex()[:32],
    )
    for i in range(events):
        ResourceEvent.objects.create(
            report=r,
            report_timestamp=when,
            node=n,
            certname=n.certname,
            environment=env(),
            status="success",
            timestamp=when,
            resource_type="File",
            resource_title=f"/tmp/{i}",
            property="ensure",
            old_value="absent",
            new_value="file",
        )
    return r
