"""Where is (or was) something applied: catalogs containing a class or resource, or with a given
code_id / catalog_uuid, current now or at a past instant. Index lookups only: resource (type,
title) → resource ids → resource sets containing them (GIN on ``resource_ids``) → catalog rows
valid at the instant (``catalog_set_idx``) → nodes."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from inventory.models import Catalog, Resource


class WhereError(ValueError):
    pass


def class_title(name: str) -> str:
    """Puppet's title of a class resource: ``nginx::config`` → ``Nginx::Config``."""
    return "::".join(part[:1].upper() + part[1:] for part in name.strip().strip(":").split("::"))


def resource_type_name(name: str) -> str:
    return "::".join(part[:1].upper() + part[1:] for part in name.strip().split("::"))


def catalogs(
    *,
    klass: str = "",
    type_: str = "",
    title: str = "",
    code_id: str = "",
    catalog_uuid: str = "",
    environment_id: int | None = None,
    at: dt.datetime | None = None,
) -> tuple[QuerySet, list[int]]:
    """Catalog versions matching every given criterion, valid at ``at`` (now when None).

    Returns (catalogs, resource ids looked for)."""
    if not any([klass, type_ and title, code_id, catalog_uuid]):
        raise WhereError("give a class, a resource type and title, a code_id or a catalog_uuid")
    qs = Catalog.objects.all()
    if at is None:
        qs = qs.filter(valid_to__isnull=True)
    else:
        qs = qs.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at), valid_from__lte=at)
    if environment_id:
        qs = qs.filter(environment_id=environment_id)
    if code_id:
        qs = qs.filter(code_id=code_id)
    if catalog_uuid:
        qs = qs.filter(catalog_uuid=catalog_uuid)
    resource_ids: list[int] = []
    if klass or (type_ and title):
        rtype, rtitle = ("Class", class_title(klass)) if klass else (resource_type_name(type_), title)
        resource_ids = list(Resource.objects.filter(type=rtype, title=rtitle).values_list("id", flat=True)[:1000])
        if not resource_ids:
            return qs.none(), []
        qs = qs.filter(
            resource_set_id__in=RawSQL(
                "SELECT id FROM inventory_resourceset WHERE resource_ids && %s::bigint[]", [resource_ids]
            )
        )
    return qs, resource_ids
