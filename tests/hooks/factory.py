"""Store reports, catalogs and node changes the way the ingest pipeline does — rows, denormalised
node columns and the domain signals inside one transaction — for tests of the hooks that do not
need the whole ingest path."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

from django.db import transaction
from django.utils import timezone

from ingest.models import Command, CommandState
from inventory import signals
from inventory.models import Catalog, Environment, Node, ResourceSet
from reports import partitions
from reports.models import Report, ResourceEvent

_counter = itertools.count(1)


def _sha(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def store_report(
    certname: str,
    *,
    status: str = "unchanged",
    environment: str = "production",
    code_id: str | None = None,
    configuration_version: str = "",
    catalog_uuid: str | None = None,
    producer_timestamp: dt.datetime | None = None,
    noop: bool = False,
    noop_pending: bool | None = None,
    failures: list[tuple[str, str, str]] = (),
    error_logs: list[str] = (),
) -> Report:
    ts = producer_timestamp or timezone.now()
    partitions.ensure_for(ts)
    n = next(_counter)
    with transaction.atomic():
        env, _ = Environment.objects.get_or_create(name=environment)
        node, _ = Node.objects.get_or_create(certname=certname)
        previous = node.latest_report_status
        logs = [
            {
                "level": "err",
                "message": m,
                "source": "Puppet",
                "tags": ["err"],
                "time": ts.isoformat(),
                "file": None,
                "line": None,
            }
            for m in error_logs
        ]
        logs.append(
            {
                "level": "notice",
                "message": "Applied catalog",
                "source": "Puppet",
                "tags": [],
                "time": ts.isoformat(),
                "file": None,
                "line": None,
            }
        )
        report = Report.objects.create(
            hash=_sha(certname, ts.isoformat(), n),
            node=node,
            certname=certname,
            environment=env,
            transaction_uuid=_sha("txn", n)[:32],
            catalog_uuid=catalog_uuid,
            code_id=code_id,
            configuration_version=configuration_version,
            puppet_version="7.23.0",
            report_format=12,
            start_time=ts - dt.timedelta(seconds=20),
            end_time=ts,
            producer_timestamp=ts,
            receive_time=timezone.now(),
            status=status,
            noop=noop,
            noop_pending=noop_pending,
            resources_total=10,
            resources_changed=1 if status == "changed" else 0,
            resources_failed=len(failures),
            run_duration=12.5,
            logs=logs,
        )
        for rtype, title, message in failures:
            ResourceEvent.objects.create(
                report=report,
                report_timestamp=ts,
                node=node,
                certname=certname,
                environment=env,
                status="failure",
                timestamp=ts,
                resource_type=rtype,
                resource_title=title,
                property="ensure",
                message=message,
            )
        node.deactivated = None
        node.expired = None
        node.report_timestamp = ts
        node.report_environment = env
        node.latest_report_id = report.id
        node.latest_report_hash = report.hash
        node.latest_report_status = status
        node.latest_report_noop = noop
        node.latest_report_noop_pending = noop_pending
        node.latest_report_code_id = code_id
        node.latest_report_configuration_version = configuration_version
        node.latest_report_transaction_uuid = report.transaction_uuid
        node.save()
        signals.report_stored.send(sender=Report, report=report, node=node, previous_status=previous)
        if previous != status:
            signals.node_status_changed.send(
                sender=Node, node=node, previous_status=previous, status=status, report=report
            )
    return report


def store_catalog(certname: str, *, code_id: str, environment: str = "production", when: dt.datetime | None = None):
    """A new current catalog version (closing the previous one), as ingest stores them."""
    when = when or timezone.now()
    with transaction.atomic():
        env, _ = Environment.objects.get_or_create(name=environment)
        node, _ = Node.objects.get_or_create(certname=certname)
        rset, _ = ResourceSet.objects.get_or_create(hash=b"empty-set", defaults={"resource_ids": [], "size": 0})
        Catalog.objects.filter(node=node, valid_to__isnull=True).update(valid_to=when)
        catalog = Catalog.objects.create(
            node=node,
            hash=_sha("catalog", certname, code_id),
            catalog_uuid=_sha("uuid", certname, code_id)[:36],
            code_id=code_id,
            version=code_id,
            environment=env,
            producer_timestamp=when,
            first_producer_timestamp=when,
            received=when,
            resource_set=rset,
            valid_from=when,
        )
        node.catalog_timestamp = when
        node.catalog_environment = env
        node.latest_catalog = catalog
        node.latest_catalog_code_id = code_id
        node.save()
    return catalog


def deactivate(certname: str, reason: str = "deactivated") -> Node:
    with transaction.atomic():
        node = Node.objects.get(certname=certname)
        node.deactivated = timezone.now()
        node.save(update_fields=["deactivated"])
        signals.node_deactivated.send(sender=Node, node=node, reason=reason)
    return node


def dead_command(certname: str, error: str = "boom") -> Command:
    with transaction.atomic():
        command = Command.objects.create(
            command="store_report",
            version=8,
            certname=certname,
            payload=b"{}",
            state=CommandState.DEAD,
            attempts=5,
            last_error=error,
        )
        signals.command_dead.send(sender=Command, command=command)
    return command
